"""The blocking client: requests written and answers read on the caller's
thread, over a blocking socket, on the protocol core.

A call is a write and a read on the thread that makes it, as on a bare
socket; threads that share the client take turns at reading (see
``_connection``). Between calls, background threads keep the client whole:
the watcher reads room events and node statuses and sends the keepalive's
PINGs, a reconnect thread moves to the next node, and room handlers run in
threads of their own (see ``_session``).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ssl as _ssl
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Generator, Iterable
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar, overload

from ..builtins import Builtins
from ..deadlines import check_timeout, monotonic_deadline
from ..engine.credentials import parse_credentials
from ..engine.requests import MAX_RESENDS, NotSent
from ..engine.settings import Defaults, client_settings
from ..exceptions import ConnectionLostError, NodeError
from ..protocol import DEFAULT_MAX_PACKAGE_SIZE, PackageType, query_payload, run_payload
from ..protocol.typed import result_decoder
from ..telemetry import _switch as telemetry
from ..telemetry import names
from ..telemetry._switch import SWITCH, address_of
from ..transport import DEFAULT_PORT, WebSocketLibrary, parse_address, parse_pool_entry
from ..url import check_url_tls, parse_url
from ..util.strip_code import strip_code
from ._builtins import SyncBuiltins
from ._rooms import RoomRegistry
from ._session import Session
from ._typed import TypedRequests
from .room import Room

P = ParamSpec("P")
T = TypeVar("T")
_C = TypeVar("_C", bound="Client")

_QUERY = int(PackageType.QUERY)
_RUN = int(PackageType.RUN)

#: The clients that were connected and not closed: closed at interpreter exit.
_open: weakref.WeakSet[Client] = weakref.WeakSet()


class Client(SyncBuiltins, Defaults):
    """A blocking ThingsDB client with the methods of thingsdb.client.Client.

    The arguments are those of the async client (without ``loop``). Calls
    run on the calling thread; one client may be used from many threads at
    once. Background threads start at the first connect() and end at
    close().
    """

    def __init__(
        self,
        auto_reconnect: bool = True,
        ssl: bool | _ssl.SSLContext | None = None,
        *,
        max_package_size: int = DEFAULT_MAX_PACKAGE_SIZE,
        reconnect_delay: float = 0.5,
        reconnect_max_delay: float | None = None,
        connect_timeout: float | None = None,
        ping_interval: float | None = 30.0,
        ping_timeout: float = 10.0,
        retry_not_ready: int = 5,
        websocket_library: WebSocketLibrary = "auto",
    ) -> None:
        self._session = Session(
            client_settings(
                type(self),
                auto_reconnect=auto_reconnect,
                ssl=ssl,
                max_package_size=max_package_size,
                reconnect_delay=reconnect_delay,
                reconnect_max_delay=reconnect_max_delay,
                connect_timeout=connect_timeout,
                ping_interval=ping_interval,
                ping_timeout=ping_timeout,
                retry_not_ready=retry_not_ready,
                websocket_library=websocket_library,
            )
        )
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def __repr__(self) -> str:
        info, scope = self.connection_info(), self.get_default_scope()
        return f"<thingsdb.sync.Client {info} scope={scope!r}>"

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- state (safe from any thread) -----------------------------------------------

    def is_connected(self) -> bool:
        return self._session.is_connected()

    def is_websocket(self) -> bool:
        conn = self._session.conn
        return conn is not None and conn.address.kind == "ws"

    def connection_info(self) -> str:
        """The node in use (``host:port``, ``unix:/path``, the WebSocket URI)
        or ``'disconnected'``."""
        return self._session.connection_info()

    def get_default_scope(self) -> str:
        return self._session.scope

    def set_default_scope(self, scope: str) -> None:
        """Set the scope used when a call names none (initially ``@t``)."""
        from ..protocol import check_scope

        self._session.scope = check_scope(scope)

    def node_version(self, *, timeout: float | None = None) -> str:
        """The ThingsDB version of the node in use (``'1.9.2'``), read once
        per connection. Reading it needs QUERY on ``@node``
        (ForbiddenError otherwise)."""
        return self._session.node_version(timeout)

    @property
    def room_registry(self) -> RoomRegistry:
        """The rooms' side of this client: what a Room joins, leaves and
        emits through (see :mod:`thingsdb.sync._rooms`)."""
        return self._session.rooms

    def get_rooms(self) -> tuple[Room, ...]:
        """The rooms (thingsdb.sync.Room) this client has joined."""
        # the registry knows its rooms by what it needs of them (Member);
        # only a sync Room joins through it
        return tuple(r for r in self._session.rooms.all() if isinstance(r, Room))

    def get_event_loop(self) -> asyncio.AbstractEventLoop:
        """Always RuntimeError: the blocking client runs no event loop (its
        calls run on the calling thread). Kept for the async client's API."""
        raise RuntimeError(
            "the blocking client runs no event loop: its calls run on the "
            "calling thread (use thingsdb.client.Client for asyncio)"
        )

    @property
    def on_node_status(self) -> Callable[[str], object] | None:
        """Called with the status name whenever the node in use reports one,
        in a thread of the client's own (one call at a time, in order); it
        may block and call the client."""
        return self._session.on_node_status

    @on_node_status.setter
    def on_node_status(self, fn: Callable[[str], object] | None) -> None:
        self._session.on_node_status = fn

    @property
    def on_warning(self) -> Callable[[int, str], object] | None:
        """Called with ``(warn_code, warn_msg)`` for every node warning, in
        the same thread as on_node_status."""
        return self._session.on_warning

    @on_warning.setter
    def on_warning(self, fn: Callable[[int, str], object] | None) -> None:
        self._session.on_warning = fn

    # -- connecting ---------------------------------------------------------------

    def connect(
        self, host: str, port: int = DEFAULT_PORT, timeout: float | None = 5
    ) -> None:
        """Connect to one node (not authenticated yet); see the async client."""
        address = parse_address(host, port)
        timeout = check_timeout(timeout)
        self._opened()
        with telemetry.connection(names.CONNECT, address):
            self._session.connect(address, timeout)

    def connect_url(self, url: str, timeout: float | None = 5) -> None:
        """Connect, log in and set the default scope from one URL; see the
        async client and :mod:`thingsdb.url`. ``timeout`` covers both
        steps; a refused login closes the connection before the error goes
        up."""
        target = parse_url(url)
        check_url_tls(target, self._session.tls)
        timeout = check_timeout(timeout)
        deadline = monotonic_deadline(timeout)
        self._opened()
        with telemetry.connection(names.CONNECT, target.address):
            self._session.connect(target.address, timeout)
        if target.auth is not None:
            left = None if deadline is None else max(deadline - time.monotonic(), 1e-3)
            try:
                self.authenticate(*target.auth, timeout=left)
            except BaseException:
                self.close()
                raise
        if target.scope is not None:
            self.set_default_scope(target.scope)

    def connect_pool(
        self,
        pool: Iterable[str | tuple[str, int] | list[Any]],
        *auth: str | tuple[str, str],
        timeout: float | None = None,
    ) -> None:
        """Connect to a random node of ``pool`` and authenticate."""
        addresses = [parse_pool_entry(entry) for entry in pool]
        if not addresses:
            raise ValueError("the pool has no addresses")
        credentials = parse_credentials(auth)
        timeout = check_timeout(timeout)
        self._opened()
        with telemetry.connection(names.CONNECT, None):
            self._session.connect_pool(addresses, credentials, timeout)

    def authenticate(
        self, *auth: str | tuple[str, str], timeout: float | None = 5
    ) -> None:
        """Authenticate with a token, ``user, password`` or ``(user, password)``."""
        credentials = parse_credentials(auth)
        address = address_of(self._session.conn)
        with telemetry.connection(names.AUTHENTICATE, address):
            self._session.authenticate(credentials, check_timeout(timeout))

    def reconnect(self, wait: bool = True, timeout: float | None = None) -> None:
        """Make a new connection, to the next node of the pool if there is one.

        With ``wait`` (the default), return once the new connection is in
        use, or raise thingsdb.exceptions.TimeoutError after ``timeout``
        seconds (the client keeps trying in the background). Nothing happens
        when a reconnect is already running (``wait`` then waits for it).
        """
        self._session.reconnect(wait, timeout)

    # -- requests ---------------------------------------------------------------

    def query(
        self,
        code: str,
        scope: str | None = None,
        timeout: float | None = None,
        skip_strip_code: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Run ``code`` in ``scope`` and return its result; keyword arguments
        become variables in the code."""
        if not skip_strip_code:
            code = strip_code(code)  # leaves a non-str to query_payload's check
        session = self._session
        payload = query_payload(session.scope if scope is None else scope, code, kwargs)
        conn = session.conn
        tel = SWITCH.on
        if tel is not None:  # telemetry: a span around the request
            with tel.query(code, scope or session.scope, address_of(conn)):
                return session.request(_QUERY, payload, timeout, 0)
        if timeout is not None or conn is None:
            return session.request(_QUERY, payload, timeout, 0)
        # Session.request's common path, written out: this runs once per call
        try:
            return conn.request(_QUERY, payload, None, None)
        except (NotSent, NodeError, ConnectionLostError) as exc:
            return session.recover(_QUERY, payload, None, None, 0, conn, exc)

    def run(
        self,
        procedure: str,
        *args: Any,
        scope: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run a stored procedure with arguments by position or by name."""
        session = self._session
        payload = run_payload(
            session.scope if scope is None else scope, procedure, args, kwargs
        )
        conn = session.conn
        tel = SWITCH.on
        if tel is not None:
            with tel.run(procedure, scope or session.scope, address_of(conn)):
                return session.request(_RUN, payload, timeout, 0)
        if timeout is not None or conn is None:
            return session.request(_RUN, payload, timeout, 0)
        try:
            return conn.request(_RUN, payload, None, None)
        except (NotSent, NodeError, ConnectionLostError) as exc:
            return session.recover(_RUN, payload, None, None, 0, conn, exc)

    @property
    def idempotent(self) -> IdempotentRequests:
        """``query()`` and ``run()`` for code that may run twice: sent again
        on the next connection when the connection is lost after the request
        was written (as ``client.idempotent`` of the async client)."""
        return IdempotentRequests(self, self._session)

    @overload
    def typed(self, result_type: type[T]) -> TypedRequests[T]: ...
    @overload
    def typed(self, result_type: Any) -> TypedRequests[Any]: ...
    def typed(self, result_type: Any) -> TypedRequests[Any]:
        """``query()`` and ``run()`` whose result is read as
        ``result_type`` (as ``typed()`` of the async client: a msgspec
        Struct, a dataclass, a TypedDict, an Enum, a built-in type, or
        lists, dicts and optionals of these); a result that does not fit
        raises :class:`~thingsdb.exceptions.ResultTypeError`, a type that
        cannot be read into ``TypeError`` here."""
        return TypedRequests(self, self._session, 0, result_decoder(result_type))

    # -- closing ------------------------------------------------------------------

    def close(self) -> None:
        """Close the connections and end the client's threads (the rooms',
        the watcher, any reconnect), waiting for them (each at most
        CLOSE_TIMEOUT seconds); calling it again does nothing."""
        current = threading.current_thread()
        for room in self._session.rooms.members():
            if room.inbox.thread is current:
                raise RuntimeError(
                    "close() was called from a room handler of this client; it "
                    "would wait for that handler. Call it from another thread."
                )
        finalizer, self._finalizer = self._finalizer, None
        _open.discard(self)
        if finalizer is not None:
            finalizer.detach()
        self._session.close()

    def wait_closed(self) -> None:
        """Nothing to wait for: close() returns when everything has ended."""

    def close_and_wait(self) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------

    def _opened(self) -> None:
        """The client gets threads: close it when it is garbage, and at
        interpreter exit."""
        if self._finalizer is None:
            # the session holds no reference to the client, so it is
            # collected once the caller drops it
            self._finalizer = weakref.finalize(self, _collected, self._session)
            self._finalizer.atexit = False
            _open.add(self)

    def _call(
        self,
        fn: Callable[Concatenate[Builtins, P], Coroutine[Any, Any, T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run a helper of the async client's Builtins with this client's
        blocking query() beneath it: the helper's coroutine is driven here,
        and each query it awaits has already been answered."""
        coro = fn(_BlockingQueries(self), *args, **kwargs)
        try:
            coro.send(None)
        except StopIteration as stop:
            result: T = stop.value
            return result
        coro.close()
        raise RuntimeError(f"{fn.__name__}() awaited something other than a query")


class _Answered:
    """An awaitable that is done already: the answer of a blocking query."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def __await__(self) -> Generator[None, None, Any]:
        return self._value
        yield  # a generator that returns at once


class _BlockingQueries(Builtins):
    """What a Builtins helper runs on: query() blocks and returns an
    awaitable that is already done."""

    __slots__ = ("_client",)

    def __init__(self, client: Client) -> None:
        self._client = client

    def query(
        self,
        code: str,
        scope: str | None = None,
        timeout: float | None = None,
        skip_strip_code: bool = False,
        **kwargs: Any,
    ) -> _Answered:
        return _Answered(
            self._client.query(code, scope, timeout, skip_strip_code, **kwargs)
        )


class IdempotentRequests:
    """``client.idempotent`` of the blocking client."""

    __slots__ = ("_client", "_session")

    def __init__(self, client: Client, session: Session) -> None:
        # the client is held so that it is not collected (and closed) while
        # this view of it is in use; requests go through its session
        self._client = client
        self._session = session

    def query(
        self,
        code: str,
        scope: str | None = None,
        timeout: float | None = None,
        skip_strip_code: bool = False,
        **kwargs: Any,
    ) -> Any:
        """As :meth:`Client.query`; sent again after a lost connection."""
        if not skip_strip_code:
            code = strip_code(code)
        session = self._session
        payload = query_payload(session.scope if scope is None else scope, code, kwargs)
        tel = SWITCH.on
        if tel is not None:
            with tel.query(code, scope or session.scope, address_of(session.conn)):
                return session.request(_QUERY, payload, timeout, MAX_RESENDS)
        return session.request(_QUERY, payload, timeout, MAX_RESENDS)

    def run(
        self,
        procedure: str,
        *args: Any,
        scope: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """As :meth:`Client.run`; sent again after a lost connection."""
        session = self._session
        payload = run_payload(
            session.scope if scope is None else scope, procedure, args, kwargs
        )
        tel = SWITCH.on
        if tel is not None:
            with tel.run(procedure, scope or session.scope, address_of(session.conn)):
                return session.request(_RUN, payload, timeout, MAX_RESENDS)
        return session.request(_RUN, payload, timeout, MAX_RESENDS)

    @overload
    def typed(self, result_type: type[T]) -> TypedRequests[T]: ...
    @overload
    def typed(self, result_type: Any) -> TypedRequests[Any]: ...
    def typed(self, result_type: Any) -> TypedRequests[Any]:
        """As :meth:`Client.typed`, for code that may run twice."""
        return TypedRequests(
            self._client, self._session, MAX_RESENDS, result_decoder(result_type)
        )


def _collected(session: Session) -> None:
    """The client is garbage: close its session. This may run in any thread,
    in the middle of anything (the garbage collector's moment), so it only
    asks the session's threads to end and waits for nothing."""
    with contextlib.suppress(Exception):
        threading.Thread(
            target=session.close, name="thingsdb-sync-close", daemon=True
        ).start()


@atexit.register
def _close_open() -> None:
    """At interpreter exit (while daemon threads still run): close every
    client that is still open, here. (Client's own helper, beside it: it
    takes over the clients' finalizers, as Client.close() does.)"""
    for client in list(_open):
        finalizer, client._finalizer = client._finalizer, None
        if finalizer is not None:
            finalizer.detach()
            with contextlib.suppress(Exception):
                client._session.close()
