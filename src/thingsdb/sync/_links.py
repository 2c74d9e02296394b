"""Blocking links: the bytes between a socket and the protocol core.

A link is one connected socket and what sits between it and the package
decoder: nothing (TCP, unix socket), TLS, or a WebSocket (over either).
Any number of threads may write at once (one write lock keeps their
packages whole and in order); one thread at a time reads: the connection's
reader (see ``_connection``).

TLS runs on ``ssl.MemoryBIO``, not on an ``ssl.SSLSocket``: OpenSSL forbids
using one SSL object from two threads at once, and here a reader and a
writer work at the same time. Every call into the SSL object holds a lock
of its own; the socket's reads and writes happen outside it. WebSockets run
websockets' sans-I/O ``ClientProtocol`` the same way, behind a lock.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl as _ssl
import struct
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..exceptions import ConnectError, ProtocolError
from ..exceptions import TimeoutError as ClientTimeoutError
from ..protocol import HEADER_SIZE
from ..transport import Address
from ..transport.connect import connect_error
from ..transport.handshake import SUBPROTOCOL, handshake_error
from ..transport.stream import socket_keepalive

#: a package header's size field (see protocol.package)
_SIZE = struct.Struct("<I")

if TYPE_CHECKING:
    from websockets.client import ClientProtocol

#: What one read takes at most, into a buffer reused for every read.
READ_SIZE = 256 * 1024

# A send that must not block: a full socket buffer shows as a short write,
# and the rest waits for room within the request's deadline. (Windows has
# no such flag: there a send blocks until it is done.)
DONTWAIT: int = getattr(socket, "MSGDONTWAIT", 0)

_POLL = hasattr(select, "poll")
POLLIN: int = getattr(select, "POLLIN", 1)
POLLOUT: int = getattr(select, "POLLOUT", 4)

# websockets.frames.Opcode values: data frames, and the control frames the
# protocol answers by itself (a CLOSE with a CLOSE, a PING with a PONG)
_DATA_OPCODES = frozenset({0x00, 0x01, 0x02})
_ANSWERED_OPCODES = frozenset({0x08, 0x09})


class WriteTimeout(Exception):
    """A write did not finish by its deadline. ``intact``: nothing of it
    went out and the stream is still in step (else it must be dropped)."""

    def __init__(self, intact: bool) -> None:
        super().__init__("timed out while waiting to write")
        self.intact = intact


def wait_for(fd: int, events: int, timeout: float | None) -> bool:
    """Wait until ``fd`` is ready for ``events`` (POLLIN or POLLOUT) or
    ``timeout`` seconds (None: no limit) have passed; True when ready. The
    wait consumes nothing: interrupting it (Ctrl-C) changes no state."""
    if _POLL:
        poller = select.poll()
        poller.register(fd, events)
        return bool(poller.poll(_ms(timeout)))
    reads, writes = ([fd], []) if events & POLLIN else ([], [fd])
    return any(select.select(reads, writes, [fd], timeout))


def readable(fds: list[int], timeout: float | None) -> list[int]:
    """The fds among ``fds`` that have something to read (or failed)."""
    if _POLL:
        poller = select.poll()
        for fd in fds:
            poller.register(fd, POLLIN)
        return [fd for fd, _ in poller.poll(_ms(timeout))]
    ready, _, failed = select.select(fds, [], fds, timeout)
    return list({*ready, *failed})


def _ms(timeout: float | None) -> int:
    return -1 if timeout is None else max(0, int(timeout * 1000 + 0.999))


def with_lock(
    lock: threading.Lock,
    deadline: float | None,
    fn: Callable[..., None],
    *args: Any,
) -> None:
    """Run ``fn(*args)`` holding ``lock``, waiting for it until ``deadline``
    (WriteTimeout after it, None: no limit), in a way no interrupt
    (Ctrl-C) can leave it taken.

    ``with lock`` takes the lock in one C call that an interrupt cannot
    split from the ``with``; a timed ``lock.acquire()`` has no such form:
    an interrupt raised just as it returned True would lose the result. So
    ``list.extend(map())`` makes the call and stores the result in C, and
    the lock is given back if an interrupt follows.
    """
    if deadline is None:
        with lock:
            fn(*args)
        return
    got: list[bool] = []
    try:
        got.extend(map(lock.acquire, (True,), (max(0.0, deadline - time.monotonic()),)))
    except BaseException:
        if got and got[0]:
            lock.release()
        raise
    if not got[0]:
        raise WriteTimeout(intact=True)
    try:
        fn(*args)
    finally:
        lock.release()


def remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


class Link:
    """A plain stream socket: TCP or a unix socket."""

    #: Every received chunk holds whole packages only (WebSocket messages
    #: do; stream reads may split packages anywhere).
    whole_messages = False
    #: Something was received already that the next receive() returns
    #: without reading the socket.
    buffered = False

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.write_lock = threading.Lock()
        #: counts the writes that made progress on a full socket (the
        #: keepalive tells a slow write from a stuck one by it)
        self.progress = 0
        self._buffer = bytearray(READ_SIZE)
        self._view = memoryview(self._buffer)

    # -- writing ---------------------------------------------------------------------

    def send(self, data: bytes, deadline: float | None) -> None:
        """Write ``data`` whole, in order with the other writers. Raises
        WriteTimeout at the deadline (waiting for another writer included),
        OSError when the socket fails."""
        with_lock(self.write_lock, deadline, self.send_locked, data, deadline)

    def send_locked(self, data: bytes, deadline: float | None) -> None:
        """:meth:`send` for a caller that holds the write lock already."""
        self.write_locked(data, deadline, True)

    def write_locked(self, data: bytes, deadline: float | None, intact: bool) -> None:
        """Write ``data`` (the write lock held). ``intact``: whether the
        stream stays in step should none of it go out."""
        try:
            sent = self.sock.send(data, DONTWAIT)
        except BlockingIOError:
            sent = 0
        if sent != len(data):
            self.write_rest(data, sent, deadline, intact)

    def write_rest(
        self, data: bytes, sent: int, deadline: float | None, intact: bool
    ) -> None:
        """The socket buffer is full: write the rest as room comes, up to
        the deadline (the write lock held)."""
        sock = self.sock
        view = memoryview(data)
        while sent < len(data):
            if not wait_for(self.fd, POLLOUT, remaining(deadline)):
                raise WriteTimeout(intact=intact and sent == 0)
            try:
                sent += sock.send(view[sent:], DONTWAIT)
            except BlockingIOError:
                continue
            self.progress += 1

    # -- reading ---------------------------------------------------------------------

    def receive(self) -> Sequence[bytes | memoryview]:
        """One read (blocking until something arrives) and the chunks it
        gives the decoder, maybe none. A memoryview is only valid until the
        next read. EOFError at the end of the stream."""
        n = self.sock.recv_into(self._buffer)
        if not n:
            raise EOFError("the node closed the connection")
        return [self._view[:n]]

    # -- the end -----------------------------------------------------------------------

    def shutdown(self) -> None:
        """Wake every thread blocked on the socket; the fd stays open."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def goodbye(self) -> None:
        """Say goodbye above the socket where there is a way (a WebSocket
        close frame), if it goes out at once."""

    def close(self) -> None:
        """Release the socket, once nothing reads or writes on it."""
        with self.write_lock:
            self.sock.close()

    def keep_alive(self, idle: float, timeout: float) -> None:
        """TCP keepalive with the keepalive's figures (TCP only)."""
        socket_keepalive(self.sock, idle, timeout)


