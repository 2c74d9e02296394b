"""One connection to one node: the protocol core driven by a transport.

The connection writes requests, matches answers to their waiters by package
id, applies deadlines with timer handles (no task per request) and fails
whatever is still waiting when the connection ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..exceptions import (
    ConnectionLostError,
    ProtocolError,
    error_from_data,
)
from ..exceptions import (
    TimeoutError as ClientTimeoutError,
)
from ..protocol import (
    EVENT_TYPES,
    RESPONSE_TYPES,
    Package,
    PackageDecoder,
    PackageType,
    PendingRequests,
    frame,
)
from ..transport import Address, Driver
from .failfile import dump_failed_payload

_log = logging.getLogger("thingsdb.connection")

_DATA = PackageType.DATA
_ERROR = PackageType.ERROR

T = TypeVar("T")


class NotSent(Exception):
    """Internal: the connection closed before the request was written, so it
    can safely go out on another connection."""


async def wait_until(aw: Awaitable[T], deadline: float | None, what: str) -> T:
    """Await ``aw`` until the loop time ``deadline`` (None: no deadline)."""
    if deadline is None:
        return await aw
    remaining = deadline - asyncio.get_running_loop().time()
    try:
        if remaining <= 0:
            raise asyncio.TimeoutError
        return await asyncio.wait_for(aw, remaining)
    except asyncio.TimeoutError:
        if isinstance(aw, asyncio.Future):
            aw.cancel()
        elif asyncio.iscoroutine(aw):
            aw.close()
        raise ClientTimeoutError(f"timed out while {what}") from None


def _expire(fut: asyncio.Future[Any], timeout: float | None) -> None:
    if not fut.done():
        fut.set_exception(
            ClientTimeoutError(f"no answer from the node within {timeout} seconds")
        )


class Connection:
    """Requests and answers over one driver; see the module docstring."""

    def __init__(
        self,
        address: Address,
        *,
        max_package_size: int,
        on_event: Callable[[Connection, Package], None],
        on_close: Callable[[Connection, Exception | None], None],
    ) -> None:
        self.address = address
        self._loop = asyncio.get_running_loop()
        self._decoder = PackageDecoder(max_package_size)
        self._pending: PendingRequests[asyncio.Future[Any]] = PendingRequests()
        self._id_waiters: deque[asyncio.Future[None]] = deque()
        self._driver: Driver | None = None
        self._on_event = on_event
        self._on_close = on_close
        self._close_reason = ""
        self._retiring = False
        self._ping_timer: asyncio.TimerHandle | None = None
        self._ping_interval = 0.0
        self._ping_timeout = 0.0
        #: Resolved (never failed) once the connection is gone.
        self.closed: asyncio.Future[None] = self._loop.create_future()

    def __repr__(self) -> str:
        state = "closed" if self.closed.done() else "open"
        return f"<Connection {self.address} {state} pending={len(self._pending)}>"

    def attach(self, driver: Driver) -> None:
        self._driver = driver

    # -- keepalive -----------------------------------------------------------------

    def start_keepalive(self, interval: float, timeout: float) -> None:
        """PING every ``interval`` seconds; with no PONG within ``timeout``
        the peer is taken for dead (a half-open connection) and the
        connection is aborted. Timer callbacks only, no task."""
        self._ping_interval = interval
        self._ping_timeout = timeout
        self._ping_timer = self._loop.call_later(interval, self._ping)

    def _ping(self) -> None:
        self._ping_timer = None
        driver = self._driver
        if driver is None or self.closed.done() or driver.is_closing():
            return
        fut: asyncio.Future[Any] = self._loop.create_future()
        pid = self._pending.reserve(fut)
        if pid is None:  # every id in flight: the peer is clearly talking
            self._ping_timer = self._loop.call_later(self._ping_interval, self._ping)
            return
        driver.write(frame(pid, PackageType.PING))
        deadline = self._loop.call_later(self._ping_timeout, self._no_pong, fut)
        fut.add_done_callback(lambda f: self._pong(f, deadline))

    def _pong(self, fut: asyncio.Future[Any], deadline: asyncio.TimerHandle) -> None:
        deadline.cancel()
        if not fut.cancelled() and fut.exception() is not None:
            return  # the connection is gone; nothing more to ping
        if not self.closed.done():
            self._ping_timer = self._loop.call_later(self._ping_interval, self._ping)

    def _no_pong(self, fut: asyncio.Future[Any]) -> None:
        if fut.done():
            return
        fut.cancel()  # its id stays reserved until the connection ends
        _log.warning(
            "no answer to a keepalive ping from %s within %g seconds; closing",
            self.address,
            self._ping_timeout,
        )
        self._close_reason = "closed: the node stopped answering keepalive pings"
        if self._driver is not None:
            self._driver.abort()

    @property
    def usable(self) -> bool:
        """True while new requests may be sent on this connection."""
        driver = self._driver
        return (
            driver is not None
            and not self._retiring
            and not self.closed.done()
            and not driver.is_closing()
        )

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    # -- requests ----------------------------------------------------------------

    async def request(
        self,
        tp: int,
        payload: bytes,
        deadline: float | None,
        timeout: float | None,
    ) -> Any:
        """Send one request and return its answer's value.

        Raises NotSent if the connection closed before the request was
        written; after it is written, only an answer, the deadline or the end
        of the connection (ConnectionLostError) finishes it.
        """
        loop = self._loop
        fut: asyncio.Future[Any] = loop.create_future()
        pending = self._pending
        while True:
            driver = self._driver
            if driver is None or not self.usable:
                raise NotSent
            if driver.writing_paused():
                await wait_until(driver.wait_writable(), deadline, "waiting to write")
                continue
            pid = pending.reserve(fut)
            if pid is not None:
                break
            # All 65,535 ids are in flight: wait for one to come back rather
            # than reuse an id whose answer may still arrive.
            waiter: asyncio.Future[None] = loop.create_future()
            self._id_waiters.append(waiter)
            try:
                await wait_until(waiter, deadline, "waiting for a free request id")
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    # woken for a free id we will not take: pass it on
                    self._wake_id_waiters()
                raise

        driver.write(frame(pid, tp, payload))
        if deadline is None:
            return await fut
        handle = loop.call_at(deadline, _expire, fut, timeout)
        try:
            return await fut
        finally:
            handle.cancel()

    # -- Receiver ------------------------------------------------------------------

    def on_data(self, data: bytes) -> None:
        try:
            packages = self._decoder.feed(data)
        except ProtocolError as exc:
            for pkg in exc.packages:
                self._dispatch(pkg)
            self.on_protocol_error(exc)
            return
        for pkg in packages:
            self._dispatch(pkg)

    def on_lost(self, exc: Exception | None) -> None:
        if self.closed.done():
            return
        reason = self._close_reason or (
            f"lost ({exc})" if exc is not None else "closed by the node"
        )
        message = (
            f"connection to {self.address} {reason} before the answer arrived; "
            "the request may or may not have run"
        )
        for fut in self._pending.drain():
            if not fut.done():
                err = ConnectionLostError(message)
                err.__cause__ = exc
                fut.set_exception(err)
        self._wake_id_waiters(all_of_them=True)
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None
        self.closed.set_result(None)
        _log.info("connection to %s %s", self.address, reason)
        self._on_close(self, exc)

    # -- closing -------------------------------------------------------------------

    def close(self, reason: str = "closed by the client") -> None:
        """Close; requests still waiting fail with ConnectionLostError."""
        if not self._close_reason:
            self._close_reason = reason
        if self._driver is not None:
            self._driver.close()

    def retire(self) -> None:
        """Take no new requests; close once every answer is in."""
        self._retiring = True
        waiting = [fut for fut in self._pending.waiters() if not fut.done()]
        if not waiting:
            self.close("retired")
            return
        # close once no caller waits any more (answered, timed out or
        # cancelled): an abandoned request may never be answered
        left = len(waiting)

        def one_done(_: asyncio.Future[Any]) -> None:
            nonlocal left
            left -= 1
            if left == 0:
                self.close("retired")

        for fut in waiting:
            fut.add_done_callback(one_done)

    # -- internals -----------------------------------------------------------------

    def _dispatch(self, pkg: Package) -> None:
        tp = pkg.type
        if tp in RESPONSE_TYPES:
            fut = self._pending.pop(pkg.pid)
            if fut is None:
                _log.warning(
                    "dropped an answer (type %#04x) for pid %d, which no request "
                    "is waiting for",
                    tp,
                    pkg.pid,
                )
                return
            if self._id_waiters:
                self._wake_id_waiters()
            if fut.done():
                return  # the caller timed out or was cancelled: drop it
            if tp == _DATA:
                fut.set_result(pkg.data)
            elif tp == _ERROR:
                fut.set_exception(error_from_data(pkg.data))
            else:
                fut.set_result(None)
        elif tp in EVENT_TYPES:
            try:
                self._on_event(self, pkg)
            except Exception:  # noqa: BLE001 - a handler's bug must not stop reading
                _log.exception("event handler failed on package type %#04x", tp)
        else:
            _log.warning("ignored a package of unknown type %#04x", tp)

    def on_protocol_error(self, exc: ProtocolError) -> None:
        _log.error("protocol error from %s: %s; closing", self.address, exc)
        if exc.payload is not None:
            dump_failed_payload(exc.payload)
        for fut in self._pending.drain():
            if not fut.done():
                err = ProtocolError(f"{exc}; the connection was closed")
                err.__cause__ = exc
                fut.set_exception(err)
        self._close_reason = "closed after a protocol error"
        if self._driver is not None:
            self._driver.abort()

    def _wake_id_waiters(self, all_of_them: bool = False) -> None:
        waiters = self._id_waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                if not all_of_them:
                    return
