"""A fake ThingsDB node: the server side of the binary protocol, for tests.

The node listens on ``127.0.0.1`` (a free port), decodes every package it
receives, records it, and hands it to a handler that decides what to answer.
The default handler answers like a healthy node; tests swap in their own
handler (``node.handler = ...``) and drive the connections directly to delay,
withhold, reorder or corrupt answers, push events, or cut the connection.

Nothing here uses tasks: the server side is a plain ``asyncio.Protocol``, so a
test may check ``asyncio.all_tasks()`` for what the client left behind.

Typical use::

    node = FakeNode()
    await node.start()
    ...  # client.connect("127.0.0.1", node.port)
    await node.stop()
"""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Literal

from thingsdb.protocol import (
    EVENT_PID,
    Package,
    PackageDecoder,
    PackageType,
    canonical_scope,
    encode,
    frame,
)

#: A handler decides what the node does with one received package.
Handler = Callable[["NodeConnection", Package], None]

#: The order in which held requests are answered.
Order = Literal["fifo", "reverse", "random"]

HOST = "127.0.0.1"

_HEADER = struct.Struct("<IHBB")

#: Request types the (real) node answers; others get no answer at all.
REQUEST_TYPES = frozenset(
    {
        PackageType.PING,
        PackageType.AUTH,
        PackageType.QUERY,
        PackageType.RUN,
        PackageType.JOIN,
        PackageType.LEAVE,
        PackageType.EMIT,
        PackageType.EMIT_PEER,
    }
)

#: Error code of a request on a connection that did not authenticate.
AUTH_ERROR = -56


def raw_package(
    pid: int,
    tp: int,
    payload: bytes = b"",
    *,
    size: int | None = None,
    check: int | None = None,
) -> bytes:
    """Header and payload as bytes, with an optionally wrong size or check
    byte (by default both are right)."""
    return (
        _HEADER.pack(
            len(payload) if size is None else size,
            pid,
            tp,
            (tp ^ 0xFF) if check is None else check,
        )
        + payload
    )


def package_bytes(pid: int, tp: int, data: Any = None) -> bytes:
    """A well-formed package; ``data`` None means an empty payload."""
    return frame(pid, tp, b"" if data is None else encode(data))


def query_code(pkg: Package) -> str:
    """The code string of a QUERY package."""
    data = pkg.data
    assert isinstance(data, list), data
    code = data[1]
    assert isinstance(code, str), code
    return code


def query_vars(pkg: Package) -> dict[str, Any]:
    """The variables of a QUERY package ({} when it has none)."""
    data = pkg.data
    assert isinstance(data, list), data
    if len(data) < 3:
        return {}
    variables = data[2]
    assert isinstance(variables, dict), variables
    return variables


def default_answer(pkg: Package) -> tuple[int, Any] | None:
    """What a healthy node answers to ``pkg``, as (type, value); None when the
    node would not answer at all.

    QUERY is answered with its code string, RUN with ``[procedure, args]``
    (args: the list or map of arguments, None without), JOIN/LEAVE with the
    list of rooms, EMIT/EMIT_PEER with OK.
    """
    tp = pkg.type
    if tp == PackageType.PING:
        return PackageType.PONG, None
    if tp == PackageType.AUTH:
        return PackageType.OK, None
    if tp == PackageType.QUERY:
        return PackageType.DATA, query_code(pkg)
    if tp == PackageType.RUN:
        data = pkg.data
        assert isinstance(data, list), data
        return PackageType.DATA, [data[1], data[2] if len(data) > 2 else None]
    if tp in (PackageType.JOIN, PackageType.LEAVE):
        data = pkg.data
        assert isinstance(data, list), data
        return PackageType.DATA, list(data[1:])
    if tp in (PackageType.EMIT, PackageType.EMIT_PEER):
        return PackageType.OK, None
    return None


def default_handler(conn: NodeConnection, pkg: Package) -> None:
    """Answer like a healthy node (see :func:`default_answer`)."""
    conn.answer_default(pkg)


