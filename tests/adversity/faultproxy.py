"""A fault-injecting loopback TCP proxy between a client and a real node.

The proxy forwards bytes both ways and lets a test break the stream on
purpose:

* ``delay``: sleep this many seconds before forwarding each chunk (both
  directions);
* ``stall()``: hold everything the node sends (it is buffered, and flushed by
  :meth:`heal`);
* ``cut()``: abort every connection (both sides) now;
* ``cut_mid_package(keep)``: forward only the first ``keep`` bytes of the next
  node->client package, then abort that connection;
* ``cut_after_package()``: forward the next node->client package whole, then
  abort (a cut exactly between two packages);
* ``corrupt(offset, xor=..., value=...)``: change the byte at ``offset`` of the
  next node->client package (offset 0..7 is the header ``<IHBB``: size, pid,
  type, check; 8.. is the MessagePack payload);
* ``refusing = True``: abort every new connection at once;
* ``heal()``: stop every fault (pending one-shot faults are dropped, stalled
  bytes are flushed).

In the node->client direction the proxy parses the package stream (8-byte
header, then ``size`` bytes), so faults land on package boundaries. One-shot
faults only hit packages whose type is in ``fault_types`` (by default every
type), so a test can aim at query answers (DATA) and leave AUTH answers of a
reconnect alone.

Nothing here uses the connector: the proxy cannot share its bugs.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"
HEADER = struct.Struct("<IHBB")
HEADER_SIZE = HEADER.size


@dataclass
class Fault:
    """A one-shot fault for the next matching node->client package."""

    kind: str  # "cut_mid" | "cut_after" | "corrupt"
    offset: int = 0
    keep: int = 0
    xor: int | None = None
    value: int | None = None


class _Link:
    """One client connection and its upstream connection to the node."""

    def __init__(
        self, down_writer: asyncio.StreamWriter, up_writer: asyncio.StreamWriter
    ) -> None:
        self.down_writer = down_writer  # towards the client
        self.up_writer = up_writer  # towards the node
        self.buf = bytearray()  # node->client bytes not forwarded yet

    def abort(self) -> None:
        self.down_writer.transport.abort()
        self.up_writer.transport.abort()


class FaultProxy:
    """See the module docstring."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._links: set[_Link] = set()
        self._stalled = False
        self._unstalled = asyncio.Event()
        self._unstalled.set()
        self._fault: Fault | None = None
        self.delay = 0.0
        self.fault_types: frozenset[int] | None = None
        #: abort new connections at once (the node looks unreachable)
        self.refusing = False
        #: counters, for assertions
        self.accepted = 0
        self.faults_applied = 0
        self.packages_down = 0
        self.bytes_up = 0

    # -- life cycle ----------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "start() the proxy first"
        port: int = self._server.sockets[0].getsockname()[1]
        return LOOPBACK, port

    @property
    def active(self) -> int:
        """Client connections open now."""
        return len(self._links)

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._handle, LOOPBACK, 0)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.heal()
        self.cut()
        tasks = list(self._tasks)
        if tasks:
            # the cut ends every pump; cancel only what is stuck
            _, stuck = await asyncio.wait(tasks, timeout=5)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    # -- faults ----------------------------------------------------------------------

    def stall(self) -> None:
        """Stop forwarding node->client bytes (they are kept)."""
        self._stalled = True
        self._unstalled.clear()

    def cut(self) -> None:
        """Abort every connection now, both sides."""
        for link in list(self._links):
            link.abort()

    def cut_mid_package(self, keep: int, types: frozenset[int] | None = None) -> None:
        self._arm(Fault("cut_mid", keep=keep), types)

    def cut_after_package(self, types: frozenset[int] | None = None) -> None:
        self._arm(Fault("cut_after"), types)

    def corrupt(
        self,
        offset: int,
        *,
        xor: int | None = None,
        value: int | None = None,
        types: frozenset[int] | None = None,
    ) -> None:
        if (xor is None) == (value is None):
            raise ValueError("give exactly one of xor and value")
        self._arm(Fault("corrupt", offset=offset, xor=xor, value=value), types)

    @property
    def armed(self) -> bool:
        """A one-shot fault waits for its package."""
        return self._fault is not None

    def heal(self) -> None:
        """Stop every fault: no delay, no stall, no pending one-shot fault."""
        self.delay = 0.0
        self._fault = None
        self.fault_types = None
        self._stalled = False
        self._unstalled.set()
        self.refusing = False

    def _arm(self, fault: Fault, types: frozenset[int] | None) -> None:
        self.fault_types = types
        self._fault = fault

    # -- forwarding --------------------------------------------------------------------

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.accepted += 1
        link: _Link | None = None
        if self.refusing:
            writer.transport.abort()
            self._tasks.discard(task)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            link = _Link(writer, up_writer)
            self._links.add(link)
            await asyncio.gather(
                self._pump_up(reader, link), self._pump_down(up_reader, link)
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if link is not None:
                self._links.discard(link)
                link.abort()
            else:
                writer.transport.abort()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            self._tasks.discard(task)

    async def _pump_up(self, src: asyncio.StreamReader, link: _Link) -> None:
        dst = link.up_writer
        try:
            while data := await src.read(65536):
                self.bytes_up += len(data)
                if self.delay:
                    await asyncio.sleep(self.delay)
                dst.write(data)
                await dst.drain()
        finally:
            link.abort()

    async def _pump_down(self, src: asyncio.StreamReader, link: _Link) -> None:
        dst = link.down_writer
        cut = False
        try:
            while data := await src.read(65536):
                link.buf += data
                if self.delay:
                    await asyncio.sleep(self.delay)
                await self._unstalled.wait()
                if not self._forward(link):
                    cut = True
                    return
                await dst.drain()
        finally:
            if not cut:
                link.abort()

    def _forward(self, link: _Link) -> bool:
        """Forward every whole package in ``link.buf``; False once cut."""
        buf = link.buf
        pos = 0
        out = bytearray()
        alive = True
        while len(buf) - pos >= HEADER_SIZE:
            size, _pid, tp, _check = HEADER.unpack_from(buf, pos)
            end = pos + HEADER_SIZE + size
            if end > len(buf):
                break
            package = bytearray(buf[pos:end])
            pos = end
            self.packages_down += 1
            fault = self._fault
            if fault is not None and (
                self.fault_types is None or tp in self.fault_types
            ):
                self._fault = None
                self.faults_applied += 1
                if fault.kind == "corrupt":
                    if fault.offset < len(package):
                        if fault.xor is not None:
                            package[fault.offset] ^= fault.xor
                        else:
                            assert fault.value is not None
                            package[fault.offset] = fault.value
                elif fault.kind == "cut_mid":
                    out += package[: max(1, min(fault.keep, len(package) - 1))]
                    alive = False
                    break
                elif fault.kind == "cut_after":
                    out += package
                    alive = False
                    break
            out += package
        del buf[:pos]
        if out:
            link.down_writer.write(bytes(out))
        if not alive:
            # let the transport hand the kept bytes on before the abort:
            # close() flushes, then the other side is aborted
            link.down_writer.close()
            link.up_writer.transport.abort()
        return alive
