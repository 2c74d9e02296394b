"""What an HTTP client is made with, checked at once (nothing is sent until
the first request), and the arguments of ``query()`` and ``run()`` made
into a request: the same checks, in the same order, for both clients."""

from __future__ import annotations

import ssl as _ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..deadlines import check_timeout, positive_timeout
from ..engine.settings import make_ssl_context
from ..protocol.grammar import check_scope
from ..util.strip_code import strip_code
from ..version import __version__
from .auth import authorization, credentials
from .exchange import MSGPACK, query_body, run_body
from .failover import Nodes
from .nodes import check_url, is_https, scope_path

if TYPE_CHECKING:
    from ..telemetry._switch import Hooks, Operation

#: How long connecting to one node may take before the next is tried (the
#: socket clients' ``Client.MAX_RECONNECT_TIMEOUT``).
CONNECT_TIMEOUT = 5.0


_default: list[_ssl.SSLContext] = []


def _default_context() -> _ssl.SSLContext:
    """One verifying context (the system's CAs) for every client made
    without ``ssl=``: loading the CAs takes about 20 ms, which a client
    made per call (a short script, a serverless function) would pay each
    time."""
    if not _default:
        _default.append(_ssl.create_default_context())
    return _default[0]


@dataclass(frozen=True)
class Settings:
    """A client's node URLs, headers (with the credentials), TLS context and
    connect timeout. The credentials are left out of ``repr()``."""

    nodes: Nodes
    headers: Mapping[str, str] = field(repr=False)
    ssl: _ssl.SSLContext | None
    connect_timeout: float


def make_settings(
    urls: Sequence[object],
    auth: object,
    ssl: bool | _ssl.SSLContext | None,
    connect_timeout: float,
) -> Settings:
    """Check a client's arguments; TypeError/ValueError saying which is
    wrong."""
    if not urls:
        raise TypeError(
            "give at least one node URL, such as Client('http://localhost:9210', "
            "auth=...)"
        )
    checked = [check_url(url) for url in urls]
    header = authorization(credentials(auth))
    context = make_ssl_context(ssl)
    if any(is_https(url) for url in checked):
        if context is None:
            if ssl is False:
                raise ValueError("ssl=False does not go with an https:// URL")
            context = _default_context()
    elif context is not None:
        raise ValueError("ssl= goes with https:// node URLs; these are all http://")
    return Settings(
        nodes=Nodes(checked),
        headers={
            "Content-Type": MSGPACK,
            "Authorization": header,
            "User-Agent": f"thingsdb-connector/{__version__}",
        },
        ssl=context,
        connect_timeout=positive_timeout(connect_timeout),
    )


@dataclass(frozen=True, slots=True)
class Call:
    """One request, ready to go: the scope's URL path, the body, and the
    caller's timeout (seconds, None: no limit); for its telemetry span,
    the scope, and the code (a query) or the procedure's name (a run)."""

    path: str
    body: bytes
    timeout: float | None
    scope: str
    code: str | None = None
    procedure: str | None = None

    def operation(self, hooks: Hooks) -> Operation:
        """The span of this call (telemetry is on)."""
        if self.procedure is not None:
            return hooks.run(self.procedure, self.scope, None)
        return hooks.query(self.code, self.scope, None)


def query_call(
    default_scope: str,
    code: str,
    scope: str | None,
    timeout: float | None,
    skip_strip_code: bool,
    variables: Mapping[str, Any],
) -> Call:
    """``query()``'s arguments as the socket clients check them: raises
    TypeError/ValueError before anything is sent."""
    if not skip_strip_code:
        code = strip_code(code)
    scope = default_scope if scope is None else scope
    body = query_body(code, variables)
    return Call(scope_path(scope), body, check_timeout(timeout), scope, code=code)


def run_call(
    default_scope: str,
    procedure: str,
    args: Sequence[Any],
    scope: str | None,
    timeout: float | None,
    kwargs: Mapping[str, Any],
) -> Call:
    """``run()``'s arguments, checked as :func:`query_call`'s."""
    scope = default_scope if scope is None else scope
    body = run_body(procedure, args, kwargs)
    return Call(
        scope_path(scope), body, check_timeout(timeout), scope, procedure=procedure
    )


def checked_scope(scope: object) -> str:
    """A default scope, checked as the socket clients check it."""
    return check_scope(scope)