def hold_requests(conn: NodeConnection, pkg: Package) -> None:
    """Answer PING and AUTH; withhold every other request (see
    :meth:`NodeConnection.release_held` and :meth:`FakeNode.release_held`)."""
    if pkg.type in (PackageType.PING, PackageType.AUTH):
        conn.answer_default(pkg)
    else:
        conn.hold(pkg)


def hold_everything(conn: NodeConnection, pkg: Package) -> None:
    """Withhold every request, AUTH included: a node that stalls."""
    conn.hold(pkg)


def delayed(delay: float, handler: Handler = default_handler) -> Handler:
    """A handler that lets ``handler`` act on each package after ``delay``
    seconds (PING and AUTH are answered at once)."""

    def handle(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type in (PackageType.PING, PackageType.AUTH):
            handler(conn, pkg)
        else:
            conn.later(delay, lambda: handler(conn, pkg))

    return handle


@dataclass(frozen=True)
class Received:
    """One package the node received, with the connection it came on."""

    conn: NodeConnection
    pkg: Package
    time: float


@dataclass(eq=False)
class NodeConnection(asyncio.Protocol):
    """The node's end of one client connection."""

    node: FakeNode
    id: int
    #: Every package received on this connection, in order.
    received: list[Package] = field(default_factory=list)
    #: Requests withheld by :meth:`hold`, in arrival order.
    held: list[Package] = field(default_factory=list)
    #: Pids of requests received and not answered yet.
    outstanding: set[int] = field(default_factory=set)
    #: Pids received again while a request with that pid was outstanding.
    duplicate_pids: list[int] = field(default_factory=list)
    authenticated: bool = False
    transport: asyncio.Transport | None = None
    decode_error: Exception | None = None

    def __post_init__(self) -> None:
        self._decoder = PackageDecoder(self.node.max_package_size)
        self._out: list[bytes] | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        loop = asyncio.get_running_loop()
        #: Resolved once the transport is gone (never failed).
        self.closed: asyncio.Future[None] = loop.create_future()
        self.eof = False

    def __repr__(self) -> str:
        state = "closed" if self.closed.done() else "open"
        return f"<NodeConnection #{self.id} {state} received={len(self.received)}>"

    # -- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.node._connection_made(self)

    def data_received(self, data: bytes) -> None:
        try:
            packages = self._decoder.feed(data)
        except Exception as exc:  # noqa: BLE001 - the client broke the protocol
            self.decode_error = exc
            self.abort()
            return
        loop_time = asyncio.get_running_loop().time()
        with self.corked():
            for pkg in packages:
                self.received.append(pkg)
                self.node.received.append(Received(self, pkg, loop_time))
                if pkg.type in REQUEST_TYPES:
                    if pkg.pid in self.outstanding:
                        self.duplicate_pids.append(pkg.pid)
                    self.outstanding.add(pkg.pid)
                try:
                    self.node.handler(self, pkg)
                except Exception as exc:  # noqa: BLE001 - reported by stop()
                    self.node.errors.append(exc)
        self.node._notify()

    def eof_received(self) -> bool:
        self.eof = True
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if not self.closed.done():
            self.closed.set_result(None)
        self.node._notify()

    # -- state ----------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def requests(self, tp: int | None = None) -> list[Package]:
        """Received requests of type ``tp`` (all types when None)."""
        return [p for p in self.received if tp is None or p.type == tp]

    # -- writing ----------------------------------------------------------------

    @contextmanager
    def corked(self) -> Iterator[None]:
        """Gather everything sent inside the block into one write (so the
        client most likely reads it in one go)."""
        if self._out is not None:  # nested: the outer block writes
            yield
            return
        self._out = []
        try:
            yield
        finally:
            out, self._out = self._out, None
            if out:
                self._write(b"".join(out))

    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (corrupt packages, partial packages...)."""
        if self._out is not None:
            self._out.append(data)
        else:
            self._write(data)

    def _write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def respond(self, pid: int, tp: int, data: Any = None) -> None:
        """Send an answer (or any package) with ``pid``; ``data`` None sends an
        empty payload."""
        self.outstanding.discard(pid)
        self.send_raw(package_bytes(pid, tp, data))

    def answer(self, pkg: Package, value: Any) -> None:
        """Answer ``pkg`` with DATA ``value``."""
        self.respond(pkg.pid, PackageType.DATA, value)

    def answer_ok(self, pkg: Package) -> None:
        self.respond(pkg.pid, PackageType.OK)

    def answer_error(self, pkg: Package, code: int, msg: str) -> None:
        self.respond(pkg.pid, PackageType.ERROR, {"error_code": code, "error_msg": msg})

    def answer_default(self, pkg: Package) -> None:
        """Answer as a healthy node would; requests on a connection that did
        not authenticate get error -56, like the real node."""
        if (
            not self.authenticated
            and pkg.type in REQUEST_TYPES
            and pkg.type not in (PackageType.PING, PackageType.AUTH)
        ):
            self.answer_error(pkg, AUTH_ERROR, "not authenticated")
            return
        answer = default_answer(pkg)
        if answer is None:
            return
        if pkg.type == PackageType.AUTH:
            self.authenticated = True
        self.respond(pkg.pid, *answer)

    def send_event(self, tp: int, data: Any) -> None:
        """Push an event (pid 0xFFFF)."""
        self.send_raw(package_bytes(EVENT_PID, tp, data))

    def send_node_status(self, status: str, node_id: int = 0) -> None:
        self.send_event(PackageType.NODE_STATUS, {"id": node_id, "status": status})

    def send_warn(self, code: int, msg: str) -> None:
        self.send_event(PackageType.WARN, {"warn_code": code, "warn_msg": msg})

    # -- withholding ------------------------------------------------------------

    def hold(self, pkg: Package) -> None:
        """Withhold the answer to ``pkg`` until it is released."""
        self.held.append(pkg)

    def take_held(
        self, order: Order = "fifo", rng: random.Random | None = None
    ) -> list[Package]:
        """Remove and return the held requests in ``order``."""
        held, self.held = self.held, []
        if order == "reverse":
            held.reverse()
        elif order == "random":
            (rng or random.Random()).shuffle(held)
        return held

    def release_held(
        self,
        order: Order = "fifo",
        rng: random.Random | None = None,
        answer: Handler = default_handler,
    ) -> int:
        """Answer every held request (by default as a healthy node would), in
        ``order``, in one write; returns how many were answered."""
        held = self.take_held(order, rng)
        with self.corked():
            for pkg in held:
                answer(self, pkg)
        return len(held)

    def later(self, delay: float, fn: Callable[[], None]) -> None:
        """Call ``fn()`` after ``delay`` seconds (written at once, not corked)
        unless the connection closes first."""
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(timer)
            if self.is_open:
                try:
                    fn()
                except Exception as exc:  # noqa: BLE001 - reported by stop()
                    self.node.errors.append(exc)

        timer = loop.call_later(delay, fire)
        self._timers.add(timer)

    # -- ending ---------------------------------------------------------------

    def close(self) -> None:
        """Close after what was written is sent (the client sees EOF)."""
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Close at once, dropping unsent data."""
        if self.transport is not None:
            self.transport.abort()

    def cut(self, partial: bytes = b"") -> None:
        """Send ``partial`` (for instance half a package), then close."""
        if partial:
            self.send_raw(partial)
        self.close()


class FakeNode:
    """A scriptable fake ThingsDB node; see the module docstring."""

    def __init__(
        self,
        handler: Handler = default_handler,
        *,
        max_package_size: int = 1 << 30,
    ) -> None:
        #: Called for every package received, on any connection.
        self.handler: Handler = handler
        self.max_package_size = max_package_size
        #: Connections in the order they were accepted.
        self.connections: list[NodeConnection] = []
        #: Every package received, on any connection, in order.
        self.received: list[Received] = []
        #: Exceptions raised by handlers (a test bug, not a client bug).
        self.errors: list[Exception] = []
        self._next_id = 0
        self._server: asyncio.Server | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self.port = 0

    async def __aenter__(self) -> FakeNode:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_connection, HOST, 0)
        sockname = self._server.sockets[0].getsockname()
        self.port = int(sockname[1])

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, abort every connection and wait until they are
        all closed."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for conn in self.connections:
            conn.abort()
        pending = [c.closed for c in self.connections if not c.closed.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        if server is not None:
            await server.wait_closed()
        self._notify()

    # -- queries on what happened ---------------------------------------------

    def requests(self, tp: int | None = None) -> list[Received]:
        """Received packages of type ``tp`` (all when None), any connection."""
        return [r for r in self.received if tp is None or r.pkg.type == tp]

    def pids(self, tp: int | None = None) -> list[int]:
        return [r.pkg.pid for r in self.requests(tp)]

    @property
    def duplicate_pids(self) -> list[tuple[int, int]]:
        """(connection id, pid) for every pid received while still in use."""
        return [(c.id, pid) for c in self.connections for pid in c.duplicate_pids]

    @property
    def last_connection(self) -> NodeConnection:
        assert self.connections, "no client connected to the fake node"
        return self.connections[-1]

    def held(self) -> list[tuple[NodeConnection, Package]]:
        return [(c, p) for c in self.connections for p in c.held]

    def release_held(
        self,
        order: Order = "fifo",
        rng: random.Random | None = None,
        answer: Handler = default_handler,
    ) -> int:
        """Answer every held request on every connection; see
        :meth:`NodeConnection.release_held`."""
        return sum(c.release_held(order, rng, answer) for c in self.connections)

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,
        what: str = "a condition",
    ) -> None:
        """Wait until ``predicate()`` holds; it is checked whenever the node
        receives data or a connection opens or closes. AssertionError after
        ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"fake node: timed out waiting for {what}")
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append(fut)
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(fut, remaining)

    async def wait_for_requests(
        self, count: int, tp: int = PackageType.QUERY, timeout: float = 5.0
    ) -> list[Received]:
        """Wait until ``count`` requests of type ``tp`` were received."""
        await self.wait_for(
            lambda: len(self.requests(tp)) >= count,
            timeout,
            f"{count} request(s) of type {tp:#04x}",
        )
        return self.requests(tp)

    async def wait_for_connections(self, count: int, timeout: float = 5.0) -> None:
        await self.wait_for(
            lambda: len(self.connections) >= count, timeout, f"{count} connection(s)"
        )

    # -- internals ---------------------------------------------------------------

    def _new_connection(self) -> NodeConnection:
        conn = NodeConnection(self, self._next_id)
        self._next_id += 1
        return conn

    def _connection_made(self, conn: NodeConnection) -> None:
        self.connections.append(conn)
        self._notify()

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)


def not_ready_for(count: int, message: str) -> Handler:
    """A node that answers the first ``count`` queries with a not-ready
    NodeError (nothing ran), then as a healthy node."""
    answered = 0

    def handle(conn: NodeConnection, pkg: Package) -> None:
        nonlocal answered
        if pkg.type == PackageType.QUERY and answered < count:
            answered += 1
            conn.answer_error(pkg, -51, message)
        else:
            conn.answer_default(pkg)

    return handle


def record_pauses(monkeypatch: Any) -> list[tuple[float, float]]:
    """Every jittered pause the client draws (both clients draw them in
    thingsdb.engine.failover), as (low, high); the shortest is taken.
    ``monkeypatch``: pytest's fixture."""
    bounds: list[tuple[float, float]] = []

    def record(low: float, high: float) -> float:
        bounds.append((low, high))
        return low

    monkeypatch.setattr("thingsdb.engine.failover.random.uniform", record)
    return bounds


def join_then_event(conn: NodeConnection, pkg: Package) -> None:
    """Answer as a healthy node; after a JOIN, its ROOM_JOIN events."""
    conn.answer_default(pkg)
    if pkg.type == PackageType.JOIN:
        scope = canonical_scope(pkg.data[0])
        for room_id in pkg.data[1:]:
            conn.send_event(PackageType.ROOM_JOIN, {"scope": scope, "id": room_id})