class TlsLink(Link):
    """TLS on memory BIOs: the SSL object is only touched under its lock."""

    def __init__(
        self, sock: socket.socket, context: _ssl.SSLContext, server_hostname: str
    ) -> None:
        super().__init__(sock)
        self._incoming = _ssl.MemoryBIO()
        self._outgoing = _ssl.MemoryBIO()
        self._tls = context.wrap_bio(
            self._incoming, self._outgoing, server_hostname=server_hostname
        )
        self._tls_lock = threading.Lock()

    def handshake(self) -> None:
        """The TLS handshake, bounded by the socket's own timeout (nothing
        else uses the link yet)."""
        while True:
            try:
                self._tls.do_handshake()
            except _ssl.SSLWantReadError:
                self._flush_plain()
                n = self.sock.recv_into(self._buffer)
                if not n:
                    raise ConnectionError(
                        "the connection closed during the TLS handshake"
                    ) from None
                self._incoming.write(self._view[:n])
            else:
                self._flush_plain()
                return

    def _flush_plain(self) -> None:
        data = self._outgoing.read()
        if data:
            self.sock.sendall(data)

    def write_locked(self, data: bytes, deadline: float | None, intact: bool) -> None:
        with self._tls_lock:
            self._tls.write(data)
            records = self._outgoing.read()
        # records carry sequence numbers: once made, the stream is only in
        # step if every one of them goes out
        super().write_locked(records, deadline, False)

    def receive(self) -> list[bytes]:
        n = self.sock.recv_into(self._buffer)
        chunks: list[bytes] = []
        with self._tls_lock:
            if n:
                self._incoming.write(self._view[:n])
            else:
                self._incoming.write_eof()
            try:
                while True:
                    chunk = self._tls.read(READ_SIZE)
                    if not chunk:
                        raise EOFError("the node closed the TLS connection")
                    chunks.append(chunk)
            except _ssl.SSLWantReadError:
                pass
            except (_ssl.SSLZeroReturnError, _ssl.SSLEOFError):
                raise EOFError("the node closed the TLS connection") from None
            answered = self._outgoing.pending > 0
        if answered:
            # reading made records of its own (say a key update): they go
            # out in order with the writers' records
            with self.write_lock:
                with self._tls_lock:
                    records = self._outgoing.read()
                if records:
                    Link.write_locked(self, records, None, False)
        if not n and not chunks:
            raise EOFError("the node closed the connection")
        return chunks


