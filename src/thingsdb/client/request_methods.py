"""``query()`` and ``run()``, written once for the client and its idempotent
view: the payload is made (and checked) at the call and, in the common case,
written at once on the connection in use, with no coroutine or task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..protocol import PackageType, query_payload, run_payload
from ..telemetry._switch import SWITCH, address_of, follow
from ..util.strip_code import strip_code
from .connection import RequestFuture
from .pool import NodePool

# plain ints: query() and run() pass them on once per request
_QUERY = int(PackageType.QUERY)
_RUN = int(PackageType.RUN)


class ClientState(Protocol):
    """What query() and run() use of their client."""

    #: The default scope.
    _scope: str
    #: Whose connection in use takes the request.
    _pool: NodePool
    #: Whether the client's loop has ended (its ``is_closed``, bound once).
    _loop_closed: Callable[[], bool]

    def _submit(
        self, tp: int, payload: bytes, timeout: float | None, resends: int
    ) -> RequestFuture[Any]:
        """The request path for anything but the common case."""
        ...


class RequestMethods:
    """query() and run(); see the module docstring."""

    __slots__ = ()

    #: The client whose state they use: the client itself, or the client a
    #: view belongs to.
    _client: ClientState
    #: How many times a request goes out again after its connection was
    #: lost once it was written (0 but for idempotent requests).
    _resends: int

    def query(
        self,
        code: str,
        scope: str | None = None,
        timeout: float | None = None,
        skip_strip_code: bool = False,
        **kwargs: Any,
    ) -> RequestFuture[Any]:
        """Run ``code`` in ``scope`` (default: the default scope); await the
        returned future for its result. Keyword arguments become variables
        in the code. Bad arguments raise here, before anything is sent."""
        if not skip_strip_code:
            code = strip_code(code)  # leaves a non-str to query_payload's check
        client = self._client
        payload = query_payload(client._scope if scope is None else scope, code, kwargs)
        tel = SWITCH.on
        if tel is not None:  # telemetry: a span until the future is done
            op = tel.query(code, scope or client._scope, address_of(client._pool.conn))
            return follow(op, client._submit, _QUERY, payload, timeout, self._resends)
        # The common case, in full here (and in run()): one call less per
        # request than a shared helper, measured at about 30 ns. Once the
        # client's loop has ended, _submit() raises the error that says so
        # (asking for the running loop instead would cost 170 ns a call).
        conn = client._pool.conn
        if timeout is None and conn is not None and not client._loop_closed():
            fut = conn.send(_QUERY, payload, None, None, self._resends)
            if fut is not None:
                return fut
        return client._submit(_QUERY, payload, timeout, self._resends)

    def run(
        self,
        procedure: str,
        *args: Any,
        scope: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> RequestFuture[Any]:
        """Run a stored procedure with arguments by position or by name;
        await the returned future for its result. Bad arguments raise here,
        before anything is sent."""
        client = self._client
        payload = run_payload(
            client._scope if scope is None else scope, procedure, args, kwargs
        )
        tel = SWITCH.on
        if tel is not None:
            op = tel.run(
                procedure, scope or client._scope, address_of(client._pool.conn)
            )
            return follow(op, client._submit, _RUN, payload, timeout, self._resends)
        conn = client._pool.conn
        if timeout is None and conn is not None and not client._loop_closed():
            fut = conn.send(_RUN, payload, None, None, self._resends)
            if fut is not None:
                return fut
        return client._submit(_RUN, payload, timeout, self._resends)
