"""The node pool: which node is next, opening a connection and logging in,
the connection in use and the ones on their way out, and reconnecting
(with back-off) when the connection is lost or its node shuts down.

The Client sends requests on :attr:`NodePool.conn` and asks the pool for a
connection when there is none (:meth:`NodePool.wait_for_connection`); the
pool tells the Client nothing but what its connections deliver (events and
requests to send again go straight to the Client's callbacks).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..deadlines import deadline_after, wait_until
from ..engine.credentials import Credentials
from ..engine.failover import (
    MOVE_SETTLE_LIMIT,
    login_errors,
    no_connection,
    pool_timeout_message,
)
from ..engine.nodes import Nodes
from ..engine.settings import Settings, message_limit
from ..exceptions import (
    NotConnectedError,
)
from ..exceptions import TimeoutError as ClientTimeoutError
from ..protocol import Package, PackageType, auth_payload
from ..room.registry import Request, RoomRegistry
from ..transport import Address, open_driver
from .connection import Connection, RetryHandler

_log = logging.getLogger("thingsdb.client")


#: How the pool connects: the Client's settings, checked there.
PoolSettings = Settings


class NodePool(Nodes[Connection]):
    """The connections of one client to the nodes of its pool (the state
    and decisions of :class:`thingsdb.engine.nodes.Nodes`, carried out with
    tasks and futures); see the module docstring."""

    __slots__ = (
        "_bridge_hold",
        "_connected",
        "_last_error",
        "_loop",
        "_on_event",
        "_on_retry",
        "_rooms",
        "_status_seen",
        "reconnect_task",
        "settings",
    )

    def __init__(
        self,
        settings: PoolSettings,
        rooms: RoomRegistry[Any],
        loop: Callable[[], asyncio.AbstractEventLoop],
        on_event: Callable[[Connection, Package], None],
        on_retry: RetryHandler,
    ) -> None:
        self.settings = settings
        self._rooms = rooms
        self._loop = loop
        self._on_event = on_event
        self._on_retry = on_retry
        self.init_nodes()
        # keeps the connection left behind during a move (the bridge) open
        # until the rooms are joined on the next node
        self._bridge_hold: asyncio.Future[None] | None = None
        # resolved at the next status of the node in use (or a new node):
        # requests waiting for a ready node try again at once
        self._status_seen: asyncio.Future[None] | None = None
        #: The running (or last) reconnect, kept referenced until it ends.
        self.reconnect_task: asyncio.Task[None] | None = None
        # resolved when a connection is there (or the attempt ended)
        self._connected: asyncio.Future[None] | None = None
        self._last_error = ""

    # -- what the Client starts ------------------------------------------------

    def begin(self) -> None:
        """A connect() or connect_pool() starts: it replaces any earlier
        pool and its reconnect."""
        self._cancel_reconnect()
        super().begin()

    async def connect(self, address: Address, deadline: float | None) -> None:
        """connect(): one node, no login yet."""
        try:
            conn = await self._open(address, deadline)
        except BaseException:
            self._connect_failed()
            raise
        if self.closing:  # close() came while connecting
            self.leaving.add(conn)
            conn.close()
            raise NotConnectedError("the client was closed while connecting")
        self.one_node(address)
        self._use(conn)

    async def connect_pool(
        self,
        addresses: list[Address],
        credentials: Credentials,
        timeout: float | None,
    ) -> None:
        """connect_pool(): a random node first, then the others in turn,
        within ``timeout`` for the first connection."""
        self.pool(addresses, credentials)
        task = self._start_reconnect(switch=False)
        assert task is not None
        deadline = deadline_after(self._loop(), timeout)
        try:
            # asyncio.wait: the task ends (connected, or cancelled by close())
            # without raising here; a timeout leaves it to _connect_failed()
            await wait_until(
                asyncio.wait({task}), deadline, "connecting to a node of the pool"
            )
        except ClientTimeoutError as exc:
            self._connect_failed()
            raise ClientTimeoutError(
                pool_timeout_message(timeout, self._last_error)
            ) from exc
        except BaseException:
            self._connect_failed()
            raise
        if self.closing or task.cancelled():  # close() came while connecting
            raise NotConnectedError("the client was closed while connecting")
        if task.exception() is not None:  # AuthError: wrong credentials
            self._connect_failed()
            task.result()

    async def authenticate(
        self, credentials: Credentials, timeout: float | None
    ) -> None:
        """Log in on the connection in use; the credentials are kept for
        every reconnect."""
        conn = self.conn
        if conn is None or not conn.usable:
            raise NotConnectedError("not connected; call connect() first")
        deadline = deadline_after(self._loop(), timeout)
        await self._authenticate(conn, credentials, deadline, timeout)
        self.credentials = credentials

    def reconnect(self) -> asyncio.Task[None] | None:
        """A new connection, to the next node if there is one; None when a
        reconnect runs already (see Client.reconnect)."""
        if self.reconnect_task is not None and not self.reconnect_task.done():
            return None
        if not self.addresses:
            raise NotConnectedError("nothing to reconnect to; call connect() first")
        self.closing = False
        return self._start_reconnect(switch=True)

    def close(self) -> None:
        """No more connections: the reconnect ends, every connection closes
        and requests waiting for one learn it."""
        self.closing = True
        task, self.reconnect_task = self.reconnect_task, None
        if task is not None:
            task.cancel()
            self.reconnect_task = task  # kept so wait_closed() can await it
        conn, self.conn = self.conn, None
        if conn is not None:
            self.leaving.add(conn)
        for leaving in list(self.leaving):
            leaving.close()
        self._wake_connection_waiters()

    async def wait_closed(self) -> None:
        """Wait until the reconnect and every connection have ended."""
        task = self.reconnect_task
        if task is not None:
            await asyncio.wait([task])
            if self.reconnect_task is task:
                self.reconnect_task = None
        waits: list[asyncio.Future[None]] = [c.closed for c in self.leaving]
        if self.conn is not None:
            waits.append(self.conn.closed)
        if waits:
            await asyncio.wait(waits)

    # -- what the request path asks -------------------------------------------

    async def wait_for_connection(self, deadline: float | None) -> Connection:
        """The connection in use, once there is one (reconnecting when the
        settings allow); NotConnectedError when there will be none."""
        while True:
            if self.closing:
                raise NotConnectedError("the client is closed")
            conn = self.conn
            if conn is not None and conn.usable:
                return conn
            reconnecting = (
                self.reconnect_task is not None and not self.reconnect_task.done()
            )
            if not reconnecting:
                error = no_connection(
                    False, len(self.addresses), self.settings.auto_reconnect
                )
                if error is not None:
                    raise error
                self._start_reconnect(switch=False)
            task = self.reconnect_task
            if self._connected is None:
                self._connected = self._loop().create_future()
            await wait_until(
                asyncio.shield(self._connected), deadline, "waiting for a connection"
            )
            if task is not None and task.done() and not task.cancelled():
                failure = task.exception()
                if failure is not None:
                    raise NotConnectedError(f"cannot connect: {failure}") from failure

    def move_on(self, conn: Connection) -> None:
        """``conn``'s node cannot take requests: when it is the connection
        in use, new requests wait for the next node at once, and ``conn``
        stays until the answers it owes are in and the rooms are joined on
        the next node."""
        if not self.moves_on(conn):
            return
        if conn.usable:
            self._retire(conn)
        self._start_reconnect(switch=True)

    def node_status(self, conn: Connection, leaves: bool) -> None:
        """The node in use said its status (the Client told the user
        already); ``leaves``: the client moves on."""
        self._saw_status()
        if leaves:
            self.move_on(conn)

    async def wait_for_status(self, timeout: float) -> None:
        """Wait ``timeout`` seconds, or less when the node in use (or a
        new one) says its status first."""
        if self._status_seen is None or self._status_seen.done():
            self._status_seen = self._loop().create_future()
        await asyncio.wait([self._status_seen], timeout=timeout)

    # -- connections -------------------------------------------------------------

    def _connect_failed(self) -> None:
        """connect() or connect_pool() failed: nothing to reconnect to, and
        requests waiting for a connection learn it now."""
        self._cancel_reconnect()
        self.addresses = []
        self._wake_connection_waiters()

    def _cancel_reconnect(self) -> None:
        task = self.reconnect_task
        if task is not None and not task.done():
            task.cancel()

    async def _open(self, address: Address, deadline: float | None) -> Connection:
        settings = self.settings
        conn = Connection(
            address,
            max_package_size=settings.max_package_size,
            on_event=self._on_event,
            on_close=self._on_close,
            on_retry=self._on_retry,
        )
        opening = open_driver(
            address,
            conn,
            settings.ssl,
            # WEBSOCKET_MAX_SIZE is read at every connect
            message_limit(settings.max_package_size),
            settings.websocket_library,
            None if deadline is None else max(0.0, deadline - self._loop().time()),
        )
        driver = await wait_until(opening, deadline, f"connecting to {address}")
        conn.attach(driver)
        if settings.ping_interval is not None:
            conn.start_keepalive(settings.ping_interval, settings.ping_timeout)
        _log.info("connected to %s", address)
        return conn

    async def _authenticate(
        self,
        conn: Connection,
        credentials: Credentials,
        deadline: float | None,
        timeout: float | None,
    ) -> None:
        payload = auth_payload(credentials.payload())
        with login_errors(conn.address):
            await conn.request(PackageType.AUTH, payload, deadline, timeout)

    def _use(self, conn: Connection, idx: int | None = None) -> None:
        old = self.use(conn, idx)
        if old is not None:  # it was in use until now
            self._retire(old)
        self._wake_connection_waiters()
        self._saw_status()

    def _retire(self, conn: Connection) -> None:
        """Send nothing more on ``conn``; close it once its answers are in
        and, when rooms are joined, once the move that replaces it is over:
        until then its room events fill the seam (see Client._on_event)."""
        if not self._rooms.all():
            conn.retire()
            return
        if self._bridge_hold is None or self._bridge_hold.done():
            self._bridge_hold = self._loop().create_future()
        conn.retire(self._bridge_hold)

    def _end_bridge(self) -> None:
        """The move is over (or given up): room events come from the
        connection in use only, and the one left behind may close."""
        self.bridge = None
        self._rooms.end_bridge()
        hold, self._bridge_hold = self._bridge_hold, None
        if hold is not None and not hold.done():
            hold.set_result(None)

    def _saw_status(self) -> None:
        seen, self._status_seen = self._status_seen, None
        if seen is not None and not seen.done():
            seen.set_result(None)

    def _wake_connection_waiters(self) -> None:
        waiters, self._connected = self._connected, None
        if waiters is not None and not waiters.done():
            waiters.set_result(None)

    def _on_close(self, conn: Connection, exc: Exception | None) -> None:
        switch = self.lost(conn, self.settings.auto_reconnect)
        if switch is not None:
            self._start_reconnect(switch)

    # -- reconnecting ------------------------------------------------------------

    def _start_reconnect(self, switch: bool) -> asyncio.Task[None] | None:
        task = self.reconnect_task
        if task is not None and not task.done():
            return None
        task = self._loop().create_task(self._reconnect_loop(switch))
        task.add_done_callback(self._reconnect_done)
        self.reconnect_task = task
        return task

    async def _reconnect_loop(self, switch: bool) -> None:
        """Carry out a :class:`~thingsdb.engine.failover.Reconnect` (which
        node, the pauses, when to give up): until an attempt connects,
        authenticates and has joined the rooms again."""
        settings = self.settings
        plan = self.reconnect_plan(
            switch, settings.reconnect_delay, settings.reconnect_max_delay
        )
        while not self.closing:
            address = plan.address
            conn: Connection | None = None
            connect_timeout = settings.connect_timeout()
            # one deadline for every step
            deadline = deadline_after(self._loop(), connect_timeout)
            try:
                conn = await self._open(address, deadline)
                if self.credentials is not None:
                    await self._authenticate(
                        conn, self.credentials, deadline, connect_timeout
                    )
                if self.closing:  # close() came while this attempt finished
                    self.leaving.add(conn)
                    conn.close()
                    return
                waited = await self._settle()
                if deadline is not None:  # the wait is not the new node's
                    deadline += waited
                self._use(conn, plan.idx)
                if self._rooms.all():
                    await self._rooms.rejoin(
                        self._sender(conn, deadline, connect_timeout)
                    )
                self._end_bridge()
                return
            except asyncio.CancelledError:
                if conn is not None:
                    conn.close()
                raise
            except Exception as exc:  # noqa: BLE001 - the plan says what follows
                if conn is not None:
                    if conn is self.conn:
                        # it was in use: its requests finish, new ones wait
                        conn.retire()
                    else:
                        conn.close()
                try:
                    pause = plan.failed(exc)
                finally:
                    self._last_error = plan.last_error
                if pause:
                    await asyncio.sleep(pause)

    async def _settle(self) -> float:
        """Before a new connection takes requests: the answers the nodes
        left behind still owe (see MOVE_SETTLE_LIMIT); the seconds waited."""
        owing = self.owing()
        if not owing:
            return 0.0
        started = self._loop().time()
        await asyncio.gather(*(c.answered(MOVE_SETTLE_LIMIT) for c in owing))
        return self._loop().time() - started

    def _sender(
        self, conn: Connection, deadline: float | None, timeout: float
    ) -> Request:
        """Requests straight on ``conn`` within ``deadline``: what re-joining
        the rooms uses, so that it never waits for the reconnect it is part
        of; any failure fails the attempt."""

        def send(tp: int, payload: bytes, _timeout: float | None) -> Awaitable[Any]:
            return conn.request(tp, payload, deadline, timeout)

        return send

    def _reconnect_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled():
            task.exception()  # retrieved here; wait_for_connection reports it
        if task is self.reconnect_task:  # (not one replaced by a newer one)
            self._end_bridge()
        # however it ended, requests waiting for a connection look again
        self._wake_connection_waiters()
