"""The stream driver: TCP, TLS over TCP, and unix domain sockets."""

from __future__ import annotations

import asyncio
import socket
import ssl as _ssl
from collections.abc import Callable
from typing import cast

from .address import Address
from .base import Receiver, WriteFlow, quick_ack

#: The read buffer's size: what asyncio reads at most per call by default.
READ_SIZE = 256 * 1024


class StreamDriver(WriteFlow, asyncio.BufferedProtocol):
    """An asyncio protocol that only passes bytes on; see ``base.Driver``.

    It reads into one buffer of its own, reused for every read (asyncio
    would allocate 256 KiB per read and shrink it, which glibc may serve
    with mmap, mremap and munmap each time); the receiver decodes straight
    from it, and keeps only what it needs beyond the call.
    """

    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver
        self._read_buffer = memoryview(bytearray(READ_SIZE))
        self._transport: asyncio.Transport | None = None
        self._ack: Callable[[], None] | None = None

    # -- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (not an asyncio.Transport subclass on uvloop)
        self._transport = cast(asyncio.Transport, transport)
        self._ack = quick_ack(transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        self._receiver.on_data(self._read_buffer[:nbytes])

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._wake_writers()
        self._receiver.on_lost(exc)

    # -- Driver ----------------------------------------------------------------

    def write(self, data: bytes) -> None:
        assert self._transport is not None
        self._transport.write(data)

    def write_many(self, packages: list[bytes]) -> None:
        assert self._transport is not None
        self._transport.write(b"".join(packages))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport is None or self._transport.is_closing()

    def keep_alive(self, idle: float, timeout: float) -> None:
        if self._transport is not None:
            tcp_keepalive(self._transport, idle, timeout)

    def ack_now(self) -> None:
        if self._ack is not None:
            self._ack()


def tcp_keepalive(
    transport: asyncio.BaseTransport, idle: float, timeout: float
) -> None:
    """:func:`socket_keepalive` on ``transport``'s socket."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        socket_keepalive(sock, idle, timeout)


def socket_keepalive(sock: socket.socket, idle: float, timeout: float) -> None:
    """Have the OS probe a silent peer after ``idle`` seconds and give up
    after about ``timeout`` more (TCP only: unix sockets have no keepalive).
    Also the blocking client's."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    probes = 3
    options = (
        ("TCP_KEEPIDLE", max(1, round(idle))),  # Linux; macOS: TCP_KEEPALIVE
        ("TCP_KEEPINTVL", max(1, round(timeout / probes))),
        ("TCP_KEEPCNT", probes),
    )
    for name, value in options:
        option = getattr(socket, name, None)
        if option is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


async def open_stream(
    address: Address,
    receiver: Receiver,
    ssl: _ssl.SSLContext | None,
) -> StreamDriver:
    """Open a TCP/TLS or unix socket connection (no timeout: the caller's)."""
    loop = asyncio.get_running_loop()
    driver = StreamDriver(receiver)
    if address.kind == "unix":
        await loop.create_unix_connection(lambda: driver, address.path)
    else:
        await loop.create_connection(
            lambda: driver,
            address.host,
            address.port,
            ssl=ssl,
            server_hostname=address.host if ssl is not None else None,
        )
    return driver
