"""The asyncio client: its settings and loop, the public calls, the request
path (with the policy for answers of a node that is not ready) and the
routing of what nodes send unasked (room events, status, warnings).

Which node, connecting, logging in and reconnecting are the NodePool's
(:mod:`.pool`); ``query()`` and ``run()`` are written in
:mod:`.request_methods`, shared with ``client.idempotent``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as _ssl
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from ..builtins import Builtins
from ..deadlines import check_timeout, deadline_after, positive_timeout
from ..engine.credentials import Credentials, parse_credentials
from ..engine.nodes import BRIDGED, warning_from
from ..engine.requests import (
    NotSent,
    Tries,
    after_not_ready,
    retries_not_ready,
)
from ..engine.settings import Defaults, client_settings
from ..exceptions import ConnectionLostError, ForbiddenError, NodeError
from ..features import (
    PEERS_ONLY_EMIT,
    VERSION_CODE,
    VERSION_SCOPE,
    PerConnection,
    too_old,
    version_from,
)
from ..protocol import (
    DEFAULT_MAX_PACKAGE_SIZE,
    Package,
    PackageType,
    check_scope,
    encode,
)
from ..protocol.codec import check_str
from ..room import Room
from ..room.registry import RoomRegistry
from ..telemetry import _switch as telemetry
from ..telemetry import names
from ..transport import (
    DEFAULT_PORT,
    Address,
    WebSocketLibrary,
    parse_address,
    parse_pool_entry,
)
from ..url import check_url_tls, parse_url
from .connection import Connection, RequestFuture, new_request
from .idempotent import IdempotentRequests
from .pool import NodePool
from .request_methods import RequestMethods

_log = logging.getLogger("thingsdb.client")

#: Said by every call on a client whose event loop has been closed (most
#: often: the client was made or connected in one ``asyncio.run()`` and used
#: in the next).
LOOP_ENDED = (
    "this client belongs to an event loop that has ended (each asyncio.run() "
    "makes a loop and closes it when it returns); a client lives on the loop "
    "it was connected on: make and connect it inside the asyncio.run() that "
    "uses it, or do all its work in one asyncio.run()"
)


def _no_loop_yet() -> bool:
    return False


#: Said by a call made while another loop than the client's runs.
OTHER_LOOP = (
    "this client belongs to another event loop than the running one; a client "
    "lives on the loop it was connected on: use it there, or make one client "
    "per loop"
)

#: The connection a request was sent on and the error that may allow
#: sending it again (see Client._send).
_Failed = tuple[Connection, "NotSent | NodeError | ConnectionLostError"]


def _chain(task: asyncio.Task[Any], fut: asyncio.Future[Any]) -> None:
    """``fut`` takes ``task``'s outcome; a ``fut`` that ends first (cancelled
    by its caller, or its deadline) cancels ``task``."""

    def task_done(task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            if not fut.done():
                fut.cancel()
            return
        exc = task.exception()  # retrieved in any case: no "never retrieved"
        if fut.done():
            return
        if exc is None:
            fut.set_result(task.result())
        else:
            fut.set_exception(exc)

    def fut_done(fut: asyncio.Future[Any]) -> None:
        if not task.done():
            task.cancel()

    task.add_done_callback(task_done)
    fut.add_done_callback(fut_done)


def _consume(fut: asyncio.Future[Any]) -> None:
    """Retrieve a future's outcome that nobody awaits."""
    if not fut.cancelled():
        fut.exception()


def _check_room_id(room_id: object) -> None:
    if isinstance(room_id, bool) or not isinstance(room_id, (int, str)):
        raise TypeError(
            f"a room id must be an int (or a str), not {type(room_id).__name__}"
        )


def _rooms_payload(
    client: Client, ids: tuple[int | str, ...], scope: str | None
) -> bytes:
    if not ids:
        raise TypeError("name at least one room id")
    for room_id in ids:
        _check_room_id(room_id)
    scope = check_scope(client.get_default_scope() if scope is None else scope)
    return encode((scope, *ids))


