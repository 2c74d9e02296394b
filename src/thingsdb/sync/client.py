"""The blocking client: thingsdb.client.Client on a loop in its own thread.

Every method that talks to the node hands the async client's coroutine to
the background loop (``asyncio.run_coroutine_threadsafe``) and waits for the
answer, so both clients share one implementation: request ids, deadlines,
reconnects, failover and the keepalive all run on that loop, also while no
call is being made.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import ssl as _ssl
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from ..client import Client as AsyncClient
from ..exceptions import NotConnectedError
from ..exceptions import TimeoutError as ClientTimeoutError
from ..protocol import DEFAULT_MAX_PACKAGE_SIZE
from ..transport import DEFAULT_PORT, WebSocketLibrary
from ._builtins import SyncBuiltins
from ._runner import LoopThread, check_caller

if TYPE_CHECKING:
    from .room import Room

P = ParamSpec("P")
T = TypeVar("T")
_C = TypeVar("_C", bound="Client")

_log = logging.getLogger("thingsdb.client")

#: The clients whose loop thread runs: closed at interpreter exit.
_open: weakref.WeakSet[Client] = weakref.WeakSet()

#: Shutdowns started from a thread that must not block.
_closing: set[asyncio.Task[None]] = set()

#: How long close() waits for each part of the shutdown (closing the
#: connections, the room handlers, the loop thread).
CLOSE_TIMEOUT = 10.0


class Client(SyncBuiltins):
    """A blocking ThingsDB client with the methods of thingsdb.client.Client.

    The arguments are those of the async client (without ``loop``). A
    background thread with an event loop starts at the first connect() and
    ends at close(). One client may be used from many threads at once.
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
        self._settings: dict[str, Any] = {
            "auto_reconnect": auto_reconnect,
            "ssl": ssl,
            "max_package_size": max_package_size,
            "reconnect_delay": reconnect_delay,
            "reconnect_max_delay": reconnect_max_delay,
            "connect_timeout": connect_timeout,
            "ping_interval": ping_interval,
            "ping_timeout": ping_timeout,
            "retry_not_ready": retry_not_ready,
            "websocket_library": websocket_library,
        }
        # made now, so bad settings raise here; it binds to the loop thread's
        # loop at connect()
        self._async = AsyncClient(**self._settings)
        self._lock = threading.Lock()
        self._runner: LoopThread | None = None
        self._closed = False
        # the sync rooms joined through this client: their handler threads
        # end at close() (shared with the finalizer, so no reference to self)
        self._rooms = RoomSet()
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

    # -- state (plain reads and writes of one attribute, safe from any thread) --

    def is_connected(self) -> bool:
        return self._async.is_connected()

    def is_websocket(self) -> bool:
        return self._async.is_websocket()

    def connection_info(self) -> str:
        """The node in use (``host:port``, ``unix:/path``, the WebSocket URI)
        or ``'disconnected'``."""
        return self._async.connection_info()

    def get_default_scope(self) -> str:
        return self._async.get_default_scope()

    def set_default_scope(self, scope: str) -> None:
        """Set the scope used when a call names none (initially ``@t``)."""
        self._async.set_default_scope(scope)

    def get_rooms(self) -> tuple[Room, ...]:
        """The rooms (thingsdb.sync.Room) this client has joined."""
        from .room import owner_of

        return tuple(
            r for r in (owner_of(a) for a in self._async.get_rooms()) if r is not None
        )

    def get_event_loop(self) -> asyncio.AbstractEventLoop:
        """The loop of the background thread (RuntimeError before connect())."""
        runner = self._runner
        if runner is None:
            raise RuntimeError("the client has no loop yet; call connect() first")
        return runner.loop

    @property
    def on_node_status(self) -> Callable[[str], object] | None:
        """Called with the status name whenever the node in use reports
        one. Runs on the loop thread: keep it short, and make no blocking
        call of this client in it."""
        return self._async.on_node_status

    @on_node_status.setter
    def on_node_status(self, fn: Callable[[str], object] | None) -> None:
        self._async.on_node_status = fn

    @property
    def on_warning(self) -> Callable[[int, str], object] | None:
        """Called with ``(warn_code, warn_msg)`` for every node warning.
        Runs on the loop thread, like on_node_status."""
        return self._async.on_warning

    @on_warning.setter
    def on_warning(self, fn: Callable[[int, str], object] | None) -> None:
        self._async.on_warning = fn

    # -- connecting ---------------------------------------------------------------

    def connect(
        self, host: str, port: int = DEFAULT_PORT, timeout: float | None = 5
    ) -> None:
        """Connect to one node (not authenticated yet); see the async client."""
        check_caller("connect", self._own_loop())
        self._start()
        self._call(AsyncClient.connect, host, port, timeout)

    def connect_pool(
        self,
        pool: Iterable[str | tuple[str, int] | list[Any]],
        *auth: str | tuple[str, str],
        timeout: float | None = None,
    ) -> None:
        """Connect to a random node of ``pool`` and authenticate."""
        check_caller("connect_pool", self._own_loop())
        pool = list(pool)  # an iterator is read in this thread
        self._start()
        self._call(_connect_pool, pool, auth, timeout)

    def authenticate(
        self, *auth: str | tuple[str, str], timeout: float | None = 5
    ) -> None:
        """Authenticate with a token, ``user, password`` or ``(user, password)``."""
        self._call(AsyncClient.authenticate, *auth, timeout=timeout)

    def reconnect(self, wait: bool = True, timeout: float | None = None) -> None:
        """Make a new connection, to the next node of the pool if there is one.

        With ``wait`` (the default), return once the new connection is in
        use, or raise thingsdb.exceptions.TimeoutError after ``timeout``
        seconds (the client keeps trying in the background). Nothing happens
        when a reconnect is already running (``wait`` then waits for it).
        """
        self._call(_reconnect, wait, timeout)

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
        return self._call(_query, code, scope, timeout, skip_strip_code, kwargs, False)

    def run(
        self,
        procedure: str,
        *args: Any,
        scope: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run a stored procedure with arguments by position or by name."""
        return self._call(_run, procedure, args, scope, timeout, kwargs, False)

    @property
    def idempotent(self) -> IdempotentRequests:
        """``query()`` and ``run()`` for code that may run twice: sent again
        on the next connection when the connection is lost after the request
        was written (as ``client.idempotent`` of the async client)."""
        return IdempotentRequests(self)

    # -- closing ------------------------------------------------------------------

    def close(self) -> None:
        """Close the connections, end the room handler threads, stop the
        loop and join its thread. Blocks until done (each step at most
        CLOSE_TIMEOUT seconds); calling it again does nothing."""
        check_caller("close", self._own_loop())
        current = threading.current_thread()
        for room in self._rooms.snapshot():
            if room._handler_thread() is current:
                raise RuntimeError(
                    "close() was called from a room handler of this client; it "
                    "would wait for that handler. Call it from another thread."
                )
        with self._lock:
            self._closed = True
            finalizer, self._finalizer = self._finalizer, None
            self._runner = None
        _open.discard(self)
        if finalizer is not None:
            _finalize_now(finalizer)

    def wait_closed(self) -> None:
        """Nothing to wait for: close() returns when everything has ended."""

    def close_and_wait(self) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------

    def _own_loop(self) -> asyncio.AbstractEventLoop | None:
        runner = self._runner
        return None if runner is None else runner.loop

    def _start(self) -> None:
        """Start the loop thread unless it runs; after close(), start over
        with a new async client (same settings, callbacks and scope)."""
        with self._lock:
            if self._runner is not None:
                return
            if self._closed:
                old = self._async
                self._async = AsyncClient(**self._settings)
                self._async.set_default_scope(old.get_default_scope())
                self._async.on_node_status = old.on_node_status
                self._async.on_warning = old.on_warning
                self._closed = False
                self._rooms = RoomSet()
            runner = LoopThread()
            self._runner = runner
            # runs once: at close(), or when the client is garbage; at
            # interpreter exit _close_open() runs it
            self._finalizer = weakref.finalize(
                self, _shutdown, runner, self._async, self._rooms
            )
            self._finalizer.atexit = False
            _open.add(self)

    def _call(
        self,
        fn: Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``fn(async_client, *args, **kwargs)`` on the loop thread and
        wait for it."""
        runner = self._runner
        name = getattr(fn, "__name__", "call").lstrip("_")
        check_caller(name, None if runner is None else runner.loop)
        if runner is None:
            if self._closed:
                raise NotConnectedError("the client is closed")
            raise NotConnectedError("not connected; call connect() first")
        return runner.run(fn(self._async, *args, **kwargs))

    def _add_room(self, room: Room) -> None:
        self._rooms.add(room)


class RoomSet:
    """The sync rooms of a client, for any thread. Held weakly: a room that
    was left and is no longer used goes away (joined rooms are held by the
    async client)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rooms: weakref.WeakSet[Room] = weakref.WeakSet()

    def add(self, room: Room) -> None:
        with self._lock:
            self._rooms.add(room)

    def snapshot(self) -> list[Room]:
        with self._lock:
            return list(self._rooms)


# the variables go as one dict: a query variable may have any name


async def _query(
    client: AsyncClient,
    /,
    code: str,
    scope: str | None,
    timeout: float | None,
    skip_strip_code: bool,
    kwargs: dict[str, Any],
    idempotent: bool,
) -> Any:
    sender = client.idempotent if idempotent else client
    return await sender.query(code, scope, timeout, skip_strip_code, **kwargs)


async def _run(
    client: AsyncClient,
    /,
    procedure: str,
    args: tuple[Any, ...],
    scope: str | None,
    timeout: float | None,
    kwargs: dict[str, Any],
    idempotent: bool,
) -> Any:
    sender = client.idempotent if idempotent else client
    return await sender.run(procedure, *args, scope=scope, timeout=timeout, **kwargs)


class IdempotentRequests:
    """``client.idempotent`` of the blocking client."""

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
    ) -> Any:
        """As :meth:`Client.query`; sent again after a lost connection."""
        return self._client._call(
            _query, code, scope, timeout, skip_strip_code, kwargs, True
        )

    def run(
        self,
        procedure: str,
        *args: Any,
        scope: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """As :meth:`Client.run`; sent again after a lost connection."""
        return self._client._call(_run, procedure, args, scope, timeout, kwargs, True)


async def _connect_pool(
    client: AsyncClient,
    /,
    pool: Iterable[str | tuple[str, int] | list[Any]],
    auth: tuple[str | tuple[str, str], ...],
    timeout: float | None,
) -> None:
    await client.connect_pool(pool, *auth, timeout=timeout)


async def _reconnect(client: AsyncClient, wait: bool, timeout: float | None) -> None:
    task = client.reconnect()
    if task is None:
        task = client._reconnect_task  # the one already running
    if task is None or not wait:
        return
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout)
    except asyncio.TimeoutError:
        raise ClientTimeoutError(
            f"no new connection within {timeout} seconds (the client keeps trying)"
        ) from None


@atexit.register
def _close_open() -> None:
    """At interpreter exit (while daemon threads still run): close every
    client that is still open."""
    for client in list(_open):
        finalizer = client._finalizer
        if finalizer is not None:
            with contextlib.suppress(Exception):
                _finalize_now(finalizer)


def _finalize_now(finalizer: weakref.finalize[Any, Any]) -> None:
    """Run a finalizer once. Not ``finalizer()``: that does nothing once
    weakref's own exit hook has run, which may be before ours."""
    info = finalizer.detach()
    if info is not None:
        _obj, func, args, kwargs = info
        func(*args, **kwargs)


def _shutdown(runner: LoopThread, client: AsyncClient, rooms: RoomSet) -> None:
    """Close ``client``, end the rooms' handler threads and the loop thread.

    From a thread that must not block (the loop thread, a handler thread, a
    thread running another loop: possible when the client is garbage
    collected there), everything is only asked to stop.
    """
    current = threading.current_thread()
    snapshot = rooms.snapshot()
    try:
        asyncio.get_running_loop()
        blocking_ok = False
    except RuntimeError:
        blocking_ok = all(r._handler_thread() is not current for r in snapshot)
    if not blocking_ok:

        async def close_then_stop() -> None:
            try:
                await client.close_and_wait()
            finally:
                for room in snapshot:
                    room._stop_handlers()
                runner.loop.stop()

        def start() -> None:
            task = runner.loop.create_task(close_then_stop())
            _closing.add(task)  # a reference until it is done
            task.add_done_callback(_closing.discard)

        runner.call_soon(start)
        return
    try:
        # on failure, stopping the loop below ends the rest
        with contextlib.suppress(Exception):
            runner.run(asyncio.wait_for(client.close_and_wait(), CLOSE_TIMEOUT))
    finally:
        # also after a KeyboardInterrupt: no thread is left running
        # every events() iterator ends first, then the threads are joined
        threads = [t for room in snapshot for t in room._stop_handlers()]
        deadline = time.monotonic() + CLOSE_TIMEOUT
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                _log.warning("%s: a room handler is still running", thread.name)
        runner.stop(CLOSE_TIMEOUT)
