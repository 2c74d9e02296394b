"""The floors: the least a client could possibly do, with the connector's
codec (msgspec) and nothing else of it.

- :class:`AsyncFloor`: an ``asyncio.Protocol`` whose request packs, writes,
  stores its future under the id and returns that future; the answer is
  unpacked and set. No coroutine per request, no checks, no timeouts, no
  reconnects. A lone request is written at once; requests made while others
  are in flight are joined and written once at the end of the loop's
  iteration (the fewest system calls). More than 65,535 requests at once
  wait in a plain deque for a free id (the protocol has no more ids).
- :class:`QuickAckFloor`: the bare client that also sets ``TCP_QUICKACK``
  after each read that leaves answers owed, as the connector does (see
  ``thingsdb.transport.base.quick_ack``): a system call per read that buys
  pipelined answers without the delayed-ACK stalls. The bare floor makes
  fewer reads (answers pile up while it waits), so its CPU per request is
  lower and its time several times higher; this one is the least client
  at the connector's speed.
- :class:`CoroutineFloor`: the same with each request wrapped in an
  ``async def`` (a coroutine per request, and under ``gather`` a task): the
  shape the benchmark used to measure against, kept as a second reference.
- :class:`PicowsFloor`: the bare asyncio client over WebSocket on picows
  (the library the connector prefers): one ``on_ws_frame`` call per answer
  (picows hands over one message at a time), each unpacked and set; the
  requests of one loop iteration framed and masked here and written at
  once (picows would make a system call per message).
- :class:`BlockingFloor`: a plain socket on the caller's thread: ``sendall``
  the request, ``recv_into`` a reused buffer until the answer is whole.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections import deque
from typing import Any, cast

import msgspec
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect
from websockets.speedups import apply_mask

HEADER = struct.Struct("<IHBB")
AUTH, QUERY, RUN, JOIN, LEAVE, EMIT = 0x21, 0x22, 0x25, 0x26, 0x27, 0x28
OK, DATA, ERROR, ROOM_EMIT = 0x11, 0x12, 0x13, 0x08
EVENT_PID = 0xFFFF
USER, PASSWORD = "admin", "pass"
SCOPE = "//bench"
_IDS = 0xFFFF  # ids 0 .. 0xFFFE

_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder()


class AsyncFloor(asyncio.Protocol):
    """The bare asyncio client (see the module docstring)."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.futs: dict[int, asyncio.Future[Any]] = {}
        self.waiting: deque[tuple[asyncio.Future[Any], int, bytes]] = deque()
        self.out: list[bytes] = []
        self.pid = 0
        self.events = 0
        self.events_wanted = 0
        self.events_done: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (not an asyncio.Transport subclass on uvloop)
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos, end = 0, len(buf)
        with memoryview(buf) as view:
            while end - pos >= 8:
                size, pid, tp, _ = HEADER.unpack_from(view, pos)
                stop = pos + 8 + size
                if stop > end:
                    break
                value = _dec.decode(view[pos + 8 : stop]) if size else None
                pos = stop
                if pid == EVENT_PID:
                    self._event(tp)
                    continue
                fut = self.futs.pop(pid)
                if tp == ERROR:
                    fut.set_exception(RuntimeError(value))
                else:
                    fut.set_result(value)
                if self.waiting:
                    self._write(*self.waiting.popleft())
        del buf[:pos]

    def _event(self, tp: int) -> None:
        if tp == ROOM_EMIT:
            self.events += 1
            if self.events == self.events_wanted and self.events_done is not None:
                self.events_done.set_result(None)

    def request(self, tp: int, payload: Any) -> asyncio.Future[Any]:
        fut = self.loop.create_future()
        data = _enc.encode(payload)
        if len(self.futs) < _IDS:
            self._write(fut, tp, data)
        else:
            self.waiting.append((fut, tp, data))
        return fut

    def _write(self, fut: asyncio.Future[Any], tp: int, data: bytes) -> None:
        pid = self.pid
        while pid in self.futs:
            pid = 0 if pid == 0xFFFE else pid + 1
        self.pid = 0 if pid == 0xFFFE else pid + 1
        frame = HEADER.pack(len(data), pid, tp, tp ^ 0xFF) + data
        if self.out:
            self.out.append(frame)
        elif self.futs:
            self.out.append(frame)
            self.loop.call_soon(self.flush)
        else:
            assert self.transport is not None
            self.transport.write(frame)
        self.futs[pid] = fut

    def flush(self) -> None:
        assert self.transport is not None
        self.transport.write(b"".join(self.out))
        self.out.clear()

    # the call shapes of the connector, returning the request's future
    def query(self, code: str, scope: str = SCOPE, **kw: Any) -> asyncio.Future[Any]:
        return self.request(QUERY, (scope, code, kw) if kw else (scope, code))

    def run(self, proc: str, *args: Any, scope: str = SCOPE) -> asyncio.Future[Any]:
        return self.request(RUN, (scope, proc, args))

    def join(self, room_id: int) -> asyncio.Future[Any]:
        return self.request(JOIN, (SCOPE, room_id))

    def leave(self, room_id: int) -> asyncio.Future[Any]:
        return self.request(LEAVE, (SCOPE, room_id))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class QuickAckFloor(AsyncFloor):
    """The bare client, acknowledging reads at once while answers are owed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        self.setsockopt = sock.setsockopt
        # Linux only; elsewhere this floor is the bare one
        self.option: int | None = getattr(socket, "TCP_QUICKACK", None)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.futs and self.option is not None:
            self.setsockopt(socket.IPPROTO_TCP, self.option, 1)


class PicowsFloor(WSListener):
    """The bare WebSocket client on picows (see the module docstring)."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.ws: WSTransport | None = None
        self.futs: dict[int, asyncio.Future[Any]] = {}
        self.out: list[bytes] = []
        self.pid = 0

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.ws = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is not WSMsgType.BINARY:
            return
        view = frame.get_payload_as_memoryview()
        size, pid, tp, _ = HEADER.unpack_from(view)
        value = _dec.decode(view[8 : 8 + size]) if size else None
        fut = self.futs.pop(pid)
        if tp == ERROR:
            fut.set_exception(RuntimeError(value))
        else:
            fut.set_result(value)

    def request(self, tp: int, payload: Any) -> asyncio.Future[Any]:
        fut = self.loop.create_future()
        data = _enc.encode(payload)
        pid = self.pid
        while pid in self.futs:
            pid = 0 if pid == 0xFFFE else pid + 1
        self.pid = 0 if pid == 0xFFFE else pid + 1
        frame = _ws_frame(HEADER.pack(len(data), pid, tp, tp ^ 0xFF) + data)
        assert self.ws is not None
        if self.out:
            self.out.append(frame)
        elif self.futs:  # others in flight: one write at the iteration's end
            self.out.append(frame)
            self.loop.call_soon(self.flush)
        else:
            self.ws.underlying_transport.write(frame)
        self.futs[pid] = fut
        return fut

    def flush(self) -> None:
        assert self.ws is not None
        self.ws.underlying_transport.write(b"".join(self.out))
        self.out.clear()

    def query(self, code: str, scope: str = SCOPE, **kw: Any) -> asyncio.Future[Any]:
        return self.request(QUERY, (scope, code, kw) if kw else (scope, code))

    def close(self) -> None:
        if self.ws is not None:
            self.ws.disconnect(graceful=False)