class WebSocketLink:
    """One package per binary WebSocket message: websockets' sans-I/O
    protocol over a plain or a TLS link."""

    whole_messages = True

    def __init__(self, base: Link, protocol: ClientProtocol) -> None:
        self.base = base
        self.sock = base.sock
        self.fd = base.fd
        self.write_lock = base.write_lock
        self._ws = protocol
        self._ws_lock = threading.Lock()
        self._fragments: list[bytes] = []
        # frames that arrived with the handshake's response
        self._early: list[object] = []

    def handshake(self, deadline: float | None) -> None:
        """The opening handshake (nothing else uses the link yet)."""
        ws = self._ws
        ws.send_request(ws.connect())
        self.base.send(b"".join(ws.data_to_send()), deadline)
        while True:
            for data in self.base.receive():
                ws.receive_data(bytes(data))
            events = ws.events_received()
            if events:
                if ws.handshake_exc is not None:
                    raise handshake_error(ws.handshake_exc)
                self._early = list(events[1:])
                return

    @property
    def progress(self) -> int:
        return self.base.progress

    def send(self, data: bytes, deadline: float | None) -> None:
        with_lock(self.write_lock, deadline, self.send_locked, data, deadline)

    def send_locked(self, data: bytes, deadline: float | None) -> None:
        """``data``: one package, or several (a request with the PING behind
        it, see Connection.request_fenced): one message each."""
        with self._ws_lock:
            size = HEADER_SIZE + _SIZE.unpack_from(data)[0]
            if size == len(data):
                self._ws.send_binary(data)
            else:
                view = memoryview(data)
                while view:
                    size = HEADER_SIZE + _SIZE.unpack_from(view)[0]
                    self._ws.send_binary(view[:size])
                    view = view[size:]
            out = self._ws.data_to_send()
        self._write_locked(out, deadline)

    def _write_locked(self, chunks: list[bytes], deadline: float | None) -> None:
        # b"" stands for "end of the stream", and only ever comes last
        eof = bool(chunks) and not chunks[-1]
        data = b"".join(chunks)
        if data:
            # a frame that did not go out at all leaves the stream in step
            self.base.write_locked(data, deadline, True)
        if eof:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_WR)

    def receive(self) -> list[bytes]:
        ws = self._ws
        if self._early:
            events, self._early = self._early, []
        else:
            try:
                raw = self.base.receive()
            except EOFError:
                with self._ws_lock:
                    ws.receive_eof()
                raise
            with self._ws_lock:
                for data in raw:
                    ws.receive_data(bytes(data))
                failure = ws.parser_exc
                events = list(ws.events_received())
            if failure is not None:
                # e.g. a message over the size cap
                raise ProtocolError(f"WebSocket message refused: {failure}")
        messages: list[bytes] = []
        answered = False
        for event in events:
            opcode = getattr(event, "opcode", None)
            if opcode in _DATA_OPCODES:
                payload: bytes = bytes(event.data)  # type: ignore[attr-defined]
                fin: bool = event.fin  # type: ignore[attr-defined]
                if fin and not self._fragments:
                    messages.append(payload)
                else:
                    self._fragments.append(payload)
                    if fin:
                        messages.append(b"".join(self._fragments))
                        self._fragments.clear()
            elif opcode in _ANSWERED_OPCODES:
                answered = True
        if answered:
            # what the protocol answered by itself, in order with the writers
            with self.write_lock:
                with self._ws_lock:
                    out = self._ws.data_to_send()
                self._write_locked(out, None)
        return messages

    @property
    def buffered(self) -> bool:
        return bool(self._early)

    def shutdown(self) -> None:
        self.base.shutdown()

    def goodbye(self) -> None:
        if not self.write_lock.acquire(blocking=False):
            return  # a writer is busy: no goodbye then
        try:
            with self._ws_lock:
                if self._ws.close_expected() or self._ws.parser_exc is not None:
                    return
                try:
                    self._ws.send_close(1000)
                except Exception:  # noqa: BLE001 - not open any more: nothing to say
                    return
                out = self._ws.data_to_send()
            with contextlib.suppress(OSError, WriteTimeout):
                self._write_locked(out, time.monotonic())
        finally:
            self.write_lock.release()

    def close(self) -> None:
        self.base.close()

    def keep_alive(self, idle: float, timeout: float) -> None:
        self.base.keep_alive(idle, timeout)


