"""One connection to one node, for blocking callers: each request is written
and its answer read on the calling thread.

Reading is a role, taken by one thread at a time (leader and followers).
A caller that wrote its request and finds the role free takes it and reads
until its own answer is in; whatever else it reads on the way (other
callers' answers, room events) it hands on, in the order it arrived. A
caller that finds the role taken waits on a lock of its own, which the
reader releases when that caller's answer is in, or when it gives the role
up while the caller still waits (the caller then reads). With one thread, a
request is a write and a read on that thread, as on a bare socket; with
many, one read may bring several answers. When no caller reads, the
client's watcher thread (``_watcher``) reads what arrives.

Interrupts: Python raises KeyboardInterrupt in the main thread only, and at
any point of its Python code. A read interrupted while it waits takes
nothing from the socket, and one that returns data as the interrupt comes
hands the data on first (see :meth:`Connection._read_plain`): the stream
stays in step, the request is abandoned (its id stays reserved until its
answer comes, which is then dropped) and the connection stays. An
interrupt that lands while a request is being written, or while what was
read is being decoded and handed on, leaves the stream in an unknown state:
the connection is then dropped (the client reconnects), never reused. Every
lock and the read role are taken so that an interrupt cannot leave them
taken (``with`` blocks, no call between taking and owning).
"""

from __future__ import annotations

import contextlib
import logging
import select
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from ..deadlines import wait_step
from ..engine import keepalive
from ..engine.failfile import dump_failed_payload
from ..engine.requests import NotSent
from ..exceptions import (
    ConnectionLostError,
    ProtocolError,
    error_from_answer,
)
from ..exceptions import TimeoutError as ClientTimeoutError
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
from ..transport import Address
from ._links import DONTWAIT, POLLIN, READ_SIZE, AnyLink, Link, WriteTimeout

_log = logging.getLogger("thingsdb.connection")

_pack_header = HEADER.pack
_monotonic = time.monotonic
_get_ident = threading.get_ident
_MAIN = threading.main_thread().ident
# Without poll() (Windows), a blocking read is not interrupted by Ctrl-C:
# there the main thread waits in select() steps first (see _SelectPoller)
_STEPPED = not hasattr(select, "poll")

# plain ints: the membership tests run once per received package
_RESPONSE_TYPES = frozenset(int(tp) for tp in RESPONSE_TYPES)
_EVENT_TYPES = frozenset(int(tp) for tp in EVENT_TYPES)
_DATA = int(PackageType.DATA)
_ERROR = int(PackageType.ERROR)
_PING = int(PackageType.PING)

#: Slot state after the connection ended (its value: the error to raise).
#: Any other state above 0 is the type of the answer.
_LOST = 1

_STRAY = "dropped an answer (type %#04x) for pid %d, which no request is waiting for"

#: A request smaller than this takes the read role before it is written
#: (it goes out in one system call); a larger one after.
_EARLY = 64 * 1024

#: The longest a waiting thread sleeps before it looks again (a wake-up
#: that went missing, say after an interrupt, costs at most this long).
WAIT_STEP = 0.25


class Slot:
    """A request's place in the pending table: what its caller learns."""

    __slots__ = ("live", "signalled", "state", "value", "waiter")

    def __init__(self) -> None:
        #: 0 while waiting; the answer's type; or _LOST
        self.state = 0
        self.value: Any = None
        #: a caller still waits for it (False once it timed out or was
        #: interrupted: the answer is then dropped)
        self.live = True
        #: the lock the caller sleeps on while another thread reads
        self.waiter: threading.Lock | None = None
        self.signalled = False


#: The watcher's read role (it waits for no answer of its own).
_WATCHING = Slot()

EventHandler = Callable[["Connection", Package], None]
CloseHandler = Callable[["Connection", "BaseException | None"], None]


