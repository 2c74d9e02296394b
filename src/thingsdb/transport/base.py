"""What a driver offers the connection, and what it calls back.

A driver moves bytes: it hands everything it reads to a :class:`Receiver`
and writes what it is given. Framing and decoding stay in the protocol core,
so the stream and the WebSocket drivers behave the same.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..exceptions import ProtocolError


class Receiver(Protocol):
    def on_data(self, data: bytes | memoryview) -> None:
        """Bytes arrived (for WebSockets: one whole message). A memoryview is
        only valid during the call: its buffer is reused for the next read."""

    def on_lost(self, exc: Exception | None) -> None:
        """The connection is gone; ``exc`` is None for a clean close."""

    def on_protocol_error(self, exc: ProtocolError) -> None:
        """The peer broke the protocol below the package layer (for instance
        a WebSocket message over the size cap); the connection must close."""


class Driver(Protocol):
    def write(self, data: bytes) -> None:
        """Queue one package for writing, in order."""

    def write_many(self, packages: list[bytes]) -> None:
        """Queue several packages for writing, in order, in one go (one
        system call where the transport allows)."""

    #: True while the write buffer is above its high-water mark (a plain
    #: attribute: it is read once per request)
    writing_paused: bool

    async def wait_writable(self) -> None:
        """Return once writing is no longer paused (or the connection is gone)."""

    def close(self) -> None:
        """Close after the queued data is written."""

    def abort(self) -> None:
        """Close now, dropping queued data."""

    def is_closing(self) -> bool: ...

    def keep_alive(self, idle: float, timeout: float) -> None:
        """Have the OS probe a silent peer after ``idle`` seconds and give up
        after about ``timeout`` more (TCP keepalive; a no-op where there is
        none, as on unix sockets)."""

    def ack_now(self) -> None:
        """Answers are still owed: have the OS acknowledge what was read at
        once (see :func:`quick_ack`); a no-op where there is nothing to do."""


def quick_ack(transport: asyncio.BaseTransport | None) -> Callable[[], None] | None:
    """A function that sets TCP_QUICKACK on ``transport``'s socket, or None
    (not TCP, or not Linux).

    Why: a node writes each answer as it is ready and does not turn Nagle's
    algorithm off, so while one answer is not acknowledged the next ones
    wait in its socket; Linux acknowledges a read late (delayed ACK, up to
    40 ms), and pipelined answers then come in slow bursts. Acknowledging at
    once while answers are owed lets them flow (about four times the
    throughput of 1,000 pipelined requests here). The option does not stay
    set, so it is set again after each read that leaves answers owed.
    """
    option = getattr(socket, "TCP_QUICKACK", None)
    sock = None if transport is None else transport.get_extra_info("socket")
    if option is None or sock is None:
        return None
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    setsockopt, level = sock.setsockopt, socket.IPPROTO_TCP

    def ack() -> None:
        # try/except rather than contextlib.suppress: this runs once per read
        try:  # noqa: SIM105
            setsockopt(level, option, 1)
        except OSError:
            pass  # the socket is closing: nothing left to acknowledge

    return ack


class WriteFlow:
    """Write flow control, shared by the drivers: the transport's
    ``pause_writing``/``resume_writing`` calls become ``writing_paused`` and
    :meth:`wait_writable`."""

    writing_paused = False
    _writable: asyncio.Future[None] | None = None

    def is_closing(self) -> bool:
        raise NotImplementedError

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake_writers()

    async def wait_writable(self) -> None:
        if not self.writing_paused or self.is_closing():
            return
        if self._writable is None:
            self._writable = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._writable)

    def _wake_writers(self) -> None:
        waiter, self._writable = self._writable, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
