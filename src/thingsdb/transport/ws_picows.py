"""The WebSocket driver on ``picows`` (compiled framing).

picows parses and masks frames in C and calls :meth:`PicowsDriver.on_ws_frame`
once per frame, with the payload still in its read buffer: a whole message
in one frame (every answer of a ThingsDB node below its frame size) goes to
the receiver as a view of that buffer, without a copy. Writes go straight to
picows, which frames them into the transport at once, so they keep their
order and their errors reach the caller, as on TCP.

The size cap is ours: picows refuses a frame above it, and the driver adds
up the frames of a fragmented message. Either is a protocol error, as with
the other driver.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl as _ssl
import struct
from collections.abc import Callable

from picows import (
    WSCloseCode,
    WSError,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    ws_connect,
)

from ..exceptions import ProtocolError
from .address import Address
from .base import Receiver, WriteFlow, quick_ack
from .handshake import SUBPROTOCOL, handshake_error
from .stream import tcp_keepalive

_BINARY = WSMsgType.BINARY
_CLOSE = WSMsgType.CLOSE
_DATA = frozenset({WSMsgType.BINARY, WSMsgType.TEXT, WSMsgType.CONTINUATION})

# the close codes picows sends when it refuses what it reads
_REFUSED = frozenset({WSCloseCode.MESSAGE_TOO_BIG, WSCloseCode.PROTOCOL_ERROR})

#: picows logs its own errors (a refused frame, say) under this logger
_LOGGER = logging.getLogger("thingsdb.websocket")

#: A handshake cancelled from outside ws_connect() (the caller's connect
#: timeout, a cancelled task) cannot be stopped there: picows aborts the
#: socket when its own handshake timeout passes. It is set to the caller's
#: remaining time plus this grace (so the caller's timeout is the one seen),
#: or to HANDSHAKE_TIMEOUT when the caller has no deadline.
HANDSHAKE_GRACE = 0.5
HANDSHAKE_TIMEOUT = 30.0


class PicowsDriver(WriteFlow, WSListener):
    """Hands every incoming binary message to the receiver; writes each
    outgoing package as one binary message."""

    def __init__(self, receiver: Receiver, max_message_size: int) -> None:
        super().__init__()
        self._receiver = receiver
        self._max_message_size = max_message_size
        self._ws: WSTransport | None = None
        self._fragments: list[bytes] = []
        self._fragments_size = 0
        self._failed = False
        self._closing = False
        self._ack: Callable[[], None] | None = None
        self._ack_due = False
        self._loop = asyncio.get_running_loop()

    # -- WSListener ----------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._ws = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        tp = frame.msg_type
        if tp is _BINARY and frame.fin and not self._fragments:
            # the view is valid during this call only, as on_data allows
            self._receiver.on_data(frame.get_payload_as_memoryview())
        elif tp in _DATA:
            self._add_fragment(frame)
        elif tp is _CLOSE:
            # the node closes: answer its close frame, then end the stream
            if not transport.is_close_frame_sent:
                transport.send_close(frame.get_close_code())
            transport.disconnect()
        # PING is answered by picows itself; PONG needs nothing

    def _add_fragment(self, frame: WSFrame) -> None:
        if self._failed:
            return
        self._fragments_size += frame.payload_size
        if self._fragments_size > self._max_message_size:
            self._fragments.clear()
            self._fail(
                f"a message over {self._max_message_size} bytes (the limit: "
                "max_package_size plus the header, or WEBSOCKET_MAX_SIZE)"
            )
            return
        self._fragments.append(frame.get_payload_as_bytes())
        if frame.fin:
            message = b"".join(self._fragments)
            self._fragments.clear()
            self._fragments_size = 0
            self._receiver.on_data(message)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        handshake = transport.close_handshake
        sent = None if handshake is None else handshake.sent
        if (
            not self._failed
            and sent is not None
            and handshake is not None
            and handshake.recv is None
            and sent.code in _REFUSED
        ):
            # picows refused a frame (over the cap, or malformed) and closed
            self._fail(sent.reason or f"close code {sent.code.value}")
        self._closing = True
        self._wake_writers()
        self._receiver.on_lost(None)

    # -- Driver ----------------------------------------------------------------

    def write(self, data: bytes) -> None:
        assert self._ws is not None
        self._ws.send(_BINARY, data)

    def write_many(self, packages: list[bytes]) -> None:
        """Write each package as a message of its own (the node reads one
        package per message), all in one go.

        picows writes every message with a system call of its own while the
        transport has nothing buffered, which costs more than the rest of a
        small request; so the frames are made here (RFC 6455, masked as a
        client's must be) and handed to the transport at once.
        """
        ws = self._ws
        assert ws is not None
        ws.underlying_transport.write(b"".join(map(_client_frame, packages)))

    def close(self) -> None:
        self._closing = True
        ws = self._ws
        if ws is None:
            return
        if not ws.is_close_frame_sent and not ws.is_disconnected:
            ws.send_close(WSCloseCode.OK)
        ws.disconnect()  # after what is queued, the close frame included

    def abort(self) -> None:
        self._closing = True
        if self._ws is not None:
            self._ws.disconnect(graceful=False)

    def is_closing(self) -> bool:
        ws = self._ws
        # Once a close frame went out, no message may follow it. (Not the
        # underlying transport's is_closing(): that one refuses calls from
        # other threads, and the blocking client asks from its caller's.)
        return (
            self._closing or ws is None or ws.is_close_frame_sent or ws.is_disconnected
        )

    def keep_alive(self, idle: float, timeout: float) -> None:
        if self._ws is not None:
            tcp_keepalive(self._ws.underlying_transport, idle, timeout)

    def ack_now(self) -> None:
        # picows hands over one message at a time: acknowledge once, after
        # every message of this read is in
        if self._ack_due:
            return
        ack = self._ack
        if ack is None and self._ws is not None:
            ack = self._ack = quick_ack(self._ws.underlying_transport) or _nothing
        if ack is not None and ack is not _nothing:
            self._ack_due = True
            self._loop.call_soon(self._acknowledge, ack)

    def _acknowledge(self, ack: Callable[[], None]) -> None:
        self._ack_due = False
        ack()

    # -- internals ---------------------------------------------------------------

    def _fail(self, why: str) -> None:
        self._failed = True
        self._receiver.on_protocol_error(
            ProtocolError(f"WebSocket message refused: {why}")
        )


async def open_picows(
    address: Address,
    receiver: Receiver,
    ssl: _ssl.SSLContext | None,
    max_message_size: int,
    remaining: float | None = None,
) -> PicowsDriver:
    """Connect and complete the WebSocket handshake (the timeout is the
    caller's; ``remaining`` is how long it has left, if it has a deadline).

    ``ssl`` is the context for ``wss://`` (None for ``ws://``).
    """
    driver = PicowsDriver(receiver, max_message_size)
    try:
        await ws_connect(
            lambda: driver,
            address.uri,
            ssl_context=ssl,
            websocket_handshake_timeout=(
                HANDSHAKE_TIMEOUT if remaining is None else remaining + HANDSHAKE_GRACE
            ),
            max_frame_size=max_message_size,
            extra_headers={"Sec-WebSocket-Protocol": SUBPROTOCOL},
            logger_name=_LOGGER,
            max_redirects=0,
        )
    except WSError as exc:
        raise handshake_error(exc) from exc
    return driver


def _nothing() -> None:
    """No quick acknowledgement on this transport."""


_header2 = struct.Struct("!BB").pack
_header4 = struct.Struct("!BBH").pack
_header10 = struct.Struct("!BBQ").pack
_random_key = random.Random().getrandbits


def _client_frame(payload: bytes) -> bytes:
    """One final binary frame, masked with a fresh key (as picows masks
    its own: the key hides nothing from the node; it is there for proxies)."""
    size = len(payload)
    if size < 126:
        header = _header2(0x82, 0x80 | size)
    elif size < 1 << 16:
        header = _header4(0x82, 0x80 | 126, size)
    else:
        header = _header10(0x82, 0x80 | 127, size)
    key = _random_key(32).to_bytes(4, "little")
    return header + key + _mask(payload, key)


def _python_mask(
    data: bytes | bytearray | memoryview, mask: bytes | bytearray
) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated: websockets' compiled
    ``apply_mask``, for when websockets is not installed."""
    size = len(data)
    keys = (bytes(mask) * (size // 4 + 1))[:size]
    value = int.from_bytes(data, "little") ^ int.from_bytes(keys, "little")
    return value.to_bytes(size, "little")


try:
    from websockets.speedups import apply_mask as _mask
except ImportError:
    _mask = _python_mask