class Connection:
    """Requests and answers over one link; see the module docstring."""

    def __init__(
        self,
        address: Address,
        link: AnyLink,
        *,
        max_package_size: int,
        on_event: EventHandler,
        on_close: CloseHandler,
    ) -> None:
        self.address = address
        self.link = link
        self.fd = link.fd
        self._sock = link.sock
        # a plain socket is read here, straight into one reused buffer
        self._plain = type(link) is Link
        self._write_lock = link.write_lock
        self._buffer = bytearray(READ_SIZE if self._plain else 0)
        self._view = memoryview(self._buffer)
        # for the main thread's reads (see _read_plain)
        self._got: list[int] = []
        self._recv_into = self._sock.recv_into
        self._buffers = (self._buffer,)
        # used by the read role's holder only: one at a time
        self._poller = select.poll() if hasattr(select, "poll") else _SelectPoller()
        self._poller.register(self.fd, POLLIN)
        self._decoder = PackageDecoder(max_package_size)
        self._whole_messages = link.whole_messages
        self._pending: PendingRequests[Slot] = PendingRequests()
        self._mutex = threading.Lock()
        self._id_freed = threading.Condition(self._mutex)
        # set once retired and no caller waits for an answer (or ended)
        self._answered = threading.Event()
        self._id_waiters = 0
        #: the slot of the caller that holds the read role (the watcher's
        #: own while it reads); None while nobody reads
        self.reader: Slot | None = None
        self._followers: list[Slot] = []
        #: read roles given up by callers so far (the watcher reads a
        #: connection only when this stood still for a while)
        self.releases = 0
        #: something arrived since the last PING went out
        self.heard = False
        self._on_event = on_event
        self._on_close = on_close
        #: new requests may be sent
        self.usable = True
        self._retiring = False
        self._hold: threading.Event | None = None
        #: ended: nothing more is read or written
        self.ended = False
        #: the socket is closed (after the end, once nothing used it)
        self.released = False
        self._reported = False
        self._reason = ""
        # keepalive, driven by the watcher
        self.ping_interval: float | None = None
        self.ping_timeout = 0.0
        self._next_ping = 0.0
        self._ping: Slot | None = None
        self._ping_sent = 0.0
        self._pong_deadline = 0.0

    @property
    def reading(self) -> bool:
        """Someone holds the read role."""
        return self.reader is not None

    def __repr__(self) -> str:
        state = "closed" if self.ended else "open"
        return f"<Connection {self.address} {state} pending={len(self._pending)}>"

    # -- requests --------------------------------------------------------------------

    def request(
        self,
        tp: int,
        payload: bytes,
        deadline: float | None,
        timeout: float | None,
        before: bytes = b"",
    ) -> Any:
        """Send one request and wait for its answer, on this thread.

        Raises NotSent when it was not written (whole); once written, only
        its answer (a value, or the node's error), the deadline
        (TimeoutError) or the end of the connection (ConnectionLostError,
        ProtocolError) finishes it.

        One function from the reservation to the answer: the read role,
        once taken, is given back in this function's ``finally`` (or by the
        read that brings this request's answer), and it is taken inside
        ``with`` blocks with no call between taking the mutex and setting
        the owner, so no interrupt can leave it taken. A small request
        takes the role (when free) before it is written, which saves a
        round on the mutex; a large one only after, so that while it is
        written the other threads' answers are read.
        """
        slot = Slot()
        mutex = self._mutex
        try:
            with mutex:
                if not self.usable:
                    raise NotSent
                pid = self._pending.reserve(slot)
                if pid is not None and self.reader is None and len(payload) < _EARLY:
                    self.reader = slot
            if pid is None:
                pid = self._reserve_later(slot, deadline)
            if type(payload) is TypedPayload:  # client.typed(T): read as T
                self._decoder.expect(pid, payload.decoder)
            data = _pack_header(len(payload), pid, tp, tp ^ 0xFF) + payload
            if before:  # frames written in the same write, ahead of this one
                data = before + data
            if self._plain and deadline is None:
                # Link.send, written out: this runs once per request
                try:
                    with self._write_lock:
                        try:
                            sent = self._sock.send(data, DONTWAIT)
                        except BlockingIOError:
                            sent = 0
                        if sent != len(data):
                            self.link.write_rest(data, sent, deadline, True)  # type: ignore[union-attr]
                except BaseException as exc:  # noqa: BLE001 - raised again there
                    self._write_failed(exc, pid, slot)
            else:
                self._write(data, deadline, pid, slot)
            while not slot.state:
                if self.reader is not slot:
                    with mutex:
                        if slot.state:
                            break
                        closed = self.ended
                        if closed:
                            pass
                        elif self.reader is None:
                            self.reader = slot
                        else:
                            self._follow(slot)
                    if closed:
                        self._lose(None)  # finishes an ending cut short
                        continue
                    if self.reader is not slot:
                        self._sleep(slot, deadline)
                        continue
                # the reader: read until this slot has its answer
                if deadline is not None:
                    left = deadline - _monotonic()
                    if left <= 0 or not self._poller.poll(int(left * 1000) + 1):
                        raise _Expired
                if self._plain:
                    self._read_plain(slot)
                else:
                    self._read_chunks()
        except _Expired:
            self._abandon(slot)
            if not slot.state:
                raise ClientTimeoutError(
                    f"no answer from the node within {timeout} seconds"
                ) from None
        except BaseException:
            self._abandon(slot)
            raise
        finally:
            if self.reader is slot:  # only this thread sets or clears that
                # written out, not a call (see above)
                with mutex:
                    finish = self._give_up_role()
                if finish:
                    self._close_fd()
        if slot.waiter is not None:
            self._unfollow(slot)
        state = slot.state
        if state == _DATA:
            return slot.value
        if state == _ERROR:
            raise error_from_answer(slot.value)
        if state == _LOST:
            raise _take(slot)
        return None

    def request_fenced(
        self, tp: int, payload: bytes, deadline: float | None, timeout: float | None
    ) -> Slot | None:
        """Send a request with a PING right behind it (in one write) and
        wait for the PONG: the request's slot, answered or failed, or None
        when the node had not answered it when the PONG came (a node answers
        the packages of one connection in order: it did not take it)."""
        slot = Slot()
        with self._mutex:
            if not self.usable:
                raise NotSent
            pid = self._pending.reserve(slot)
        if pid is None:
            pid = self._reserve_later(slot, deadline)
        if type(payload) is TypedPayload:
            self._decoder.expect(pid, payload.decoder)
        try:
            self.request(_PING, b"", deadline, timeout, frame(pid, tp, payload))
        except NotSent:
            self._unsent(pid, slot)  # written with the PING or not at all
            raise
        except BaseException as exc:
            if not slot.state or not isinstance(exc, Exception):
                slot.live = False  # its answer, if any, is dropped
                raise
        if slot.state:
            return slot
        slot.live = False  # its id stays reserved: an answer never comes
        return None

    def _write(self, data: bytes, deadline: float | None, pid: int, slot: Slot) -> None:
        """Write one request's frame (within a deadline, or on a TLS or
        WebSocket link)."""
        try:
            self.link.send(data, deadline)
        except BaseException as exc:  # noqa: BLE001 - raised again there
            self._write_failed(exc, pid, slot)

    def _write_failed(self, exc: BaseException, pid: int, slot: Slot) -> NoReturn:
        """A write failed: raise ClientTimeoutError or NotSent when it did
        not go out; end the connection when it may have gone out in part."""
        if isinstance(exc, WriteTimeout):
            self._unsent(pid, slot)
            if not exc.intact:  # part of it went out: the stream is out of step
                self._lose(None, "closed: a write timed out halfway")
            raise ClientTimeoutError("timed out while waiting to write") from None
        if isinstance(exc, OSError):
            self._lose(exc)
            raise NotSent from exc
        # interrupted: how much went out is unknown
        self._lose(None, "closed: interrupted while writing a request")
        raise exc

    def _unsent(self, pid: int, slot: Slot) -> None:
        with self._mutex:
            slot.live = False
            if self._pending.get(pid) is slot:
                self._pending.pop(pid)
                self._decoder.forget(pid)  # a typed request's, if it was one

    def _reserve_later(self, slot: Slot, deadline: float | None) -> int:
        """Every id is in flight: wait for one to come back rather than
        reuse an id whose answer may still arrive."""
        with self._mutex:
            self._id_waiters += 1
            try:
                while True:
                    if not self.usable:
                        raise NotSent
                    pid = self._pending.reserve(slot)
                    if pid is not None:
                        return pid
                    self._id_freed.wait(
                        wait_step(
                            deadline,
                            WAIT_STEP,
                            "timed out while waiting for a free request id",
                        )
                    )
            finally:
                self._id_waiters -= 1

    def _follow(self, slot: Slot) -> None:
        """(mutex held) Get ready to sleep on the slot's own lock."""
        waiter = slot.waiter
        if waiter is None:
            waiter = slot.waiter = threading.Lock()
            waiter.acquire()
            self._followers.append(slot)
        elif slot.signalled:
            # woken before: arm the lock again (a no-op if the wake-up was
            # what ended the sleep, which left it taken)
            slot.signalled = False
            waiter.acquire(blocking=False)

    def _sleep(self, slot: Slot, deadline: float | None) -> None:
        waiter = slot.waiter
        assert waiter is not None
        step = WAIT_STEP
        if deadline is not None:
            left = deadline - _monotonic()
            if left <= 0:
                raise _Expired
            step = min(step, left)
        waiter.acquire(timeout=step)

    def _unfollow(self, slot: Slot) -> None:
        with self._mutex:
            with contextlib.suppress(ValueError):
                self._followers.remove(slot)
            if self.reader is None:
                self._pass_role()

    def _give_up_role(self) -> bool:
        """(mutex held) A caller's read ends: the role goes to a waiting
        follower. True when the connection closed meanwhile and the socket
        is now the caller's to close."""
        self.reader = None
        self.releases += 1
        self._pass_role()
        return self.ended and not self.released

    def _pass_role(self) -> None:
        """(mutex held, role free) Wake a waiting follower to read."""
        for other in self._followers:
            if not other.state and not other.signalled:
                other.signalled = True
                other.waiter.release()  # type: ignore[union-attr]
                return

    def _abandon(self, slot: Slot) -> None:
        """The caller stops waiting (deadline, interrupt): a late answer is
        dropped; the id stays reserved until it comes."""
        with self._mutex:
            slot.live = False
            if slot.waiter is not None:
                with contextlib.suppress(ValueError):
                    self._followers.remove(slot)
            if self.reader is None:
                self._pass_role()
            retiring = self._retiring
        if retiring:
            self.check_retired()

    def _read_plain(self, slot: Slot) -> None:
        """(read role held, a plain link) One read (blocking until something
        arrives), its packages handed on. A failure ends the connection.

        Interrupts reach the main thread only, at any point of its Python
        code. A read interrupted while it waits takes nothing from the
        socket. One that returned data just as the interrupt came would
        lose that data if its result were left to the interpreter, which
        may raise the interrupt before storing it: so ``list.extend(map())``
        makes the read and stores its result in C, where no interrupt is
        raised, and the data is handed on before the interrupt goes up.
        What the interrupt may cut short after that (decoding and handing
        on) ends the connection: what was read could be lost.
        """
        try:
            if _get_ident() == _MAIN:
                if _STEPPED and not self._poller.poll(-1):
                    return
                got = self._got
                got.clear()
                try:
                    got.extend(map(self._recv_into, self._buffers))
                except Exception:
                    raise
                except BaseException:
                    if got:
                        self._take(got[0])
                    raise
                n = got[0]
            else:
                n = self._sock.recv_into(self._buffer)
        except Exception as exc:  # noqa: BLE001 - the end of the connection
            self._lost_reading(exc)
            return
        if not n or self.ended:
            # the node closed the connection; or a read after the end, which
            # another thread made (and did not finish, if interrupted)
            self._lose(None)
            return
        self.heard = True
        try:
            packages = self._decoder.feed(self._view[:n])
            if len(packages) == 1 and packages[0][1] in _RESPONSE_TYPES:
                # the common read, one answer: _dispatch's loop written out
                pid, tp, data = packages[0]
                finish = False
                with self._mutex:
                    answered = self._pending.pop(pid)
                    if answered is not None and answered.live:
                        answered.value = data
                        answered.state = tp
                        waiter = answered.waiter
                        if waiter is not None and not answered.signalled:
                            answered.signalled = True
                            waiter.release()
                    if answered is slot:
                        # the reader's own answer: the role goes back in the
                        # same round on the mutex
                        finish = self._give_up_role()
                    if self._id_waiters:
                        self._id_freed.notify_all()
                if answered is None:
                    _log.warning(_STRAY, tp, pid)
                if finish:
                    self._close_fd()
                if self._retiring:
                    self.check_retired()
            else:
                self._dispatch(packages)
        except ProtocolError as exc:
            self._bad_package(exc)
        except BaseException:
            self._lose(None, "closed: interrupted while reading (out of step)")
            raise

    def _take(self, n: int) -> None:
        """(read role held) Hand on ``n`` bytes read into the buffer by a
        read that an interrupt followed."""
        if not n or self.ended:
            self._lose(None)
            return
        self.heard = True
        try:
            self._dispatch(self._decoder.feed(self._view[:n]))
        except ProtocolError as exc:
            self._bad_package(exc)
        except BaseException:
            self._lose(None, "closed: interrupted while reading (out of step)")
            raise

    def _read_chunks(self) -> None:
        """(read role held, a TLS or WebSocket link) One read, its packages
        handed on; the main thread waits in poll() first, which takes
        nothing from the socket when interrupted."""
        link = self.link
        if _get_ident() == _MAIN and not link.buffered and not self._poller.poll(-1):
            return
        try:
            chunks = link.receive()
        except Exception as exc:  # noqa: BLE001 - the end of the connection
            self._lost_reading(exc)
            return
        except BaseException:
            self._lose(None, "closed: interrupted while reading (out of step)")
            raise
        self._take_chunks(chunks)

    def _take_chunks(self, chunks: Sequence[bytes | memoryview]) -> None:
        """:meth:`_take` for the chunks of a TLS or WebSocket link."""
        if self.ended:
            self._lose(None)
            return
        self.heard = True
        try:
            feed = self._decoder.feed
            for chunk in chunks:
                packages = feed(chunk)
                if self._whole_messages and self._decoder.buffered:
                    self._dispatch(packages)
                    raise ProtocolError(
                        "a WebSocket message held an incomplete package"
                    )
                self._dispatch(packages)
        except ProtocolError as exc:
            self._bad_package(exc)
        except BaseException:
            self._lose(None, "closed: interrupted while reading (out of step)")
            raise

    def _lost_reading(self, exc: Exception) -> None:
        if isinstance(exc, ProtocolError):  # from below the package layer
            self._bad_package(exc)
        elif isinstance(exc, EOFError):
            self._lose(None)
        else:
            self._lose(exc)

    def _bad_package(self, exc: ProtocolError) -> None:
        if exc.packages:
            self._dispatch(exc.packages)
        self._protocol_error(exc)

    def idle_read(self) -> None:
        """Read what arrived while no caller reads (the watcher thread)."""
        with self._mutex:
            if self.reader is not None or self.ended:
                return
            self.reader = _WATCHING
        try:
            # still there, now that this thread holds the role?
            if self._poller.poll(0):
                if self._plain:
                    self._read_plain(_WATCHING)
                else:
                    self._read_chunks()
        finally:
            with self._mutex:
                self.reader = None
                self._pass_role()
                finish = self.ended and not self.released
            if finish:
                self._close_fd()

    def _dispatch(self, packages: list[Package]) -> None:
        """(read role held) Answers to their slots, events to the client,
        strictly in the order they came (a room's LEAVE event, say, is
        handled before the answer to the LEAVE wakes its caller)."""
        strays: list[tuple[int, int]] | None = None
        pending = self._pending
        i, count = 0, len(packages)
        while i < count:
            pkg = packages[i]
            if pkg[1] in _EVENT_TYPES:
                i += 1
                try:
                    self._on_event(self, pkg)
                except Exception:  # noqa: BLE001 - a handler's bug must not stop reading
                    _log.exception(
                        "event handler failed on package type %#04x", pkg.type
                    )
                continue
            with self._mutex:
                while i < count:
                    pid, tp, data = packages[i]
                    if tp in _EVENT_TYPES:
                        break
                    i += 1
                    if tp not in _RESPONSE_TYPES:
                        strays = strays or []
                        strays.append((-1, tp))
                        continue
                    slot = pending.pop(pid)
                    if slot is None:
                        strays = strays or []
                        strays.append((pid, tp))
                    elif slot.live:
                        slot.value = data
                        slot.state = tp
                        waiter = slot.waiter
                        if waiter is not None and not slot.signalled:
                            slot.signalled = True
                            waiter.release()
                    # else: its caller gave up; the answer is dropped
                if self._id_waiters:
                    self._id_freed.notify_all()
        if strays is not None:
            for pid, tp in strays:
                if pid < 0:
                    _log.warning("ignored a package of unknown type %#04x", tp)
                else:
                    _log.warning(_STRAY, tp, pid)
        if self._retiring:
            self.check_retired()

    # -- keepalive (the watcher) -----------------------------------------------------

    def start_keepalive(self, interval: float, timeout: float) -> None:
        """PING every ``interval`` seconds, driven by the watcher; what a
        PING without its PONG means is :mod:`thingsdb.engine.keepalive`'s
        verdict."""
        self.ping_interval = interval
        self.ping_timeout = timeout
        self._next_ping = _monotonic() + interval
        self.link.keep_alive(interval, timeout)

    def keepalive(self, now: float) -> float | None:
        """Ping when it is time; drop a silent connection. Returns when to
        look again (None: never)."""
        interval = self.ping_interval
        if interval is None or self.ended:
            return None
        ping = self._ping
        if ping is not None and ping.state:
            self._ping = ping = None
            self._next_ping = max(self._ping_sent + interval, now)
        if ping is None:
            if now < self._next_ping:
                return self._next_ping
            return self._send_ping(now)
        if now < self._pong_deadline:
            return min(self._pong_deadline, self._ping_sent + interval)
        with self._mutex:
            waiting = any(
                s.live and not s.state and s is not ping
                for s in self._pending.table.values()
            )
        if not keepalive.gone(self.heard, waiting):
            # the node talks, or may be busy with a caller's request
            self.heard = False
            self._pong_deadline = now + self.ping_timeout
            return self._pong_deadline
        ping.live = False  # its id stays reserved until the end
        self._lose(None, keepalive.tell_gone(self.address, self.ping_timeout))
        return None

    def _send_ping(self, now: float) -> float | None:
        interval = self.ping_interval or 0.0
        slot = Slot()
        with self._mutex:
            if self.ended:
                return None
            pid = self._pending.reserve(slot)
        if pid is None:  # every id in flight: the node is clearly talking
            self._next_ping = now + interval
            return self._next_ping
        link = self.link
        progress = link.progress
        self.heard = False
        outcome: BaseException | None = None
        # (the watcher thread: no interrupt lands here, so a plain acquire)
        if link.write_lock.acquire(timeout=self.ping_timeout):
            try:
                link.send_locked(frame(pid, _PING), _monotonic() + self.ping_timeout)
            except (WriteTimeout, OSError) as exc:
                outcome = exc
            finally:
                link.write_lock.release()
        else:
            outcome = WriteTimeout(intact=True)  # a caller's write holds it
        if outcome is None:
            self._ping = slot
            self._ping_sent = now
            self._pong_deadline = now + self.ping_timeout
            return min(self._pong_deadline, now + interval)
        self._unsent(pid, slot)
        if isinstance(outcome, OSError):
            self._lose(outcome)
        elif outcome.intact and (self.heard or link.progress != progress):  # type: ignore[attr-defined]
            # the node talks, or a long write moves on: look again later
            self._next_ping = _monotonic() + interval
            return self._next_ping
        elif outcome.intact:  # type: ignore[attr-defined]
            self._lose(None, "closed: the node stopped taking data")
        else:
            self._lose(None, "closed: a write timed out halfway")
        return None

    # -- the end ---------------------------------------------------------------------

    def retire(self, hold: threading.Event | None = None) -> None:
        """Take no new requests; close once no caller waits for an answer
        here any more (and ``hold``, if given, is set)."""
        with self._mutex:
            self.usable = False
            self._retiring = True
            self._hold = hold
            if self._id_waiters:
                self._id_freed.notify_all()
        self.check_retired()

    def check_retired(self) -> None:
        with self._mutex:
            if not self._retiring or self.ended:
                return
            if any(s.live for s in self._pending.table.values()):
                return
            self._answered.set()
            if self._hold is not None and not self._hold.is_set():
                return
        self.close("retired")

    def answered(self, timeout: float) -> None:
        """(retired) Wait, ``timeout`` seconds at most, until no caller
        waits for an answer here any more."""
        if not self._retiring:
            return
        self.check_retired()
        self._answered.wait(timeout)

    def close(self, reason: str = "closed by the client") -> None:
        """Close; callers still waiting fail with ConnectionLostError."""
        if not self.ended:
            self.link.goodbye()
        self._lose(None, reason)

    def _protocol_error(self, exc: ProtocolError) -> None:
        _log.error("protocol error from %s: %s; closing", self.address, exc)
        if exc.payload is not None:
            dump_failed_payload(exc.payload)
        self._lose(exc, "closed after a protocol error")

    def _lose(self, exc: BaseException | None, reason: str = "") -> None:
        """The connection ends: fail every waiting caller, wake every
        sleeping one, release the socket once nothing uses it, tell the
        client. Calling it again finishes what an interrupt cut short."""
        with self._mutex:
            first = not self.ended
            self.ended = True
            self._answered.set()
            self.usable = False
            if reason and not self._reason:
                self._reason = reason
            why = self._reason or (
                f"lost ({exc})" if exc is not None else "closed by the node"
            )
            if self._pending:
                message = (
                    f"connection to {self.address} {why} before the answer "
                    "arrived; the request may or may not have run"
                )
                for slot in self._pending.drain():
                    if slot.live and not slot.state:
                        err: Exception
                        if isinstance(exc, ProtocolError):
                            err = ProtocolError(f"{exc}; the connection was closed")
                        else:
                            err = ConnectionLostError(message)
                        err.__cause__ = exc
                        slot.value = err
                        slot.state = _LOST
            for slot in self._followers:
                if not slot.signalled:
                    slot.signalled = True
                    slot.waiter.release()  # type: ignore[union-attr]
            self._id_freed.notify_all()
            in_use = self.reader is not None
            report = not self._reported
            self._reported = True
        if first:
            self.link.shutdown()  # wakes whatever blocks on the socket
        if not in_use:
            self._close_fd()
        if report:
            _log.info("connection to %s %s", self.address, why)
            self._on_close(self, exc)

    def release(self) -> None:
        """Release the socket of an ended connection that nobody reads."""
        if self.ended:
            self._close_fd()

    def _close_fd(self) -> None:
        # the socket first, then the flag: an interrupt in between leaves
        # the flag down, and the watcher closes it again, which is harmless
        if not self.released:
            self.link.close()
            self.released = True


