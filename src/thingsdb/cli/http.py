"""``thingsdb-cli -n http://host:9210 ...``: one-shot code and procedures
over a node's HTTP API (:mod:`thingsdb.http`), with the exit statuses of
the socket connection: no node answers (NO_CONNECTION), the credentials
are refused (NO_LOGIN), the request failed (FAILED).

The HTTP API has no session, so the login is checked with the request:
its refusal comes as the request's answer. The shell and ``migrate`` need
a socket connection and say so.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

from ..exceptions import (
    AuthError,
    CertificateError,
    ConnectError,
    ConnectionLostError,
    ProtocolError,
)
from .connect import (
    BAD_USAGE,
    FAILED,
    NEEDS_HTTPX,
    NO_CONNECTION,
    NO_LOGIN,
    CliError,
    ConnectionSettings,
    reason,
)

if TYPE_CHECKING:
    from ..http import AsyncClient


@contextlib.asynccontextmanager
async def http_client(settings: ConnectionSettings) -> AsyncIterator[AsyncClient]:
    """A client of the HTTP API at ``settings.host``, closed when the block
    ends; the block's errors become :class:`CliError`s (ThingsDB's own go
    up as they are, but for a refused login)."""
    try:
        from ..http import AsyncClient
    except ImportError:
        raise CliError(BAD_USAGE, NEEDS_HTTPX) from None
    auth = settings.auth[0] if len(settings.auth) == 1 else settings.auth
    client = AsyncClient(
        settings.host,
        auth=auth,
        ssl=settings.ssl,
        connect_timeout=settings.timeout,
    )
    try:
        with _errors(settings):
            yield client
    finally:
        await client.close_and_wait()


@contextlib.contextmanager
def _errors(settings: ConnectionSettings) -> Iterator[None]:
    from ..http import LOGIN_REFUSED

    where = settings.where
    try:
        yield
    except AuthError as exc:
        if exc.error_msg != LOGIN_REFUSED:
            raise  # raised by the code: ThingsDB's error, as any
        how = "--token" if settings.user is None else "--user and --password"
        raise CliError(NO_LOGIN, f"{where} refused the login; check {how}") from None
    except CertificateError as exc:
        raise CliError(
            NO_CONNECTION,
            f"the TLS certificate of {where} is not trusted "
            f"({exc.verify_message}); give its CA with --cafile FILE "
            "(or --no-verify, for a test node only)",
        ) from None
    except ConnectError as exc:
        raise CliError(
            NO_CONNECTION,
            f"no ThingsDB HTTP API answers at {where} ({reason(exc)}); check "
            "the URL and the node's http_api_port",
        ) from None
    except TimeoutError:
        raise CliError(
            FAILED, f"no answer within {settings.timeout:g} seconds (see --timeout)"
        ) from None
    except (ConnectionLostError, ProtocolError) as exc:
        raise CliError(FAILED, f"{where}: {exc}") from None