def _ws_frame(payload: bytes) -> bytes:
    """A final, masked binary frame (RFC 6455), as a client must send."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x82, 0x80 | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x82, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x82, 0x80 | 127, size)
    key = os.urandom(4)
    return header + key + apply_mask(payload, key)


async def open_picows_floor(uri: str) -> PicowsFloor:
    floor = PicowsFloor()
    await ws_connect(
        lambda: floor,
        uri,
        extra_headers={"Sec-WebSocket-Protocol": "thingsdb-protocol"},
    )
    await floor.request(AUTH, [USER, PASSWORD])
    return floor


class CoroutineFloor(AsyncFloor):
    """The bare client with a coroutine around each request."""

    async def query(self, code: str, scope: str = SCOPE, **kw: Any) -> Any:  # type: ignore[override]
        return await self.request(QUERY, (scope, code, kw) if kw else (scope, code))

    async def run(self, proc: str, *args: Any, scope: str = SCOPE) -> Any:  # type: ignore[override]
        return await self.request(RUN, (scope, proc, args))


async def open_async_floor(
    host: str, port: int, kind: type[AsyncFloor] = AsyncFloor
) -> AsyncFloor:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(kind, host, port)
    await proto.request(AUTH, [USER, PASSWORD])
    return proto


class BlockingFloor:
    """The bare blocking client: one request at a time on the caller's
    thread."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray(1 << 16)
        self.view = memoryview(self.buf)
        self.request(AUTH, [USER, PASSWORD])

    def request(self, tp: int, payload: Any) -> Any:
        data = _enc.encode(payload)
        self.sock.sendall(HEADER.pack(len(data), 0, tp, tp ^ 0xFF) + data)
        got = self._fill(0, 8)
        size, _, rtp, _ = HEADER.unpack_from(self.view)
        if 8 + size > len(self.buf):  # a large answer: a larger buffer
            self.view.release()
            self.buf.extend(bytes(8 + size - len(self.buf)))
            self.view = memoryview(self.buf)
        self._fill(got, 8 + size)
        value = _dec.decode(self.view[8 : 8 + size]) if size else None
        if rtp == ERROR:
            raise RuntimeError(value)
        return value

    def _fill(self, have: int, need: int) -> int:
        recv_into, view = self.sock.recv_into, self.view
        while have < need:
            n = recv_into(view[have:])
            if not n:
                raise ConnectionError("the node closed the connection")
            have += n
        return have

    def query(self, code: str, scope: str = SCOPE, **kw: Any) -> Any:
        return self.request(QUERY, (scope, code, kw) if kw else (scope, code))

    def run(self, proc: str, *args: Any, scope: str = SCOPE) -> Any:
        return self.request(RUN, (scope, proc, args))

    def close(self) -> None:
        self.sock.close()
