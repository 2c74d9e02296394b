"""Cluster behaviour a real node cannot be made to show: a half-open
connection, every node refusing, a node that is not ready."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest

from fakenode import FakeNode, NodeConnection
from thingsdb.client import Client
from thingsdb.exceptions import NodeError
from thingsdb.exceptions import TimeoutError as ClientTimeoutError
from thingsdb.protocol import Package, PackageType


@pytest.fixture
async def node() -> AsyncIterator[FakeNode]:
    async with FakeNode() as fake:
        yield fake


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_keepalive_detects_a_half_open_connection(node: FakeNode) -> None:
    silent = False

    def go_silent(conn: NodeConnection, pkg: Package) -> None:
        # after the first connection is set up, that peer never answers
        # again, as a peer behind a dead link would not
        if silent and conn is node.connections[0]:
            return
        conn.answer_default(pkg)

    node.handler = go_silent
    client = Client(ping_interval=0.1, ping_timeout=0.3, reconnect_delay=0.01)
    await client.connect("127.0.0.1", node.port)
    await client.authenticate("admin", "pass")
    try:
        silent = True
        started = time.monotonic()
        await node.wait_for_connections(2, timeout=5)
        assert time.monotonic() - started < 2.0
        # the new connection is authenticated and answers
        assert await client.query("alive", timeout=5) == "alive"
        pings = [r for r in node.received if r.pkg.type == PackageType.PING]
        assert pings, "the client never pinged"
    finally:
        await client.close_and_wait()


async def test_keepalive_off_sends_no_ping(node: FakeNode) -> None:
    client = Client(ping_interval=None)
    await client.connect("127.0.0.1", node.port)
    await client.authenticate("admin", "pass")
    try:
        await asyncio.sleep(0.3)
        assert not [r for r in node.received if r.pkg.type == PackageType.PING]
    finally:
        await client.close_and_wait()


async def test_every_node_refusing_ends_in_a_clear_error() -> None:
    pool = [("127.0.0.1", closed_port()), ("127.0.0.1", closed_port())]
    client = Client(reconnect_delay=0.05)
    started = time.monotonic()
    with pytest.raises(ClientTimeoutError) as info:
        await client.connect_pool(pool, "admin", "pass", timeout=1.0)
    assert time.monotonic() - started < 2.0
    message = str(info.value)
    assert "no node of the pool accepted within 1.0 seconds" in message
    assert "127.0.0.1" in message  # the last error names the node
    assert not client.is_connected()
    await client.close_and_wait()
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_query_waits_for_the_reconnect_within_its_timeout(
    node: FakeNode,
) -> None:
    client = Client(reconnect_delay=5, reconnect_max_delay=5)
    await client.connect("127.0.0.1", node.port)
    await client.authenticate("admin", "pass")
    try:
        await node.stop()  # the node is gone; the client keeps trying
        started = time.monotonic()
        with pytest.raises(ClientTimeoutError, match="waiting for a connection"):
            await client.query("x", timeout=0.5)
        assert 0.4 < time.monotonic() - started < 1.5
    finally:
        await client.close_and_wait()


async def test_not_ready_answer_is_retried_on_another_node() -> None:
    def not_ready(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.QUERY:
            conn.answer_error(
                pkg, -51, "node `0` is not ready to handle client requests"
            )
        else:
            conn.answer_default(pkg)

    async with FakeNode(not_ready) as sick, FakeNode() as well:
        client = Client(reconnect_delay=0.01)
        await client.connect_pool(
            [("127.0.0.1", sick.port)], "admin", "pass", timeout=5
        )
        try:
            # a lone node: retried a few times, then the error is the caller's
            with pytest.raises(NodeError, match="not ready"):
                await client.query("x", timeout=5)
            assert len(sick.requests(PackageType.QUERY)) == 6
        finally:
            await client.close_and_wait()

        client = Client(reconnect_delay=0.01)
        await client.connect_pool(
            [("127.0.0.1", sick.port), ("127.0.0.1", well.port)],
            "admin",
            "pass",
            timeout=5,
        )
        try:
            assert await client.query("answered", timeout=5) == "answered"
            assert client.connection_info() == f"127.0.0.1:{well.port}"
        finally:
            await client.close_and_wait()


async def test_error_raised_by_code_is_not_retried(node: FakeNode) -> None:
    def user_error(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.QUERY:
            conn.answer_error(pkg, -51, "raised by the code")
        else:
            conn.answer_default(pkg)

    node.handler = user_error
    client = Client()
    await client.connect("127.0.0.1", node.port)
    await client.authenticate("admin", "pass")
    try:
        with pytest.raises(NodeError, match="raised by the code"):
            await client.query("raise(node_err('raised by the code'));")
        assert len(node.requests(PackageType.QUERY)) == 1
    finally:
        await client.close_and_wait()


async def test_keepalive_spares_a_node_busy_with_a_long_query(node: FakeNode) -> None:
    # A real node runs one thing at a time: while a long query runs it
    # answers no PING. Here the "query" takes ten ping timeouts, and every
    # PING waits behind it, as on a real node.
    busy_until = 0.0

    def busy_node(conn: NodeConnection, pkg: Package) -> None:
        nonlocal busy_until
        loop = asyncio.get_running_loop()
        if pkg.type == PackageType.QUERY and pkg.data[1] == "long":
            busy_until = loop.time() + 3.0
        delay = max(0.0, busy_until - loop.time())
        if delay:
            conn.later(delay, lambda: conn.answer_default(pkg))
        else:
            conn.answer_default(pkg)

    node.handler = busy_node
    client = Client(ping_interval=0.1, ping_timeout=0.3, reconnect_delay=0.01)
    await client.connect("127.0.0.1", node.port)
    await client.authenticate("admin", "pass")
    try:
        assert await client.query("long", timeout=10) == "long"
        assert len(node.connections) == 1, "the busy node was taken for dead"
        pings = [r for r in node.received if r.pkg.type == PackageType.PING]
        assert len(pings) >= 1
        # and once idle, a silent node is still noticed (see the half-open
        # test): the keepalive is not switched off by a long query
        assert client.is_connected()
    finally:
        await client.close_and_wait()


async def test_backoff_doubles_with_jitter_up_to_its_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bounds: list[tuple[float, float]] = []

    def record(low: float, high: float) -> float:
        bounds.append((low, high))
        return low  # the shortest pause the jitter allows

    monkeypatch.setattr("thingsdb.client.client.random.uniform", record)
    pool = [("127.0.0.1", closed_port()), ("127.0.0.1", closed_port())]
    client = Client(reconnect_delay=0.01, reconnect_max_delay=0.04)
    with pytest.raises(ClientTimeoutError):
        await client.connect_pool(pool, "admin", "pass", timeout=0.5)
    await client.close_and_wait()
    # one pause per round of the pool: between half the delay and the
    # delay, which doubles each round up to reconnect_max_delay
    assert bounds[:4] == [(0.005, 0.01), (0.01, 0.02), (0.02, 0.04), (0.02, 0.04)]
    assert all(high <= 0.04 for _, high in bounds)


async def test_the_first_node_of_a_pool_is_picked_at_random() -> None:
    async with FakeNode() as a, FakeNode() as b:
        pool = [("127.0.0.1", a.port), ("127.0.0.1", b.port)]
        for _ in range(40):
            client = Client()
            await client.connect_pool(pool, "admin", "pass", timeout=5)
            await client.close_and_wait()
            if a.connections and b.connections:
                break
        # with a fair pick, 40 tries all on one node happen once in 2**39
        assert a.connections
        assert b.connections
