"""One connection to one node: the protocol core driven by a transport.

The connection writes requests, matches answers to their waiters by package
id, applies deadlines with timer handles (no task per request) and fails
whatever is still waiting when the connection ends.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..deadlines import wait_until
from ..engine import keepalive
from ..engine.failfile import dump_failed_payload
from ..engine.requests import NotSent
from ..exceptions import (
    ConnectionLostError,
    NodeError,
    ProtocolError,
    error_from_answer,
)
from ..exceptions import (
    TimeoutError as ClientTimeoutError,
)
from ..protocol import (
    EVENT_TYPES,
    HEADER,
    RESPONSE_TYPES,
    Package,
    PackageDecoder,
    PackageType,
    PendingRequests,
    frame,
)
from ..protocol.typed import TypedPayload
from ..transport import Address, Driver
from .future import RequestFuture, Retry, new_request

_log = logging.getLogger("thingsdb.connection")

_pack_header = HEADER.pack
_unpack_pid = struct.Struct("<H").unpack_from
_DATA = int(PackageType.DATA)
_ERROR = int(PackageType.ERROR)
#: At most this many frames wait for the end of the loop iteration.
_MAX_CORKED = 256
# plain ints: the membership tests run once per received package
_RESPONSE_TYPES = frozenset(int(tp) for tp in RESPONSE_TYPES)
_EVENT_TYPES = frozenset(int(tp) for tp in EVENT_TYPES)

#: What the connection hands a RequestFuture to instead of failing it.
RetryHandler = Callable[
    ["Connection", "RequestFuture[Any]", "NotSent | NodeError | ConnectionLostError"],
    None,
]


def _expire(fut: asyncio.Future[Any], timeout: float | None) -> None:
    if not fut.done():
        fut.set_exception(
            ClientTimeoutError(f"no answer from the node within {timeout} seconds")
        )


def _expire_queued(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_exception(
            ClientTimeoutError("timed out while waiting for a free request id")
        )


@dataclass(slots=True, eq=False)
class _Queued:
    """A request waiting for a free id: no coroutine, just what it needs."""

    fut: asyncio.Future[Any]
    tp: int
    payload: bytes
    deadline: float | None
    timeout: float | None
    handle: asyncio.TimerHandle | None = None


class Connection:
    """Requests and answers over one driver; see the module docstring."""

    def __init__(
        self,
        address: Address,
        *,
        max_package_size: int,
        on_event: Callable[[Connection, Package], None],
        on_close: Callable[[Connection, Exception | None], None],
        on_retry: RetryHandler | None = None,
    ) -> None:
        self.address = address
        self._loop = asyncio.get_running_loop()
        self._decoder = PackageDecoder(max_package_size)
        self._whole_messages = address.kind == "ws"
        self._pending: PendingRequests[asyncio.Future[Any]] = PendingRequests()
        # Requests waiting for a free id, first come first served; each gets
        # an id as soon as an answer frees one (see _send_queued).
        self._queue: deque[_Queued] = deque()
        self._driver: Driver | None = None
        # Frames of requests made while others are in flight, written as one
        # chunk at the end of the loop iteration (see _write): if the
        # connection goes before the flush, they were never written and go
        # on as NotSent (out again on the next connection).
        self._corked: list[bytes] = []
        self._on_event = on_event
        self._on_close = on_close
        self._on_retry = on_retry
        self._close_reason = ""
        self._retiring = False
        self._ping_timer: asyncio.TimerHandle | None = None
        self._pong_timer: asyncio.TimerHandle | None = None
        #: something arrived since the last PING went out (see _no_pong)
        self._heard = False
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
        """PING every ``interval`` seconds, with timer callbacks only (no
        task); what a PING without its PONG means is
        :mod:`thingsdb.engine.keepalive`'s verdict."""
        self._ping_interval = interval
        self._ping_timeout = timeout
        self._ping_timer = self._loop.call_later(interval, self._ping)
        if self._driver is not None:
            self._driver.keep_alive(interval, timeout)

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
        self._write(frame(pid, PackageType.PING))
        self._heard = False
        self._pong_timer = self._loop.call_later(self._ping_timeout, self._no_pong, fut)
        fut.add_done_callback(self._pong)

    def _pong(self, fut: asyncio.Future[Any]) -> None:
        if self._pong_timer is not None:
            self._pong_timer.cancel()
            self._pong_timer = None
        if not fut.cancelled() and fut.exception() is not None:
            return  # the connection is gone; nothing more to ping
        if not self.closed.done():
            self._ping_timer = self._loop.call_later(self._ping_interval, self._ping)

    def _no_pong(self, fut: asyncio.Future[Any]) -> None:
        self._pong_timer = None
        if fut.done():
            return
        waiting = any(not f.done() and f is not fut for f in self._pending.waiters())
        if not keepalive.gone(self._heard, waiting):
            # the node talks, or may be busy with our requests: look again
            self._heard = False
            self._pong_timer = self._loop.call_later(
                self._ping_timeout, self._no_pong, fut
            )
            return
        fut.cancel()  # its id stays reserved until the connection ends
        self._close_reason = keepalive.tell_gone(self.address, self._ping_timeout)
        if self._driver is not None:
            self._driver.abort()

    @property
    def ended(self) -> bool:
        """Nothing more is read or written (:attr:`closed` is done)."""
        return self.closed.done()

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

    # -- requests ----------------------------------------------------------------

    def request(
        self,
        tp: int,
        payload: bytes,
        deadline: float | None,
        timeout: float | None,
    ) -> Awaitable[Any]:
        """Send one request; await the result for its answer's value.

        Raises NotSent if the connection closed before the request was
        written; after it is written, only an answer, the deadline or the end
        of the connection (ConnectionLostError) finishes it. (What the client
        itself sends: its login, and requests it sends again.)
        """
        driver = self._driver
        # the checks of ``usable``, inlined; a closed connection's driver is
        # closing too
        if driver is None or self._retiring or driver.is_closing():
            raise NotSent
        if driver.writing_paused:
            return self._request_waiting(tp, payload, deadline, timeout)
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._submit(fut, tp, payload, deadline, timeout)
        return fut

    def send(
        self,
        tp: int,
        payload: bytes,
        deadline: float | None,
        timeout: float | None,
        resends: int,
    ) -> RequestFuture[Any] | None:
        """Send one request and return its RequestFuture, which stays the
        caller's until the end: what would allow another try goes to
        ``on_retry`` rather than into the future. None (nothing sent) when
        the connection takes no requests or the socket takes no data now.

        This is the path of every ``query()`` and ``run()``: the common case
        (an id free, the socket taking data) is written out here, in one
        function and without a coroutine.
        """
        driver = self._driver
        if (
            driver is None
            or self._retiring
            or driver.writing_paused
            or driver.is_closing()
        ):
            return None
        fut: RequestFuture[Any] = RequestFuture(loop=self._loop)
        fut.retry = (tp, payload, deadline, timeout, resends)
        pid = None if self._queue else self._pending.reserve(fut)
        if pid is None:
            self._enqueue(fut, tp, payload, deadline, timeout)
            return fut
        if type(payload) is TypedPayload:  # client.typed(T): read as T
            self._decoder.expect(pid, payload.decoder)
        data = _pack_header(len(payload), pid, tp, tp ^ 0xFF) + payload
        corked = self._corked
        if corked:
            corked.append(data)
            if len(corked) >= _MAX_CORKED:
                self._flush()  # bounded: a burst is written in slices
        elif len(self._pending.table) > 1:
            corked.append(data)
            self._loop.call_soon(self._flush)
        else:
            driver.write(data)
        if deadline is not None:
            self._arm_deadline(fut, deadline, timeout)
        return fut

    def _submit(
        self,
        fut: asyncio.Future[Any],
        tp: int,
        payload: bytes,
        deadline: float | None,
        timeout: float | None,
    ) -> None:
        """Reserve an id for ``fut`` and write its frame, or queue it until
        an id is free."""
        pid = None if self._queue else self._pending.reserve(fut)
        if pid is None:
            self._enqueue(fut, tp, payload, deadline, timeout)
            return
        if type(payload) is TypedPayload:
            self._decoder.expect(pid, payload.decoder)
        self._write(frame(pid, tp, payload))
        if deadline is not None:
            self._arm_deadline(fut, deadline, timeout)

    def _enqueue(
        self,
        fut: asyncio.Future[Any],
        tp: int,
        payload: bytes,
        deadline: float | None,
        timeout: float | None,
    ) -> None:
        """All 65,535 ids are in flight: wait (in line) for one to come back
        rather than reuse an id whose answer may still arrive."""
        entry = _Queued(fut, tp, payload, deadline, timeout)
        if deadline is not None:
            entry.handle = self._loop.call_at(deadline, _expire_queued, fut)
        self._queue.append(entry)

    def _not_sent(self, fut: asyncio.Future[Any]) -> None:
        """``fut`` was never written: a RequestFuture goes to ``on_retry``
        (it may go out on another connection), any other gets NotSent."""
        if fut.done():
            return
        if self._on_retry is not None and type(fut) is RequestFuture:
            self._on_retry(self, fut, NotSent())
        else:
            fut.set_exception(NotSent())

    def _arm_deadline(
        self, fut: asyncio.Future[Any], deadline: float, timeout: float | None
    ) -> None:
        """Fail ``fut`` with a TimeoutError at ``deadline``: a timer handle,
        dropped as soon as the answer is in."""
        handle = self._loop.call_at(deadline, _expire, fut, timeout)
        fut.add_done_callback(lambda _: handle.cancel())

    def _send_queued(self) -> None:
        """Ids came back: write the requests waiting for one, in order."""
        driver = self._driver
        if driver is None or not self.usable:
            return  # on_lost (or retire) fails them with NotSent
        queue = self._queue
        pending = self._pending
        while queue and not pending.is_full():
            entry = queue.popleft()
            fut = entry.fut
            if entry.handle is not None:
                entry.handle.cancel()
            if fut.done():
                continue  # timed out or cancelled while waiting
            pid = pending.reserve(fut)
            assert pid is not None
            if type(entry.payload) is TypedPayload:
                self._decoder.expect(pid, entry.payload.decoder)
            self._write(frame(pid, entry.tp, entry.payload))
            if entry.deadline is not None:
                self._arm_deadline(fut, entry.deadline, entry.timeout)

    def _fail_queued(self) -> None:
        """Requests waiting for an id were never written: NotSent."""
        queue, self._queue = self._queue, deque()
        for entry in queue:
            if entry.handle is not None:
                entry.handle.cancel()
            self._not_sent(entry.fut)

    async def _request_waiting(
        self,
        tp: int,
        payload: bytes,
        deadline: float | None,
        timeout: float | None,
    ) -> Any:
        """``request`` once the transport takes data again (its buffer was
        full); from there on it is the common path, free ids included."""
        while True:
            driver = self._driver
            if driver is None or not self.usable:
                raise NotSent
            if not driver.writing_paused:
                return await self.request(tp, payload, deadline, timeout)
            await wait_until(driver.wait_writable(), deadline, "waiting to write")

    def _write(self, data: bytes) -> None:
        """Write one request's frame, in order (``send`` has this inlined).

        A lone request is written at once. When other requests are in flight,
        frames made during the same loop iteration are joined and written
        once, at the end of the iteration: one system call instead of one per
        request. Nothing else changes on the wire.
        """
        corked = self._corked
        if corked:
            corked.append(data)
            if len(corked) >= _MAX_CORKED:
                self._flush()  # bounded: a burst is written in slices
        elif len(self._pending.table) > 1:
            corked.append(data)
            self._loop.call_soon(self._flush)
        else:
            assert self._driver is not None
            self._driver.write(data)

    def _flush(self) -> None:
        corked = self._corked
        if not corked:
            return
        driver = self._driver
        if driver is None or driver.is_closing():
            return  # on_lost hands them on (_fail_unsent): never written
        self._corked = []
        driver.write_many(corked)

    def _fail_unsent(self) -> None:
        """The connection is gone: corked requests were never written, so
        their ids are released and they go on as never sent."""
        corked, self._corked = self._corked, []
        pending = self._pending
        for data in corked:
            fut = pending.pop(_unpack_pid(data, 4)[0])
            if fut is not None:
                self._not_sent(fut)

    # -- Receiver ------------------------------------------------------------------

    def on_data(self, data: bytes | memoryview) -> None:
        self._heard = True
        try:
            packages = self._decoder.feed(data)
        except ProtocolError as exc:
            for pkg in exc.packages:
                self._dispatch(pkg)
            self.on_protocol_error(exc)
            return
        dispatch = self._dispatch
        for pkg in packages:
            dispatch(pkg)
        if self._pending.table and self._driver is not None:
            # answers still owed: acknowledge this read at once, so the
            # node's next ones are not held back (see transport.quick_ack)
            self._driver.ack_now()
        if self._whole_messages and self._decoder.buffered:
            # a WebSocket message holds one whole package, never a part
            self.on_protocol_error(
                ProtocolError("a WebSocket message held an incomplete package")
            )
            return
        if self._queue:
            self._send_queued()

    def on_lost(self, exc: Exception | None) -> None:
        if self.closed.done():
            return
        self._fail_unsent()
        self._fail_queued()
        reason = self._close_reason or (
            f"lost ({exc})" if exc is not None else "closed by the node"
        )
        message = (
            f"connection to {self.address} {reason} before the answer arrived; "
            "the request may or may not have run"
        )
        on_retry = self._on_retry
        for fut in self._pending.drain():
            if not fut.done():
                err = ConnectionLostError(message)
                err.__cause__ = exc
                if (
                    on_retry is not None
                    and type(fut) is RequestFuture
                    and fut.retry[4] > 0
                ):
                    on_retry(self, fut, err)  # idempotent: it may go again
                else:
                    fut.set_exception(err)
        for timer in (self._ping_timer, self._pong_timer):
            if timer is not None:
                timer.cancel()
        self._ping_timer = self._pong_timer = None
        self.closed.set_result(None)
        _log.info("connection to %s %s", self.address, reason)
        self._on_close(self, exc)

    # -- closing -------------------------------------------------------------------

    def close(self, reason: str = "closed by the client") -> None:
        """Close; requests still waiting fail with ConnectionLostError."""
        if not self._close_reason:
            self._close_reason = reason
        self._flush()  # what was accepted goes out before the close
        if self._driver is not None:
            self._driver.close()

    async def answered(self, timeout: float) -> None:
        """Wait (``timeout`` seconds at most) until no caller waits for an
        answer here any more, or the connection is closed (a request it
        hands on to the next connection is no longer owed here)."""
        waiting = [fut for fut in self._pending.waiters() if not fut.done()]
        if not waiting or timeout <= 0:
            return
        # (a RequestFuture is also a coroutine, which asyncio.wait() refuses)
        all_done = asyncio.get_running_loop().create_future()
        left = len(waiting)

        def one_done(_: asyncio.Future[Any]) -> None:
            nonlocal left
            left -= 1
            if left == 0 and not all_done.done():
                all_done.set_result(None)

        for fut in waiting:
            fut.add_done_callback(one_done)
        first = asyncio.FIRST_COMPLETED
        await asyncio.wait([all_done, self.closed], timeout=timeout, return_when=first)

    def retire(self, until: asyncio.Future[None] | None = None) -> None:
        """Take no new requests; close once every answer is in (and
        ``until``, if given, is done)."""
        self._retiring = True
        self._fail_queued()  # not written: they go out on the next connection
        waiting = [fut for fut in self._pending.waiters() if not fut.done()]
        if until is not None and not until.done():
            waiting.append(until)
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
        pid, tp, data = pkg  # unpacked: quicker than three attribute reads
        if tp in _RESPONSE_TYPES:
            fut = self._pending.pop(pid)
            if fut is None:
                _log.warning(
                    "dropped an answer (type %#04x) for pid %d, which no request "
                    "is waiting for",
                    tp,
                    pid,
                )
                return
            if fut.done():
                return  # the caller timed out or was cancelled: drop it
            if tp == _DATA:
                fut.set_result(data)
            elif tp == _ERROR:
                err = error_from_answer(data)
                if (
                    type(fut) is RequestFuture
                    and type(err) is NodeError
                    and self._on_retry is not None
                ):
                    # maybe "not ready": the client knows whether to retry
                    self._on_retry(self, fut, err)
                else:
                    fut.set_exception(err)
            else:
                fut.set_result(None)
        elif tp in _EVENT_TYPES:
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


__all__ = ["Connection", "RequestFuture", "Retry", "RetryHandler", "new_request"]