def outcome(slot: Slot) -> Any:
    """An answered slot's value, or its error raised (as request() ends)."""
    state = slot.state
    if state == _DATA:
        return slot.value
    if state == _ERROR:
        raise error_from_answer(slot.value)
    if state == _LOST:
        raise _take(slot)
    return None


def _take(slot: Slot) -> Any:
    """The slot's value, no longer held by it (an error raised from it would
    otherwise hold, through its traceback, the frame that holds the slot)."""
    value, slot.value = slot.value, None
    return value


class _Expired(Exception):
    """Internal: the caller's deadline passed."""


class _SelectPoller:
    """select.poll()'s interface on select.select (Windows has no poll)."""

    def __init__(self) -> None:
        self._fd = -1

    def register(self, fd: int, events: int) -> None:
        self._fd = fd

    def poll(self, ms: int) -> list[tuple[int, int]]:
        timeout = None if ms < 0 else ms / 1000
        # in steps, so that Ctrl-C is seen at once there too
        step = 0.25 if timeout is None else min(timeout, 0.25)
        end = None if timeout is None else _monotonic() + timeout
        while True:
            ready, _, failed = select.select([self._fd], [], [self._fd], step)
            if ready or failed:
                return [(self._fd, POLLIN)]
            if end is not None and _monotonic() >= end:
                return []
