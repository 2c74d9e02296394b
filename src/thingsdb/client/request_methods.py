"""``query()`` and ``run()``, written once for the client and its idempotent
view: the payload is made (and checked) at the call and, in the common case,
written at once on the connection in use, with no coroutine or task.

``typed(T)`` of both is the typed view (:class:`TypedRequests`): the same
calls, whose result is read as ``T`` (see :mod:`thingsdb.protocol.typed`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar, overload

from ..protocol import PackageType, query_payload, run_payload
from ..protocol.typed import ResultDecoder, TypedPayload, result_decoder
from ..telemetry._switch import SWITCH, address_of, follow
from ..util.strip_code import strip_code
from .connection import RequestFuture
from .pool import NodePool

# plain ints: query() and run() pass them on once per request
_QUERY = int(PackageType.QUERY)
_RUN = int(PackageType.RUN)

T = TypeVar("T")


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

    @overload
    def typed(self, result_type: type[T]) -> TypedRequests[T]: ...
    @overload
    def typed(self, result_type: Any) -> TypedRequests[Any]: ...
    def typed(self, result_type: Any) -> TypedRequests[Any]:
        """``query()`` and ``run()`` (of this client or view: idempotent
        or not) whose result is read as ``result_type``: a msgspec Struct,
        a dataclass, a TypedDict, an Enum, a built-in type, or lists,
        dicts and optionals of these. The answer's payload goes straight to
        msgspec's decoder for the type (made once per type); a result that
        does not fit raises :class:`~thingsdb.exceptions.ResultTypeError`,
        which names the place (``$[3].pages: expected int, got str``).
        A type that cannot be read into raises ``TypeError`` here.

        mypy takes the type of a class or a generic alias
        (``client.typed(list[Book])``); for a union it is ``Any``."""
        return TypedRequests(self._client, self._resends, result_decoder(result_type))


class TypedRequests(Generic[T]):
    """``client.typed(T)``: ``query()`` and ``run()`` as on the client (or
    on ``client.idempotent``, whose ``typed()`` this is), with the result
    read as ``T``."""

    __slots__ = ("_client", "_decoder", "_resends")

    def __init__(
        self, client: ClientState, resends: int, decoder: ResultDecoder[T]
    ) -> None:
        self._client = client
        self._resends = resends
        self._decoder = decoder

    @property
    def result_type(self) -> Any:
        """The type results are read as."""
        return self._decoder.result_type

    def __repr__(self) -> str:
        return f"<typed requests: {self._decoder.result_type!r}>"

    def query(
        self,
        code: str,
        scope: str | None = None,
        timeout: float | None = None,
        skip_strip_code: bool = False,
        **kwargs: Any,
    ) -> RequestFuture[T]:
        """As the client's ``query()``; the result is read as the type."""
        if not skip_strip_code:
            code = strip_code(code)
        client = self._client
        payload = query_payload(client._scope if scope is None else scope, code, kwargs)
        typed = TypedPayload.of(payload, self._decoder)
        tel = SWITCH.on
        if tel is not None:  # telemetry: a span until the future is done
            op = tel.query(code, scope or client._scope, address_of(client._pool.conn))
            return follow(op, client._submit, _QUERY, typed, timeout, self._resends)
        return self._send(_QUERY, typed, timeout)

    def run(
        self,
        procedure: str,
        *args: Any,
        scope: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> RequestFuture[T]:
        """As the client's ``run()``; the result is read as the type."""
        client = self._client
        payload = run_payload(
            client._scope if scope is None else scope, procedure, args, kwargs
        )
        typed = TypedPayload.of(payload, self._decoder)
        tel = SWITCH.on
        if tel is not None:
            op = tel.run(
                procedure, scope or client._scope, address_of(client._pool.conn)
            )
            return follow(op, client._submit, _RUN, typed, timeout, self._resends)
        return self._send(_RUN, typed, timeout)

    def _send(
        self, tp: int, payload: TypedPayload, timeout: float | None
    ) -> RequestFuture[T]:
        # RequestMethods' path; the connection that gives the request its
        # pid has its decoder expect the type (TypedPayload)
        client = self._client
        conn = client._pool.conn
        if timeout is None and conn is not None and not client._loop_closed():
            fut = conn.send(tp, payload, None, None, self._resends)
            if fut is not None:
                return fut
        return client._submit(tp, payload, timeout, self._resends)
