"""The WebSocket driver on the ``websockets`` package (pure Python).

It drives the sans-I/O protocol of ``websockets`` from a plain asyncio
protocol, so writes are synchronous and ordered exactly like the stream
driver's, no task runs per connection, and the message size cap is ours
(the package cap plus its header), not the library's 1 MiB default.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
from typing import TYPE_CHECKING

from ..exceptions import ProtocolError
from .address import Address
from .base import Receiver
from .handshake import SUBPROTOCOL, handshake_error
from .stream import StreamDriver

if TYPE_CHECKING:
    from websockets.client import ClientProtocol
    from websockets.frames import Frame

# websockets.frames.Opcode values of data frames (text, binary, continuation)
_DATA_OPCODES = frozenset({0x00, 0x01, 0x02})

# Set by open_websockets() on the first connection, so that the package is
# only needed by users of WebSockets (and looked up once, not per message).
_Frame: type[Frame]
_OPEN: object = None


class WebsocketsDriver(StreamDriver):
    """Frames outgoing packages as binary messages and hands every incoming
    message (fragments joined) to the receiver."""

    def __init__(self, receiver: Receiver, protocol: ClientProtocol) -> None:
        super().__init__(receiver)
        self._ws = protocol
        self._fragments: list[bytes] = []
        self._parser_failed = False
        self.handshake: asyncio.Future[None] = (
            asyncio.get_running_loop().create_future()
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._ws.send_request(self._ws.connect())
        self._flush()

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self._read_buffer[:nbytes]))

    def data_received(self, data: bytes) -> None:
        ws = self._ws
        ws.receive_data(data)
        if ws.parser_exc is not None and not self._parser_failed:
            # e.g. a message over the size cap: websockets stops reading and
            # closes; report it as what it is, not as a lost connection
            self._parser_failed = True
            self._receiver.on_protocol_error(
                ProtocolError(f"WebSocket message refused: {ws.parser_exc}")
            )
        for event in ws.events_received():
            if not isinstance(event, _Frame):
                self._on_response()
            elif event.opcode in _DATA_OPCODES:
                if event.fin and not self._fragments:
                    self._receiver.on_data(bytes(event.data))
                else:
                    self._fragments.append(bytes(event.data))
                    if event.fin:
                        message = b"".join(self._fragments)
                        self._fragments.clear()
                        self._receiver.on_data(message)
            # PING, PONG and CLOSE are answered by the protocol itself
        self._flush()
        if ws.close_expected() and self._transport is not None:
            self._transport.close()

    def _on_response(self) -> None:
        """The handshake's HTTP response arrived."""
        if self._ws.handshake_exc is not None:
            self._fail_handshake(self._ws.handshake_exc)
        elif not self.handshake.done():
            self.handshake.set_result(None)

    def eof_received(self) -> bool:
        self._ws.receive_eof()
        self._flush()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            self._ws.receive_eof()  # idempotent; moves the protocol to CLOSED
            self._fail_handshake(exc or self._ws.close_exc)
        finally:
            super().connection_lost(exc)

    def write(self, data: bytes) -> None:
        self._ws.send_binary(data)
        self._flush()

    def write_many(self, packages: list[bytes]) -> None:
        # one message per package, all written at once
        send = self._ws.send_binary
        for data in packages:
            send(data)
        self._flush()

    def is_closing(self) -> bool:
        # once a close frame went either way, no message may be sent
        return super().is_closing() or self._ws.state is not _OPEN

    def close(self) -> None:
        if self._ws.state is _OPEN:
            self._ws.send_close(1000)
            self._flush()
        super().close()

    def _flush(self) -> None:
        transport = self._transport
        if transport is None:
            return
        chunks = self._ws.data_to_send()
        if not chunks:
            return
        # b"" stands for "end of the stream", and only ever comes last
        eof = not chunks[-1]
        if eof:
            chunks.pop()
        if chunks:
            transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        if eof and transport.can_write_eof():
            transport.write_eof()

    def _fail_handshake(self, exc: BaseException) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(handshake_error(exc))
            self.handshake.exception()  # retrieved: the opener may be gone


async def open_websockets(
    address: Address,
    receiver: Receiver,
    ssl: _ssl.SSLContext | None,
    max_message_size: int,
) -> WebsocketsDriver:
    """Connect and complete the WebSocket handshake (no timeout: the caller's).

    ``ssl`` is the context for ``wss://`` (None for ``ws://``). Raises
    ImportError when ``websockets`` is not installed.
    """
    global _Frame, _OPEN
    from websockets.client import ClientProtocol
    from websockets.frames import Frame
    from websockets.protocol import State
    from websockets.typing import Subprotocol
    from websockets.uri import parse_uri

    _Frame, _OPEN = Frame, State.OPEN

    uri = parse_uri(address.uri)
    protocol = ClientProtocol(
        uri,
        subprotocols=[Subprotocol(SUBPROTOCOL)],
        max_size=max_message_size,
    )
    driver = WebsocketsDriver(receiver, protocol)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(
        lambda: driver,
        uri.host,
        uri.port,
        ssl=ssl,
        server_hostname=uri.host if ssl is not None else None,
    )
    try:
        await driver.handshake
    except BaseException:
        transport.abort()
        raise
    return driver
