"""What a driver offers the connection, and what it calls back.

A driver moves bytes: it hands everything it reads to a :class:`Receiver`
and writes what it is given. Framing and decoding stay in the protocol core,
so the stream and the WebSocket drivers behave the same.
"""

from __future__ import annotations

import asyncio
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
