"""The blocking client's engine: connections, the request path with its
retries, reconnects and failover, rooms, callbacks and the watcher.

Requests run on the calling thread (``_connection``). What must go on
between calls runs in threads of the session's own: the watcher (idle
reading, keepalive), a reconnect thread while one is needed, a thread for
the ``on_node_status``/``on_warning`` callbacks, and one per joined room.
None of them holds a reference to the public ``Client``, so a client
nobody uses any more is collected and closed (see ``client``).

Locks, always taken in this order: the session's ``lock``, then a
connection's mutex; the room registry's lock, then a room inbox's lock. No
connection mutex is held while calling out.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..deadlines import (
    INFINITE,
    check_timeout,
    monotonic_deadline,
    positive_timeout,
    wait_step,
)
from ..engine.credentials import Credentials
from ..engine.failover import (
    MOVE_SETTLE_LIMIT,
    login_errors,
    no_connection,
    pool_timeout_message,
)
from ..engine.nodes import BRIDGED, Nodes, warning_from
from ..engine.requests import (
    NotSent,
    Tries,
    after_not_ready,
    may_resend,
    retries_not_ready,
)
from ..engine.settings import Settings, message_limit
from ..exceptions import (
    ConnectionLostError,
    ForbiddenError,
    NodeError,
    NotConnectedError,
)
from ..exceptions import TimeoutError as ClientTimeoutError
from ..features import (
    PEERS_ONLY_EMIT,
    VERSION_CODE,
    VERSION_SCOPE,
    PerConnection,
    too_old,
    version_from,
)
from ..protocol import Package, PackageType, auth_payload, query_payload
from ..telemetry import _switch as telemetry
from ..transport import Address
from ._connection import Connection, outcome
from ._links import open_link
from ._rooms import RoomRegistry
from ._runner import INTERRUPT_CHECK, HandlerThread
from ._watcher import Watcher

_log = logging.getLogger("thingsdb.client")
_numbers = itertools.count(1)
_monotonic = time.monotonic

#: How long close() waits for each thread it ends.
CLOSE_TIMEOUT = 10.0

_EMIT_PEER = int(PackageType.EMIT_PEER)
_QUERY = int(PackageType.QUERY)


class _PoolTimeout(Exception):
    """Internal: connect_pool()'s timeout passed."""