class Client(RequestMethods, Builtins, Defaults):
    """An asyncio ThingsDB client: one connection at a time, to one node of a
    pool, re-established by itself when ``auto_reconnect`` is on."""

    def __init__(
        self,
        auto_reconnect: bool = True,
        ssl: bool | _ssl.SSLContext | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
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
        self._loop = loop
        #: ``is_closed`` of the client's loop, bound once (see query())
        self._loop_closed: Callable[[], bool] = (
            loop.is_closed if loop is not None else _no_loop_yet
        )
        settings = client_settings(
            self,
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
        # plain attributes: read once per request
        self._auto_reconnect = settings.auto_reconnect
        self._retry_not_ready = retry_not_ready
        self._tls = settings.tls
        self._scope = "@t"
        # query() and run() (see RequestMethods) use the client's own state
        # and send a request once; plain attributes: read once per request
        self._client = self
        self._resends = 0
        self._rooms: RoomRegistry[Room] = RoomRegistry(self._request)
        self._versions: PerConnection[str | None] = PerConnection()
        #: whether the node in use takes EMIT_PEER (see _emit_peer)
        self._emit_peer_ok: PerConnection[bool] = PerConnection()
        self._stopped_rooms: list[Room] = []
        #: The nodes and the connections to them; ``_pool.conn`` is the
        #: connection in use.
        self._pool = NodePool(
            settings, self._rooms, self._loop_or_running, self._on_event, self._on_retry
        )
        #: Called with the status name (e.g. ``"SHUTTING_DOWN"``) whenever
        #: the node in use reports one. Runs on the reader: do not block.
        self.on_node_status: Callable[[str], object] | None = None
        #: Called with ``(warn_code, warn_msg)`` for every node warning
        #: (such as a ``log()`` call in ThingsDB code). Runs on the reader.
        self.on_warning: Callable[[int, str], object] | None = None

    def __repr__(self) -> str:
        return f"<Client {self.connection_info()} scope={self._scope!r}>"

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close_and_wait()

    @property
    def _reconnect_max_delay(self) -> float:
        return self._pool.settings.reconnect_max_delay()

    @property
    def _connect_timeout(self) -> float:
        return self._pool.settings.connect_timeout()

    # -- state -------------------------------------------------------------------

    def get_event_loop(self) -> asyncio.AbstractEventLoop:
        """The loop the client runs on: the one given, else the one it was
        connected on, else the running loop (or the thread's default loop)."""
        if self._loop is not None:
            return self._loop
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            pass
        # The thread's current loop, made if there is none (as the python-
        # thingsdb package does), so loop.run_until_complete(...) works. The
        # newer Pythons warn about (3.12) or refuse (3.14) making it
        # implicitly, so it is made here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                return asyncio.get_event_loop()
            except RuntimeError:
                loop = asyncio.new_event_loop()
                asyncio.set_event_loop(loop)
                return loop

    def is_connected(self) -> bool:
        conn = self._pool.conn
        return conn is not None and conn.usable

    def is_websocket(self) -> bool:
        conn = self._pool.conn
        return conn is not None and conn.address.kind == "ws"

    def connection_info(self) -> str:
        """The node in use, as ``host:port``, ``unix:/path`` or the WebSocket
        URI; ``'disconnected'`` when there is none."""
        conn = self._pool.conn
        if conn is None or not conn.usable:
            return "disconnected"
        return str(conn.address)

    async def node_version(self, *, timeout: float | None = None) -> str:
        """The ThingsDB version of the node in use (``'1.9.2'``), read once
        per connection. Reading it needs QUERY on ``@node``
        (ForbiddenError otherwise)."""
        known, version = self._versions.get(self._pool.conn)
        if known and version is not None:
            return version
        answer = await self.query(VERSION_CODE, scope=VERSION_SCOPE, timeout=timeout)
        return self._versions.put(self._pool.conn, version_from(answer)) or str(answer)

    async def _version_if_allowed(self) -> str | None:
        """node_version(), or None when this user may not read it."""
        known, version = self._versions.get(self._pool.conn)
        if known:
            return version
        try:
            return await self.node_version()
        except ForbiddenError:
            return self._versions.put(self._pool.conn, None)

    @property
    def room_registry(self) -> RoomRegistry[Room]:
        """The rooms' side of this client: what a Room joins, leaves and
        emits through (see :mod:`thingsdb.room.registry`)."""
        return self._rooms

    def get_rooms(self) -> tuple[Room, ...]:
        """The rooms this client has joined."""
        return self._rooms.all()

    def get_default_scope(self) -> str:
        return self._scope

    def set_default_scope(self, scope: str) -> None:
        """Set the scope used when a call names none (initially ``@t``)."""
        self._scope = check_scope(scope)

    # -- connecting ----------------------------------------------------------------

    async def connect(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        timeout: float | None = 5,
    ) -> None:
        """Connect to one node (not authenticated yet).

        ``host`` is a host name or IP address (with ``port``), a unix socket
        as ``'unix:/path'``, or a WebSocket URI (``'ws://host:9270'``).
        """
        address = parse_address(host, port)
        timeout = check_timeout(timeout)
        self._start_connecting()
        deadline = deadline_after(self._loop_or_running(), timeout)
        with telemetry.connection(names.CONNECT, address):
            await self._pool.connect(address, deadline)

    async def connect_url(self, url: str, timeout: float | None = 5) -> None:
        """Connect, log in and set the default scope, all from one URL:
        ``thingsdb://user:password@host:9200/stuff``, ``thingsdbs://`` for
        TLS, ``?token=...`` instead of the user and password, ``ws://`` and
        ``wss://`` for WebSockets (see :mod:`thingsdb.url`).

        ``timeout`` covers connecting and logging in together. A bad URL
        raises ValueError here; a refused login closes the connection again
        before the error goes up. The credentials are kept for reconnects,
        as ``authenticate()`` keeps them.
        """
        target = parse_url(url)
        check_url_tls(target, self._tls)
        timeout = check_timeout(timeout)
        self._start_connecting()
        loop = self._loop_or_running()
        deadline = deadline_after(loop, timeout)
        with telemetry.connection(names.CONNECT, target.address):
            await self._pool.connect(target.address, deadline)
        if target.auth is not None:
            left = None if deadline is None else max(deadline - loop.time(), 1e-3)
            try:
                await self.authenticate(*target.auth, timeout=left)
            except BaseException:
                self.close()
                raise
        if target.scope is not None:
            self._scope = target.scope

    def connect_pool(
        self,
        pool: Iterable[str | tuple[str, int] | list[Any]],
        *auth: str | tuple[str, str],
        timeout: float | None = None,
    ) -> asyncio.Task[None]:
        """Connect to a random node of ``pool`` and authenticate with ``auth``.

        Returns the connecting Task (await it to know the outcome; it runs
        either way). Bad arguments raise here, at the call. Nodes that refuse
        are tried in turn, with back-off, until one accepts or ``timeout``
        seconds have passed (None: keep trying). The credentials are kept:
        every reconnect authenticates again.
        """
        addresses = [parse_pool_entry(entry) for entry in pool]
        if not addresses:
            raise ValueError("the pool has no addresses")
        credentials = parse_credentials(auth)
        timeout = check_timeout(timeout)
        self._check_loop()
        loop = self._loop_for_call()
        if self.is_connected():
            raise RuntimeError("the client is already connected; close() it first")
        return loop.create_task(self._connect_pool(addresses, credentials, timeout))

    async def _connect_pool(
        self,
        addresses: list[Address],
        credentials: Credentials,
        timeout: float | None,
    ) -> None:
        self._start_connecting()
        with telemetry.connection(names.CONNECT, None):
            await self._pool.connect_pool(addresses, credentials, timeout)

    async def authenticate(
        self,
        *auth: str | tuple[str, str],
        timeout: float | None = 5,
    ) -> None:
        """Authenticate with a token, ``user, password`` or ``(user, password)``.

        The credentials are kept (in memory, never logged) for reconnects.
        """
        credentials = parse_credentials(auth)
        timeout = check_timeout(timeout)
        address = telemetry.address_of(self._pool.conn)
        with telemetry.connection(names.AUTHENTICATE, address):
            await self._pool.authenticate(credentials, timeout)

    def reconnect(self) -> asyncio.Task[None] | None:
        """Make a new connection, to the next node of the pool if there is one.

        Returns the reconnect Task (awaiting it is optional: it runs either
        way), or None when a reconnect is already running. The current
        connection, if any, stays in use until the new one is ready, then
        closes once its answers are in. After close(), it connects the
        client again to the same pool (rooms that close() stopped stay
        stopped).
        """
        self._check_loop()
        return self._pool.reconnect()

    @property
    def _reconnect_task(self) -> asyncio.Task[None] | None:
        """The running (or last) reconnect: what the blocking client waits
        for when reconnect() says one runs already."""
        return self._pool.reconnect_task

    # -- closing -------------------------------------------------------------------

    def close(self) -> None:
        """Start closing; returns at once (see wait_closed()).

        Requests still waiting for an answer fail with ConnectionLostError; no
        reconnect follows.
        """
        self._check_loop()
        self._pool.close()
        self._stopped_rooms.extend(self._rooms.stop_all())

    async def wait_closed(self) -> None:
        """Wait until every connection of this client is closed."""
        self._check_loop()
        await self._pool.wait_closed()
        rooms, self._stopped_rooms = self._stopped_rooms, []
        workers = [w for w in (room.inbox.worker for room in rooms) if w is not None]
        if workers:
            await asyncio.wait(workers)

    async def close_and_wait(self) -> None:
        self.close()
        await self.wait_closed()

    # -- requests --------------------------------------------------------------------

    @property
    def idempotent(self) -> IdempotentRequests:
        """``query()`` and ``run()`` for code that may run twice: sent again
        on the next connection when the connection is lost after the request
        was written (see :mod:`thingsdb.client.idempotent`)."""
        return IdempotentRequests(self)

    # -- rooms without a Room class (python-thingsdb's private calls) ----------

    def _join(
        self, *ids: int | str, scope: str | None = None
    ) -> RequestFuture[list[int | None]]:
        """Join the rooms ``ids`` in ``scope`` (default: the default scope);
        the answer lists each id, or None where no room has it. Events of
        rooms joined this way, without a Room, are not delivered anywhere."""
        return self._submit(PackageType.JOIN, _rooms_payload(self, ids, scope), None, 0)

    def _leave(
        self, *ids: int | str, scope: str | None = None
    ) -> RequestFuture[list[int | None]]:
        """Leave the rooms ``ids``; answered as :meth:`_join`."""
        return self._submit(
            PackageType.LEAVE, _rooms_payload(self, ids, scope), None, 0
        )

    def _emit(
        self,
        room_id: int | str,
        event: str,
        *args: Any,
        scope: str | None = None,
        peers_only: bool = False,
    ) -> RequestFuture[None]:
        """Emit ``event`` with ``args`` in the room ``room_id`` (with
        ``peers_only``, to every client in it but this one)."""
        check_str("event name", event)
        _check_room_id(room_id)
        scope = check_scope(self._scope if scope is None else scope)
        payload = encode((scope, room_id, event, *args))
        if not peers_only:
            return self._submit(PackageType.EMIT, payload, None, 0)
        # through _send, which checks that the node takes it (_emit_peer)
        loop = self._loop_for_call()
        fut = new_request(loop, (PackageType.EMIT_PEER, payload, None, None, 0))
        _chain(
            loop.create_task(self._request(PackageType.EMIT_PEER, payload, None)), fut
        )
        return fut

    # -- the request path ------------------------------------------------------------

    def _submit(
        self, tp: int, payload: bytes, timeout: float | None, resends: int
    ) -> RequestFuture[Any]:
        """Send a request now when there is a connection: its future is
        returned, and no coroutine or task is made. Else a Task waits for a
        connection and sends it, and the future returned takes its outcome."""
        self._check_loop()
        if timeout is None:
            deadline = None
        else:
            timeout = positive_timeout(timeout)
            deadline = deadline_after(self._loop_for_call(), timeout)
        conn = self._pool.conn
        if conn is not None:
            fut = conn.send(tp, payload, deadline, timeout, resends)
            if fut is not None:
                return fut
        # no connection to take it now: a Task sends it once there is one
        loop = self._loop_for_call()
        fut = new_request(loop, (tp, payload, deadline, timeout, resends))
        _chain(
            loop.create_task(self._send(tp, payload, deadline, timeout, None, resends)),
            fut,
        )
        return fut

    def _on_retry(
        self,
        conn: Connection,
        fut: RequestFuture[Any],
        exc: NotSent | NodeError | ConnectionLostError,
    ) -> None:
        """A connection could not finish ``fut`` (never written, not ready,
        or lost with resends left): a Task sends it again, under the same
        rules as any request (``_send``), and its outcome goes into ``fut``,
        which the caller still awaits."""
        if isinstance(exc, NodeError) and not self._retries_not_ready(exc):
            fut.set_exception(exc)  # an error of the code, or no retries wanted
            return
        tp, payload, deadline, timeout, resends = fut.retry
        with telemetry.resuming(fut):  # the task keeps the request's span
            task = self._loop_or_running().create_task(
                self._send(tp, payload, deadline, timeout, (conn, exc), resends)
            )
        _chain(task, fut)

    async def _request(self, tp: int, payload: bytes, timeout: float | None) -> Any:
        """One request with its answer (what rooms use)."""
        self._check_loop()
        timeout = check_timeout(timeout)
        deadline = deadline_after(self._loop_or_running(), timeout)
        if telemetry.SWITCH.on is not None:
            telemetry.sending(telemetry.address_of(self._pool.conn))
        return await self._send(tp, payload, deadline, timeout, None)

    async def _send(
        self,
        tp: int,
        payload: bytes,
        deadline: float | None,
        timeout: float | None,
        failed: _Failed | None,
        resends: int = 0,
    ) -> Any:
        """Send on the current connection; wait for one if there is none.

        ``failed``: the connection of a first try and how it failed. A
        request is only sent again when it was never written (NotSent) or the
        node ran nothing (not ready); once written, it is answered, times
        out, or fails with ConnectionLostError, unless the caller marked it
        idempotent: then it is sent again up to ``resends`` times.
        """
        tries = Tries(resends, self._retry_not_ready, self._auto_reconnect)
        while True:
            if failed is not None:
                conn, exc = failed
                not_ready = tries.failed(conn.address, exc)
                if not_ready:
                    assert isinstance(exc, NodeError)
                    await self._after_not_ready(conn, exc, not_ready, deadline)
            current = self._pool.conn
            if current is None or not current.usable:
                current = await self._pool.wait_for_connection(deadline)
                telemetry.waited_for_connection(current.address)
            try:
                if tp == PackageType.EMIT_PEER:
                    return await self._emit_peer(current, payload, deadline, timeout)
                return await current.request(tp, payload, deadline, timeout)
            except (NotSent, NodeError, ConnectionLostError) as exc:
                failed = (current, exc)

    async def _emit_peer(
        self,
        conn: Connection,
        payload: bytes,
        deadline: float | None,
        timeout: float | None,
    ) -> Any:
        """A peers-only emit on ``conn``. Nodes before 1.8.0 do not know
        the package and never answer it: the first one on a connection goes
        out with a PING right behind it. A node answers an emit at once and
        the packages of a connection in order, so a PONG that comes first
        means the node did not take it: NodeVersionError, never a hang."""
        known, takes_it = self._emit_peer_ok.get(conn)
        if known and takes_it:
            return await conn.request(PackageType.EMIT_PEER, payload, deadline, timeout)
        if not known:
            emit = asyncio.ensure_future(
                conn.request(PackageType.EMIT_PEER, payload, deadline, timeout)
            )
            pong = asyncio.ensure_future(
                conn.request(PackageType.PING, b"", deadline, timeout)
            )
            pong.add_done_callback(_consume)
            try:
                await asyncio.wait({emit, pong}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                emit.cancel()
                raise
            if emit.done() or pong.exception() is not None:
                # answered (the node takes it), or the connection failed:
                # the emit ends as the connection does
                self._emit_peer_ok.put(conn, emit.done())
                return await emit
            emit.cancel()  # its id stays reserved: an answer never comes
            self._emit_peer_ok.put(conn, False)
        raise too_old(
            PEERS_ONLY_EMIT, await self._version_if_allowed(), str(conn.address)
        )

    def _retries_not_ready(self, exc: NodeError) -> bool:
        """Whether a NodeError answer is tried again (see _after_not_ready)."""
        return retries_not_ready(exc, self._retry_not_ready, self._auto_reconnect)

    async def _after_not_ready(
        self, conn: Connection, exc: NodeError, count: int, deadline: float | None
    ) -> None:
        """The ``count``-th not-ready answer to a request (nothing ran):
        carried out as :func:`thingsdb.engine.requests.after_not_ready` says."""
        pool = self._pool
        now = self._loop_or_running().time()
        step = after_not_ready(
            conn.address, exc, count, len(pool.addresses), now, deadline
        )
        if step.move_on:
            pool.move_on(conn)
        if step.give_up:
            raise exc
        if step.pause:
            await pool.wait_for_status(step.pause)

    # -- internals -------------------------------------------------------------------

    def _loop_or_running(self) -> asyncio.AbstractEventLoop:
        return self._loop if self._loop is not None else asyncio.get_running_loop()

    def _loop_for_call(self) -> asyncio.AbstractEventLoop:
        """The loop for work started by a plain (non-async) call: the
        client's own once it has one, else the running loop (or the thread's
        default, so ``loop.run_until_complete(client.query(...))`` works)."""
        loop = self._loop
        return loop if loop is not None else self.get_event_loop()

    def _check_loop(self) -> None:
        """A call on this client: its loop (once it has one) must not have
        ended, and must be the one running, if any runs here (a plain call
        outside any loop, for ``loop.run_until_complete()``, is fine)."""
        loop = self._loop
        if loop is None:
            return
        if loop.is_closed():
            raise RuntimeError(LOOP_ENDED)
        running = asyncio._get_running_loop()
        if running is not None and running is not loop:
            raise RuntimeError(OTHER_LOOP)

    def _bind_loop(self) -> None:
        running = asyncio.get_running_loop()
        self._check_loop()
        if self._loop is None:
            self._loop = running
            self._loop_closed = running.is_closed

    def _start_connecting(self) -> None:
        """Checks and state common to connect() and connect_pool()."""
        if self.is_connected():
            raise RuntimeError("the client is already connected; close() it first")
        self._bind_loop()
        self._pool.begin()

    def _on_event(self, conn: Connection, pkg: Package) -> None:
        tp, data = pkg.type, pkg.data
        if tp >= PackageType.ROOM_JOIN:
            # The connection in use; during a move also the one left behind,
            # for the rooms not joined again yet, and only for them: once a
            # room is joined on the new node, the old one's copies would
            # double its events.
            source = self._pool.room_events_from(conn)
            if source:
                self._rooms.dispatch(tp, data, bridged=source == BRIDGED)
        elif tp == PackageType.NODE_STATUS:
            verdict = self._pool.status_from(conn, data, self._auto_reconnect)
            if verdict is None:
                return
            status, leaves = verdict
            if self.on_node_status is not None and status is not None:
                self.on_node_status(status)
            # and the pool may move to the next node
            self._pool.node_status(conn, leaves)
        elif tp == PackageType.WARN:
            warning = warning_from(conn.address, data)
            if warning is not None and self.on_warning is not None:
                self.on_warning(*warning)
