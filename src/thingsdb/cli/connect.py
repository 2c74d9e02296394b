"""Connecting from the command line: a connected, logged-in client, and
what a request's failure says. The exit statuses are in :mod:`.status`, the
flags and their checked settings in :mod:`.flags` (with the environment in
:mod:`.env` and TLS in :mod:`.tls`); their names are here too, for the
commands that build on this one.

What other commands build on (``thingsdb-cli migrate`` and the like):

* :func:`make_parser` gives an argument parser whose errors are one line
  (a :class:`CliError` with :data:`BAD_USAGE`), and
  :func:`add_connection_flags` adds the node, port, credentials, TLS, scope
  and timeout flags with their ``THINGSDB_*`` environment variables;
* :func:`settings_from_args` checks them into a :class:`ConnectionSettings`
  (nothing is sent yet; a bad value is a CliError naming the flag);
  ``with connection_settings(args) as settings:`` (in :mod:`.local`) does
  the same and, with ``--local``, starts a node for the block first;
* ``async with connected_client(settings) as client:`` gives a client that
  is connected and logged in, or raises a CliError whose status says why
  (:data:`NO_CONNECTION`, :data:`NO_LOGIN`, :data:`BAD_USAGE`);
* :func:`request_errors` turns a request's timeout or lost connection into
  a CliError (:data:`FAILED`, or :data:`NO_CONNECTION` when nothing was
  sent).
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator

from ..client import Client
from ..exceptions import (
    AuthError,
    ConnectError,
    ConnectionLostError,
    NotConnectedError,
    ProtocolError,
    ThingsDBError,
)
from .flags import (
    _NO_NODE_HINT,
    LOCAL_HOST,
    NEEDS_HTTPX,
    CliParser,
    ConnectionSettings,
    add_connection_flags,
    connection_url,
    make_parser,
    pick_scope,
    settings_from_args,
    split_node,
)
from .status import (
    BAD_USAGE,
    BROKEN_PIPE,
    FAILED,
    INTERRUPTED,
    NO_CONNECTION,
    NO_LOGIN,
    OK,
    CliError,
    reason,
)

# -- connection settings -----------------------------------------------------


# -- connecting ----------------------------------------------------------------


async def _connect(client: Client, settings: ConnectionSettings) -> None:
    where, timeout = settings.where, settings.timeout
    try:
        await client.connect(settings.host, settings.port, timeout=timeout)
    except ImportError as exc:  # ws:// without the websockets extra
        raise CliError(BAD_USAGE, f"{where}: {exc}") from None
    except ssl.SSLCertVerificationError as exc:
        raise CliError(
            NO_CONNECTION,
            f"the TLS certificate of {where} is not trusted "
            f"({exc.verify_message}); give its CA with --cafile FILE "
            "(or --no-verify, for a test node only)",
        ) from None
    except (ConnectError, TimeoutError) as exc:  # refused, unreachable, TLS...
        hint = _NO_NODE_HINT
        if settings.ssl is not None:
            hint = "check that it serves TLS there (or leave out TLS)"
        raise CliError(
            NO_CONNECTION,
            f"no ThingsDB node answers at {where} ({reason(exc)}); {hint}",
        ) from None
    try:
        await client.authenticate(*settings.auth, timeout=timeout)
    except AuthError as exc:
        how = "--token" if settings.user is None else "--user and --password"
        raise CliError(
            NO_LOGIN, f"{where} refused the login ({exc}); check {how}"
        ) from None
    except ThingsDBError as exc:
        raise CliError(NO_LOGIN, f"{where} refused the login ({exc})") from None
    except OSError as exc:  # closed or no answer before the login was answered
        raise CliError(NO_CONNECTION, f"no login at {where}: {reason(exc)}") from None


@contextlib.asynccontextmanager
async def connected_client(
    settings: ConnectionSettings, *, auto_reconnect: bool = False
) -> AsyncIterator[Client]:
    """A client connected to ``settings``' node and logged in, closed when
    the block ends.

    Failing to get there raises :class:`CliError`: :data:`NO_CONNECTION`
    (no node answers, TLS failed, the connection closed during the login),
    :data:`NO_LOGIN` (the node refused the credentials) or
    :data:`BAD_USAGE` (a ``ws://`` node without the websockets extra).
    ``auto_reconnect`` is off by default: a one-shot command should fail,
    not wait, when the node goes away; the shell turns it on.
    """
    if settings.http:
        raise CliError(
            BAD_USAGE,
            f"{settings.where}: this needs a socket connection (host, host:port, "
            "ws://...); over an http:// or https:// node thingsdb-cli runs "
            "one-shot code and --run",
        )
    client = Client(auto_reconnect=auto_reconnect, ssl=settings.ssl)
    try:
        await _connect(client, settings)
        yield client
    finally:
        await client.close_and_wait()


@contextlib.contextmanager
def request_errors(where: str, timeout: float | None) -> Iterator[None]:
    """Errors of a request as :class:`CliError`s (ThingsDB's own errors
    pass through: :func:`run_command` prints them as they are)."""
    try:
        yield
    except ThingsDBError:
        raise
    except TimeoutError:
        raise CliError(
            FAILED, f"no answer within {timeout:g} seconds (see --timeout)"
        ) from None
    except NotConnectedError as exc:
        raise CliError(
            NO_CONNECTION, f"not sent: no connection to {where} ({exc})"
        ) from None
    except (ConnectionLostError, ProtocolError) as exc:
        raise CliError(
            FAILED,
            f"lost the connection to {where} before the answer ({reason(exc)}); "
            "the request may or may not have run",
        ) from None


__all__ = [
    "BAD_USAGE",
    "BROKEN_PIPE",
    "FAILED",
    "INTERRUPTED",
    "LOCAL_HOST",
    "NEEDS_HTTPX",
    "NO_CONNECTION",
    "NO_LOGIN",
    "OK",
    "CliError",
    "CliParser",
    "ConnectionSettings",
    "add_connection_flags",
    "connected_client",
    "connection_url",
    "make_parser",
    "pick_scope",
    "reason",
    "request_errors",
    "settings_from_args",
    "split_node",
]