class Session(Nodes[Connection]):
    """Everything of a blocking client but its public face: the state and
    decisions of :class:`thingsdb.engine.nodes.Nodes`, carried out with
    threads and a lock (``lock`` guards the state)."""

    def __init__(self, settings: Settings) -> None:
        #: the client's settings (engine.settings.client_settings); its
        #: websocket_library is checked for the same values as the async
        #: client's, but WebSockets run on websockets' sans-I/O protocol
        #: whatever it says (picows is asyncio only)
        self.settings = settings
        self.auto_reconnect = settings.auto_reconnect
        #: whether the client was made with ``ssl`` (see thingsdb.url)
        self.tls = settings.tls
        self._retry_not_ready = settings.retry_not_ready
        self.scope = "@t"
        self.lock = threading.RLock()
        #: notified when the connection, a status or the reconnect changes
        self.changed = threading.Condition(self.lock)
        self.init_nodes()
        # connections being opened by a reconnect attempt (close() ends them)
        self._attempts: set[Connection] = set()
        # every connection whose socket is not released yet: an ended one's
        # is released by whoever read it last, or, when an interrupt (a
        # second Ctrl-C in a clean-up) cut that short, by the watcher
        self._unreleased: set[Connection] = set()
        # keeps the connection left behind during a move (the bridge) open
        # until the rooms are joined on the next node
        self._bridge_hold: threading.Event | None = None
        self._started = False
        # bumped by connect(), connect_pool() and close(): a reconnect of an
        # earlier generation stops
        self._generation = 0
        self._reconnecting: threading.Thread | None = None
        self._reconnects_done = 0
        self._reconnect_failure: BaseException | None = None
        self._statuses = 0  # statuses of the node in use (and new nodes) seen
        self._last_error = ""
        #: the rooms bound to this client, joined or not (their threads end
        #: at close)
        self.rooms = RoomRegistry(self._room_request)
        #: what is learned once per connection (see thingsdb.features)
        self.versions: PerConnection[str | None] = PerConnection()
        self.emit_peer_ok: PerConnection[bool] = PerConnection()
        self.on_node_status: Callable[[str], object] | None = None
        self.on_warning: Callable[[int, str], object] | None = None
        self._callbacks = HandlerThread(f"thingsdb-sync-callbacks-{next(_numbers)}")
        self._watcher: Watcher | None = None

    # -- state -----------------------------------------------------------------------

    def is_connected(self) -> bool:
        conn = self.conn
        return conn is not None and conn.usable

    def connection_info(self) -> str:
        conn = self.conn
        if conn is None or not conn.usable:
            return "disconnected"
        return str(conn.address)

    def open_connections(self) -> list[Connection]:
        """The connections the watcher looks after."""
        with self.lock:
            conns = list(self.leaving)
            if self.conn is not None:
                conns.append(self.conn)
            return conns

    def release_ended(self) -> bool:
        """Release the sockets of ended connections nobody reads (the
        watcher, and close()). True while an ended one is still being read
        (and so is left for a later look)."""
        with self.lock:
            unreleased = self._unreleased
            if not unreleased:
                return False
            done = [c for c in unreleased if c.released]
            ended = [c for c in unreleased if c.ended and not c.reading]
            unreleased.difference_update(done)
            unreleased.difference_update(ended)
            left = any(c.ended for c in unreleased)
        for conn in ended:
            conn.release()
        return left

    # -- connecting ------------------------------------------------------------------

    def _start_connecting(self) -> int:
        """Checks and state common to connect() and connect_pool(); starts
        the watcher. Returns the new generation."""
        with self.lock:
            if self.is_connected():
                raise RuntimeError("the client is already connected; close() it first")
            self.begin()
            self._generation += 1  # a reconnect of an earlier pool stops
            if self._watcher is None:
                watcher = Watcher(
                    f"thingsdb-sync-watcher-{next(_numbers)}",
                    self.open_connections,
                    self.release_ended,
                )
                watcher.start()
                self._watcher = watcher
            if self._callbacks.stopped:
                self._callbacks = HandlerThread(
                    f"thingsdb-sync-callbacks-{next(_numbers)}"
                )
            self._started = True
            return self._generation

    def _connect_failed(self) -> None:
        """connect() or connect_pool() failed: nothing to reconnect to, and
        requests waiting for a connection learn it now."""
        with self.lock:
            self._generation += 1
            self.addresses = []
            self.changed.notify_all()

    def connect(self, address: Address, timeout: float | None) -> None:
        self._start_connecting()
        deadline = monotonic_deadline(timeout)
        try:
            conn = self._open(address, deadline)
        except BaseException:
            self._connect_failed()
            raise
        with self.lock:
            if self.closing:  # close() came while connecting
                closed = True
            else:
                closed = False
                self.one_node(address)
                self._use(conn)
        if closed:
            conn.close()
            raise NotConnectedError("the client was closed while connecting")

    def connect_pool(
        self,
        addresses: list[Address],
        credentials: Credentials,
        timeout: float | None,
    ) -> None:
        """Try the pool's nodes in turn, on this thread, until one connects
        and authenticates (or ``timeout`` passes)."""
        generation = self._start_connecting()
        with self.lock:
            self.pool(addresses, credentials)
        deadline = monotonic_deadline(timeout)
        try:
            done = self._reconnect_loop(False, generation, deadline)
        except _PoolTimeout:
            self._connect_failed()
            raise ClientTimeoutError(
                pool_timeout_message(timeout, self._last_error)
            ) from None
        except BaseException:
            self._connect_failed()
            raise
        if not done:
            raise NotConnectedError("the client was closed while connecting")

    def authenticate(self, credentials: Credentials, timeout: float | None) -> None:
        conn = self.conn
        if conn is None or not conn.usable:
            if self.closing:
                raise NotConnectedError("the client is closed")
            raise NotConnectedError("not connected; call connect() first")
        deadline = monotonic_deadline(timeout)
        self._authenticate(conn, credentials, deadline, timeout)
        self.credentials = credentials

    def reconnect(self, wait: bool, timeout: float | None) -> None:
        timeout = check_timeout(timeout)
        with self.lock:
            if self.closing or not self._started:
                if self.closing:
                    raise NotConnectedError("the client is closed")
                raise NotConnectedError("not connected; call connect() first")
            running = self._reconnecting
            if running is None:
                if not self.addresses:
                    raise NotConnectedError(
                        "nothing to reconnect to; call connect() first"
                    )
                self._start_reconnect(switch=True)
            if not wait:
                return
            target = self._reconnects_done + 1
            deadline = monotonic_deadline(timeout)
            while self._reconnects_done < target and not self.closing:
                if self._reconnecting is None:
                    return
                self.changed.wait(
                    wait_step(
                        deadline,
                        INTERRUPT_CHECK,
                        f"no new connection within {timeout} seconds (the "
                        "client keeps trying)",
                    )
                )
            failure = self._reconnect_failure
            if failure is not None and self._reconnects_done >= target:
                raise failure

    def _open(self, address: Address, deadline: float | None) -> Connection:
        # WEBSOCKET_MAX_SIZE is read at every connect
        settings = self.settings
        limit = message_limit(settings.max_package_size)
        link = open_link(address, settings.ssl, limit, deadline)
        conn = Connection(
            address,
            link,
            max_package_size=settings.max_package_size,
            on_event=self._on_event,
            on_close=self._on_close,
        )
        with self.lock:
            self._unreleased.add(conn)
        if settings.ping_interval is not None:
            conn.start_keepalive(settings.ping_interval, settings.ping_timeout)
        _log.info("connected to %s", address)
        return conn

    def _authenticate(
        self,
        conn: Connection,
        credentials: Credentials,
        deadline: float | None,
        timeout: float | None,
    ) -> None:
        payload = auth_payload(credentials.payload())
        with login_errors(conn.address):
            conn.request(PackageType.AUTH, payload, deadline, timeout)

    def _use(self, conn: Connection, idx: int | None = None) -> None:
        """(lock held) ``conn`` is the connection in use from now on."""
        old = self.use(conn, idx)
        if old is not None:  # it was in use until now
            self._retire(old)
        self._statuses += 1
        self.changed.notify_all()
        watcher = self._watcher
        if watcher is not None:
            watcher.wake()

    def _retire(self, conn: Connection) -> None:
        """(lock held) Send nothing more on ``conn``; it closes once its
        answers are in and, with rooms joined, once the move is over."""
        if not self.rooms.all():
            conn.retire()
            return
        if self._bridge_hold is None or self._bridge_hold.is_set():
            self._bridge_hold = threading.Event()
        conn.retire(self._bridge_hold)

    def _end_bridge(self) -> None:
        """The move is over (or given up): room events come from the
        connection in use only, and the one left behind may close."""
        with self.lock:
            self.bridge = None
            self.rooms.end_bridge()
            hold, self._bridge_hold = self._bridge_hold, None
            leaving = list(self.leaving)
        if hold is not None:
            hold.set()
            for conn in leaving:
                conn.check_retired()

    def _settle(self) -> float:
        """Before a new connection takes requests: the answers the nodes
        left behind still owe (see MOVE_SETTLE_LIMIT); the seconds waited."""
        with self.lock:
            owing = self.owing()
        if not owing:
            return 0.0
        started = _monotonic()
        until = started + MOVE_SETTLE_LIMIT
        for conn in owing:
            conn.answered(max(0.0, until - _monotonic()))
        return _monotonic() - started

    def _start_reconnect(self, switch: bool) -> None:
        """(lock held) Start the reconnect thread unless one runs."""
        if self._reconnecting is not None or self.closing:
            return
        thread = threading.Thread(
            target=self._reconnect_main,
            args=(switch, self._generation),
            name=f"thingsdb-sync-reconnect-{next(_numbers)}",
            daemon=True,
        )
        self._reconnect_failure = None
        try:
            thread.start()
        except RuntimeError:  # the interpreter is shutting down
            return
        self._reconnecting = thread

    def _reconnect_main(self, switch: bool, generation: int) -> None:
        failure: BaseException | None = None
        try:
            self._reconnect_loop(switch, generation, None)
        except Exception as exc:  # noqa: BLE001 - kept for the callers waiting
            failure = exc
        finally:
            with self.lock:
                mine = self._reconnecting is threading.current_thread()
                if mine:
                    self._reconnecting = None
                    self._reconnect_failure = failure
                    self._reconnects_done += 1
                self.changed.notify_all()
            if mine:
                self._end_bridge()

    def _reconnect_loop(
        self, switch: bool, generation: int, deadline: float | None
    ) -> bool:
        """Carry out a :class:`~thingsdb.engine.failover.Reconnect` (which
        node, the pauses, when to give up) until an attempt connects,
        authenticates and has joined the rooms again; True then, False when
        the client closed (or a newer connect replaced this one)."""
        plan = self.reconnect_plan(
            switch, self.settings.reconnect_delay, self.settings.reconnect_max_delay
        )
        while True:
            if self.closing or generation != self._generation:
                return False
            now = _monotonic()
            if deadline is not None and now >= deadline:
                raise _PoolTimeout
            address = plan.address
            connect_timeout = self.settings.connect_timeout()
            attempt_deadline = now + connect_timeout  # one for every step
            if deadline is not None:
                attempt_deadline = min(attempt_deadline, deadline)
            conn: Connection | None = None
            try:
                conn = self._open(address, attempt_deadline)
                with self.lock:
                    self._attempts.add(conn)
                    stale = self.closing or generation != self._generation
                if not stale and self.credentials is not None:
                    self._authenticate(
                        conn,
                        self.credentials,
                        attempt_deadline,
                        connect_timeout,
                    )
                # the wait is not the new node's: its deadline moves on
                attempt_deadline += self._settle()
                if deadline is not None:
                    attempt_deadline = min(attempt_deadline, deadline)
                with self.lock:
                    self._attempts.discard(conn)
                    stale = self.closing or generation != self._generation
                    if not stale:
                        self._use(conn, plan.idx)
                if stale:
                    conn.close()
                    return False
                if self.rooms.all():
                    self.rooms.rejoin(conn, attempt_deadline, connect_timeout)
                self._end_bridge()
                return True
            except Exception as exc:  # noqa: BLE001 - the plan says what follows
                if conn is not None:
                    self._drop_attempt(conn)
                try:
                    pause = plan.failed(exc)
                finally:
                    self._last_error = plan.last_error
                if pause:
                    self._pause(pause, generation, deadline)
            except BaseException:
                if conn is not None:
                    self._drop_attempt(conn)
                raise

    def _drop_attempt(self, conn: Connection) -> None:
        with self.lock:
            self._attempts.discard(conn)
            in_use = conn is self.conn
        if in_use:
            # it was in use already (the rooms' joins failed): its requests
            # finish, new ones wait for the next node
            conn.retire()
        else:
            conn.close()

    def _pause(self, seconds: float, generation: int, deadline: float | None) -> None:
        """Sleep between reconnect rounds; close() ends it at once."""
        end = _monotonic() + seconds
        if deadline is not None:
            end = min(end, deadline)
        with self.lock:
            while not self.closing and generation == self._generation:
                left = end - _monotonic()
                if left <= 0:
                    return
                self.changed.wait(min(left, INTERRUPT_CHECK))

    # -- requests --------------------------------------------------------------------

    def request(
        self, tp: int, payload: bytes, timeout: float | None, resends: int
    ) -> Any:
        """One request and its answer, on this thread. On the common path
        the connection in use takes it at once; anything else (no
        connection, not ready, lost with resends left) goes to _send."""
        if timeout is None:
            deadline = None
        else:
            timeout = positive_timeout(timeout)
            deadline = _monotonic() + timeout if timeout != INFINITE else None
        conn = self.conn
        if conn is None:
            return self._send(tp, payload, deadline, timeout, None, resends)
        try:
            return conn.request(tp, payload, deadline, timeout)
        except (NotSent, NodeError, ConnectionLostError) as exc:
            return self.recover(tp, payload, deadline, timeout, resends, conn, exc)

    def recover(
        self,
        tp: int,
        payload: bytes,
        deadline: float | None,
        timeout: float | None,
        resends: int,
        conn: Connection,
        exc: Exception,
    ) -> Any:
        """A first try on ``conn`` failed with ``exc``: raise it, or send
        the request again when the rules allow (see _send)."""
        if isinstance(exc, NodeError):
            if not self._retries_not_ready(exc):
                raise exc
        elif isinstance(exc, ConnectionLostError) and not may_resend(
            exc, resends, self.auto_reconnect
        ):
            raise exc
        return self._send(tp, payload, deadline, timeout, (conn, exc), resends)

    def _room_request(self, tp: int, payload: bytes, timeout: float | None) -> Any:
        if telemetry.SWITCH.on is not None:
            telemetry.sending(telemetry.address_of(self.conn))
        if tp == PackageType.EMIT_PEER:  # through _send: see _emit_peer
            timeout = check_timeout(timeout)
            deadline = monotonic_deadline(timeout)
            return self._send(tp, payload, deadline, timeout, None, 0)
        return self.request(tp, payload, timeout, 0)

    def _emit_peer(
        self,
        conn: Connection,
        payload: bytes,
        deadline: float | None,
        timeout: float | None,
    ) -> Any:
        """A peers-only emit on ``conn``: the first one on a connection goes
        out with a PING right behind it, since nodes before 1.8.0 never
        answer one (as the async client's ``_emit_peer``)."""
        known, takes_it = self.emit_peer_ok.get(conn)
        if known and takes_it:
            return conn.request(_EMIT_PEER, payload, deadline, timeout)
        if not known:
            slot = conn.request_fenced(_EMIT_PEER, payload, deadline, timeout)
            self.emit_peer_ok.put(conn, slot is not None)
            if slot is not None:
                return outcome(slot)
        raise too_old(PEERS_ONLY_EMIT, self.version_if_allowed(), str(conn.address))

    def node_version(self, timeout: float | None) -> str:
        """The version of the node in use, read once per connection."""
        known, version = self.versions.get(self.conn)
        if known and version is not None:
            return version
        payload = query_payload(VERSION_SCOPE, VERSION_CODE, {})
        answer = self.request(_QUERY, payload, timeout, 0)
        return self.versions.put(self.conn, version_from(answer)) or str(answer)

    def version_if_allowed(self) -> str | None:
        """node_version(), or None when this user may not read it."""
        known, version = self.versions.get(self.conn)
        if known:
            return version
        try:
            return self.node_version(None)
        except ForbiddenError:
            return self.versions.put(self.conn, None)

    def _send(
        self,
        tp: int,
        payload: bytes,
        deadline: float | None,
        timeout: float | None,
        failed: tuple[Connection, Exception | None] | None,
        resends: int,
    ) -> Any:
        """Send on the connection in use; wait for one if there is none.

        A request goes again only when it was never written (NotSent) or the
        node ran nothing (not ready); once written, it is answered, times
        out, or fails with ConnectionLostError, unless the caller marked it
        idempotent: then it goes again up to ``resends`` times.
        """
        tries = Tries(resends, self._retry_not_ready, self.auto_reconnect)
        while True:
            if failed is not None:
                conn, exc = failed
                not_ready = tries.failed(conn.address, exc)
                if not_ready:
                    assert isinstance(exc, NodeError)
                    self._after_not_ready(conn, exc, not_ready, deadline)
            current = self.conn
            if current is None or not current.usable:
                current = self._wait_for_connection(deadline)
                telemetry.waited_for_connection(current.address)
            try:
                if tp == _EMIT_PEER:
                    return self._emit_peer(current, payload, deadline, timeout)
                return current.request(tp, payload, deadline, timeout)
            except (NotSent, NodeError, ConnectionLostError) as exc:
                failed = (current, exc)

    def _retries_not_ready(self, exc: NodeError) -> bool:
        return retries_not_ready(exc, self._retry_not_ready, self.auto_reconnect)

    def _after_not_ready(
        self, conn: Connection, exc: NodeError, count: int, deadline: float | None
    ) -> None:
        """The ``count``-th not-ready answer to a request (nothing ran):
        carried out as :func:`thingsdb.engine.requests.after_not_ready` says."""
        step = after_not_ready(
            conn.address, exc, count, len(self.addresses), _monotonic(), deadline
        )
        if step.move_on:
            self._move_on(conn)
        if step.give_up:
            raise exc
        if not step.pause:
            return
        end = _monotonic() + step.pause
        with self.lock:
            seen = self._statuses
            while self._statuses == seen and not self.closing:
                left = end - _monotonic()
                if left <= 0:
                    return
                self.changed.wait(min(left, INTERRUPT_CHECK))

    def _move_on(self, conn: Connection) -> None:
        """``conn``'s node cannot take requests: when it is the connection
        in use, new requests wait for the next node at once, and ``conn``
        stays until the answers it owes are in and the rooms are joined on
        the next node."""
        with self.lock:
            if self.moves_on(conn):
                if conn.usable:
                    self._retire(conn)
                self._start_reconnect(switch=True)

    def _wait_for_connection(self, deadline: float | None) -> Connection:
        """The connection in use, once there is one (starting a reconnect
        if none runs). A reconnect that ends without one (wrong
        credentials) fails the requests that waited for it; the next
        request tries again."""
        waited_for: int | None = None  # reconnects ended before ours
        with self.lock:
            while True:
                if self.closing:
                    raise NotConnectedError("the client is closed")
                conn = self.conn
                if conn is not None and conn.usable:
                    return conn
                if self._reconnecting is None:
                    failure = self._reconnect_failure
                    if (
                        waited_for is not None
                        and self._reconnects_done > waited_for
                        and failure is not None
                    ):
                        raise NotConnectedError(
                            f"cannot connect: {failure}"
                        ) from failure
                    error = no_connection(
                        False, len(self.addresses), self.auto_reconnect
                    )
                    if error is not None:
                        raise error
                    self._start_reconnect(switch=False)
                if waited_for is None:
                    waited_for = self._reconnects_done
                self.changed.wait(
                    wait_step(
                        deadline,
                        INTERRUPT_CHECK,
                        "timed out while waiting for a connection",
                    )
                )

    # -- what the connections report -------------------------------------------------

    def _on_close(self, conn: Connection, exc: BaseException | None) -> None:
        with self.lock:
            switch = self.lost(conn, self.auto_reconnect)
            if switch is not None:
                self._start_reconnect(switch)
            self.changed.notify_all()
            watcher = self._watcher
        if watcher is not None:
            watcher.wake()

    def _on_event(self, conn: Connection, pkg: Package) -> None:
        tp, data = pkg.type, pkg.data
        if tp >= PackageType.ROOM_JOIN:
            source = self.room_events_from(conn)
            if source:
                self.rooms.dispatch(tp, data, bridged=source == BRIDGED)
        elif tp == PackageType.NODE_STATUS:
            verdict = self.status_from(conn, data, self.auto_reconnect)
            if verdict is None:
                return
            status, leaves = verdict
            callback = self.on_node_status
            if callback is not None and status is not None:
                self._callback(callback, status)
            with self.lock:
                self._statuses += 1
                self.changed.notify_all()
                if leaves:
                    self._move_on(conn)
        elif tp == PackageType.WARN:
            warning = warning_from(conn.address, data)
            callback_w = self.on_warning
            if warning is not None and callback_w is not None:
                self._callback(callback_w, *warning)

    def _callback(self, fn: Callable[..., object], *args: Any) -> None:
        """Run a user callback in the callbacks thread, in order."""

        def call() -> None:
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - a callback's bug is logged
                _log.exception("the %s callback failed", getattr(fn, "__name__", fn))

        self._callbacks.submit(call)

    # -- closing ---------------------------------------------------------------------

    def close(self, block: bool = True) -> None:
        """Close every connection, end the rooms' and the callbacks'
        threads, the watcher and any reconnect. With ``block``, wait for
        those threads (each at most CLOSE_TIMEOUT seconds); the current
        thread, if one of them, is only asked to end."""
        with self.lock:
            self.closing = True
            self._generation += 1
            conns = [*self.leaving, *self._attempts]
            if self.conn is not None:
                conns.append(self.conn)
            self.conn = None
            reconnecting = self._reconnecting
            watcher, self._watcher = self._watcher, None
            self.changed.notify_all()
        for conn in conns:
            conn.close()
        self.release_ended()
        threads: list[threading.Thread] = []
        for room in self.rooms.stop_all():
            threads.extend(room.inbox.stop())
        threads.extend(self._callbacks.stop(lambda: None))
        if watcher is not None:
            watcher.stop()
            threads.append(watcher.thread)
        if reconnecting is not None:
            threads.append(reconnecting)
        if not block:
            return
        current = threading.current_thread()
        deadline = _monotonic() + CLOSE_TIMEOUT
        for thread in threads:
            if thread is current or not thread.is_alive():
                continue
            thread.join(max(0.0, deadline - _monotonic()))
            if thread.is_alive():
                _log.warning("%s: still running after close()", thread.name)
