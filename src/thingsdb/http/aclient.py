"""The asyncio HTTP client: ``query()`` and ``run()`` over the node's HTTP
API (httpx's ``AsyncClient``: connections kept open and reused; use one
client within one event loop). The same as :mod:`thingsdb.http.client`
with ``await``: the decisions are :mod:`thingsdb.http.failover`'s."""

from __future__ import annotations

import asyncio  # async only
import ssl as _ssl
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Generic, TypeVar, overload

import httpx

from ..engine.requests import MAX_RESENDS
from ..exceptions import NodeError, NotConnectedError
from ..protocol.typed import ResultDecoder, result_decoder
from ..telemetry._switch import SWITCH
from .exchange import read_answer
from .failover import Attempts
from .settings import (
    CONNECT_TIMEOUT,
    Call,
    checked_scope,
    make_settings,
    query_call,
    run_call,
)

T = TypeVar("T")


class AsyncClient:
    """An asyncio client of ThingsDB's HTTP API.

    ``urls``: one or more nodes (``http://host:port``, ``https://...``),
    tried in turn when one cannot be reached. ``auth``: a token, or a
    ``(user, password)`` tuple, sent with every request. ``scope``: the
    default scope. ``ssl``: for ``https://``, an ``ssl.SSLContext`` (the
    default verifies the certificate against the system's CAs).
    ``connect_timeout``: how long one node may take to accept a connection
    before the next is tried.

    Nothing is sent until the first request. Close it
    (:meth:`close_and_wait`, or ``async with``) to close its connections.
    """

    def __init__(
        self,
        *urls: str,
        auth: str | tuple[str, str],
        scope: str = "@t",
        ssl: bool | _ssl.SSLContext | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        self._settings = settings = make_settings(urls, auth, ssl, connect_timeout)
        self._scope = checked_scope(scope)
        self._loop: asyncio.AbstractEventLoop | None = None  # async only
        self._http = httpx.AsyncClient(
            headers=dict(settings.headers),
            # no https:// URL: TLS is never used, and False spares the 20 ms
            # httpx spends loading CA certificates for a context of its own
            verify=settings.ssl if settings.ssl is not None else False,
            timeout=None,
        )

    def __repr__(self) -> str:
        return f"<thingsdb.http.AsyncClient {' '.join(self._settings.nodes.urls)}>"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def urls(self) -> tuple[str, ...]:
        """The node URLs, as checked."""
        return self._settings.nodes.urls

    @property
    def url(self) -> str:
        """The node the next request goes to first (the one that answered
        last)."""
        nodes = self._settings.nodes
        return nodes.urls[nodes.current]

    def get_default_scope(self) -> str:
        return self._scope

    def set_default_scope(self, scope: str) -> None:
        """Set the scope used when a call names none (initially ``@t``)."""
        self._scope = checked_scope(scope)

    @property
    def idempotent(self) -> IdempotentRequests:
        """``query()`` and ``run()`` for requests that may run twice: sent
        again to the next node when the connection closes before the
        answer (see :mod:`thingsdb.http.failover`)."""
        return IdempotentRequests(self)

    @overload
    def typed(self, result_type: type[T]) -> TypedRequests[T]: ...
    @overload
    def typed(self, result_type: Any) -> TypedRequests[Any]: ...
    def typed(self, result_type: Any) -> TypedRequests[Any]:
        """``query()`` and ``run()`` whose result is read as ``result_type``
        (a msgspec Struct, a dataclass, a TypedDict, an Enum, a built-in
        type, or lists, dicts and optionals of these), straight from the
        answer's body; a result that does not fit raises
        :class:`~thingsdb.exceptions.ResultTypeError`, a type that cannot
        be read into ``TypeError`` here (as the socket clients' typed())."""
        return TypedRequests(self, 0, result_decoder(result_type))

    async def aclose(self) -> None:
        """Close the connections kept open; requests after this raise
        NotConnectedError."""
        await self._http.aclose()

    async def close_and_wait(self) -> None:
        """As :meth:`aclose` (the socket clients' name)."""
        await self.aclose()

    # -- requests --------------------------------------------------------------

    def query(
        self,
        code: str,
        scope: str | None = None,
        timeout: float | None = None,
        skip_strip_code: bool = False,
        **kwargs: Any,
    ) -> Coroutine[Any, Any, Any]:
        """Run ``code`` in ``scope`` (default: the default scope) and return
        its result (await it). Keyword arguments become variables in the
        code. Bad arguments raise here, at the call, before anything is
        sent."""
        call = query_call(self._scope, code, scope, timeout, skip_strip_code, kwargs)
        return self._send(call, 0)

    def run(
        self,
        procedure: str,
        *args: Any,
        scope: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Coroutine[Any, Any, Any]:
        """Run a stored procedure with arguments by position or by name and
        return its result (await it). Bad arguments raise here, at the
        call, before anything is sent."""
        call = run_call(self._scope, procedure, args, scope, timeout, kwargs)
        return self._send(call, 0)

    # async only {
    def _bind_loop(self) -> None:
        """The client's connections belong to the event loop they were
        opened in (httpx's): a call from another loop is refused with a
        clear error, not left to fail deep in httpx."""
        running = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = running
        elif self._loop is not running:
            raise RuntimeError(
                "this AsyncClient belongs to another event loop than the running "
                "one: make one per loop (one per asyncio.run()), or use the "
                "blocking thingsdb.http.Client"
            )

    # async only }
    async def _send(
        self, call: Call, resends: int, decoder: ResultDecoder[Any] | None = None
    ) -> Any:
        self._bind_loop()  # async only
        hooks = SWITCH.on
        if hooks is None:
            return await self._exchange(call, resends, decoder)
        with call.operation(hooks):  # telemetry: a span around the call
            return await self._exchange(call, resends, decoder)

    async def _exchange(
        self, call: Call, resends: int, decoder: ResultDecoder[Any] | None
    ) -> Any:
        if self._http.is_closed:
            raise NotConnectedError(f"{self!r} is closed; nothing was sent")
        settings = self._settings
        urls = settings.nodes.urls
        attempts = Attempts(
            settings.nodes, call.timeout, settings.connect_timeout, resends
        )
        for index in attempts:
            try:
                response = await self._http.post(
                    urls[index] + call.path,
                    content=call.body,
                    timeout=attempts.httpx_timeout(),
                )
            except httpx.HTTPError as exc:
                attempts.failed(index, exc)
                continue
            attempts.answered(index)
            try:
                return read_answer(
                    response.status_code,
                    response.headers.get("content-type"),
                    response.content,
                    decoder,
                )
            except NodeError as exc:
                attempts.refused(index, exc)
        raise attempts.exhausted()


class IdempotentRequests:
    """``client.idempotent``: ``query()`` and ``run()`` as on the client,
    sent again (up to ``MAX_RESENDS`` times, within the timeout) to the
    next node when the connection closes before the answer. Only for code
    that may run twice."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    def query(
        self,
        code: str,
        scope: str | None = None,
        timeout: float | None = None,
        skip_strip_code: bool = False,
        **kwargs: Any,
    ) -> Coroutine[Any, Any, Any]:
        """See :meth:`AsyncClient.query`."""
        client = self._client
        call = query_call(client._scope, code, scope, timeout, skip_strip_code, kwargs)
        return client._send(call, MAX_RESENDS)

    def run(
        self,
        procedure: str,
        *args: Any,
        scope: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Coroutine[Any, Any, Any]:
        """See :meth:`AsyncClient.run`."""
        client = self._client
        call = run_call(client._scope, procedure, args, scope, timeout, kwargs)
        return client._send(call, MAX_RESENDS)

    @overload
    def typed(self, result_type: type[T]) -> TypedRequests[T]: ...
    @overload
    def typed(self, result_type: Any) -> TypedRequests[Any]: ...
    def typed(self, result_type: Any) -> TypedRequests[Any]:
        """As :meth:`AsyncClient.typed`, for code that may run twice."""
        return TypedRequests(self._client, MAX_RESENDS, result_decoder(result_type))


class TypedRequests(Generic[T]):
    """``client.typed(T)``: ``query()`` and ``run()`` as on the client (or
    on ``client.idempotent``, whose ``typed()`` this is), with the result
    read as ``T``."""

    __slots__ = ("_client", "_decoder", "_resends")

    def __init__(
        self,
        client: AsyncClient,
        resends: int,
        decoder: ResultDecoder[T],
    ) -> None:
        self._client = client
        self._resends = resends
        self._decoder = decoder

    def query(
        self,
        code: str,
        scope: str | None = None,
        timeout: float | None = None,
        skip_strip_code: bool = False,
        **kwargs: Any,
    ) -> Coroutine[Any, Any, T]:
        """See :meth:`AsyncClient.query`; the result is read as the type."""
        client = self._client
        call = query_call(client._scope, code, scope, timeout, skip_strip_code, kwargs)
        send = client._send
        result: Coroutine[Any, Any, T] = send(call, self._resends, self._decoder)
        return result

    def run(
        self,
        procedure: str,
        *args: Any,
        scope: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Coroutine[Any, Any, T]:
        """See :meth:`AsyncClient.run`; the result is read as the type."""
        client = self._client
        call = run_call(client._scope, procedure, args, scope, timeout, kwargs)
        send = client._send
        result: Coroutine[Any, Any, T] = send(call, self._resends, self._decoder)
        return result