AnyLink = Link | WebSocketLink


def open_link(
    address: Address,
    context: _ssl.SSLContext | None,
    max_message_size: int,
    deadline: float | None,
) -> AnyLink:
    """Connect to ``address`` and complete the TLS and WebSocket handshakes
    by ``deadline`` (ClientTimeoutError after it). ConnectError (or
    CertificateError) for a refused or failed connection, as in the async
    client; ImportError without websockets.
    ``context``: the TLS context for TCP and for ``wss://`` (None: no TLS
    for TCP; ``wss://`` then verifies with a default context)."""
    what = f"connecting to {address}"
    if address.tls and context is None:
        context = _ssl.create_default_context()
    try:
        if address.kind == "ws":
            return _open_websocket(address, context, max_message_size, deadline)
        if address.kind == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(remaining(deadline))
                sock.connect(address.path)
                sock.settimeout(None)
            except BaseException:
                sock.close()
                raise
            return Link(sock)
        sock = _tcp(address.host, address.port, deadline)
        if context is None:
            return Link(sock)
        return _tls(sock, context, address.host, deadline)
    except (TimeoutError, WriteTimeout):
        raise ClientTimeoutError(f"timed out while {what}") from None
    except ConnectError:
        raise
    except OSError as exc:  # refused, unreachable, unresolved, TLS, handshake
        raise connect_error(address, exc) from exc


def _tcp(host: str, port: int, deadline: float | None) -> socket.socket:
    timeout = remaining(deadline)
    if timeout is not None and timeout <= 0:
        raise TimeoutError("no time left")
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return sock


def _tls(
    sock: socket.socket, context: _ssl.SSLContext, host: str, deadline: float | None
) -> TlsLink:
    try:
        link = TlsLink(sock, context, host)
        sock.settimeout(remaining(deadline))
        link.handshake()
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return link


def _open_websocket(
    address: Address,
    context: _ssl.SSLContext | None,
    max_message_size: int,
    deadline: float | None,
) -> WebSocketLink:
    try:
        from websockets.client import ClientProtocol
        from websockets.typing import Subprotocol
        from websockets.uri import parse_uri
    except ImportError:
        raise ImportError(
            "WebSocket connections of the blocking client need the "
            "'websockets' package: pip install websockets (or install the "
            "connector's 'websockets' extra)"
        ) from None
    uri = parse_uri(address.uri)
    sock = _tcp(uri.host, uri.port, deadline)
    base: Link
    if uri.secure:
        base = _tls(sock, context or _ssl.create_default_context(), uri.host, deadline)
    else:
        base = Link(sock)
    protocol = ClientProtocol(
        uri, subprotocols=[Subprotocol(SUBPROTOCOL)], max_size=max_message_size
    )
    link = WebSocketLink(base, protocol)
    try:
        sock.settimeout(remaining(deadline))
        link.handshake(deadline)
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return link
