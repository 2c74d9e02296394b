"""Cluster behaviour a real node cannot be made to show on cue: a half-open
connection, every node refusing, nodes and clusters that are not ready, a
node going away for a moment."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from collections.abc import AsyncIterator

import pytest
import trustme

from bothclients import MakeClient, eventually
from fakenode import (
    FakeNode,
    NodeConnection,
    not_ready_for,
    query_code,
    record_pauses,
)
from realnode import Proxy
from thingsdb.engine.failover import MOVE_SETTLE_LIMIT
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


async def test_keepalive_detects_a_half_open_connection(
    node: FakeNode, make_client: MakeClient
) -> None:
    silent = False

    def go_silent(conn: NodeConnection, pkg: Package) -> None:
        # after the first connection is set up, that peer never answers
        # again, as a peer behind a dead link would not
        if silent and conn is node.connections[0]:
            return
        conn.answer_default(pkg)

    node.handler = go_silent
    client = make_client(ping_interval=0.1, ping_timeout=0.3, reconnect_delay=0.01)
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


async def test_keepalive_off_sends_no_ping(
    node: FakeNode, make_client: MakeClient
) -> None:
    client = make_client(ping_interval=None)
    await client.connect("127.0.0.1", node.port)
    await client.authenticate("admin", "pass")
    try:
        await asyncio.sleep(0.3)
        assert not [r for r in node.received if r.pkg.type == PackageType.PING]
    finally:
        await client.close_and_wait()


async def test_every_node_refusing_ends_in_a_clear_error(
    make_client: MakeClient,
) -> None:
    pool = [("127.0.0.1", closed_port()), ("127.0.0.1", closed_port())]
    client = make_client(reconnect_delay=0.05)
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
    node: FakeNode, make_client: MakeClient
) -> None:
    client = make_client(reconnect_delay=5, reconnect_max_delay=5)
    await client.connect("127.0.0.1", node.port)
    await client.authenticate("admin", "pass")
    try:
        await node.stop()  # the node is gone; the client keeps trying
        # once the client has read the close (a request written in the
        # instant before, into a connection the node already closed, fails
        # with ConnectionLostError: see the guarantees page)
        await eventually(lambda: not client.is_connected())
        assert not client.is_connected()
        started = time.monotonic()
        with pytest.raises(ClientTimeoutError, match="waiting for a connection"):
            await client.query("x", timeout=0.5)
        assert 0.4 < time.monotonic() - started < 1.5
    finally:
        await client.close_and_wait()


SYNCHRONIZING = (
    "cannot find a node for handling this request; "
    "please wait until node:0 has finished synchronizing"
)
STARTING = "node `0` is not ready to handle client requests"


async def test_a_lone_node_not_ready_is_waited_for_with_back_off(
    node: FakeNode, monkeypatch: pytest.MonkeyPatch, make_client: MakeClient
) -> None:
    # a pool of one node, whose cluster is busy synchronizing for a while
    pauses = record_pauses(monkeypatch)
    node.handler = not_ready_for(6, SYNCHRONIZING)
    client = make_client()
    await client.connect_pool([("127.0.0.1", node.port)], "admin", "pass")
    try:
        assert await client.query("answered", timeout=30) == "answered"
        assert len(node.requests(PackageType.QUERY)) == 7
        assert len(node.connections) == 1  # it stayed
        # doubling from 0.1 s, capped at 2 s; jitter takes half to all of it
        assert pauses == [
            (0.05, 0.1),
            (0.1, 0.2),
            (0.2, 0.4),
            (0.4, 0.8),
            (0.8, 1.6),
            (1.0, 2.0),
        ]
    finally:
        await client.close_and_wait()


async def test_not_ready_until_the_deadline_raises_the_node_error(
    node: FakeNode,
    make_client: MakeClient,
) -> None:
    node.handler = not_ready_for(1000, SYNCHRONIZING)
    client = make_client()
    await client.connect_pool([("127.0.0.1", node.port)], "admin", "pass")
    try:
        # nothing ran: the node's own answer, not a timeout, once the next
        # try would come after the deadline
        with pytest.raises(NodeError, match="finished synchronizing"):
            await asyncio.wait_for(client.query("x", timeout=1.0), 10)
        assert len(node.requests(PackageType.QUERY)) >= 3
        assert client.is_connected()
    finally:
        await client.close_and_wait()


async def test_not_ready_without_a_timeout_waits_until_answered(
    node: FakeNode,
    make_client: MakeClient,
) -> None:
    node.handler = not_ready_for(8, SYNCHRONIZING)  # 0.1 + 0.2 + ... about 5 s
    client = make_client()
    await client.connect_pool([("127.0.0.1", node.port)], "admin", "pass")
    try:
        assert await asyncio.wait_for(client.query("late"), 30) == "late"
        assert len(node.requests(PackageType.QUERY)) == 9
    finally:
        await client.close_and_wait()


async def test_a_new_status_of_the_node_makes_a_waiting_request_try_again(
    node: FakeNode, monkeypatch: pytest.MonkeyPatch, make_client: MakeClient
) -> None:
    # pauses of a minute: only the status can make the request go again soon
    monkeypatch.setattr("thingsdb.engine.requests._NOT_READY_PAUSE", 60.0)
    monkeypatch.setattr("thingsdb.engine.requests._NOT_READY_MAX_PAUSE", 60.0)
    node.handler = not_ready_for(1, SYNCHRONIZING)
    client = make_client()
    await client.connect_pool([("127.0.0.1", node.port)], "admin", "pass")
    try:
        waiting = asyncio.ensure_future(client.query("woken", timeout=120))
        await node.wait_for_requests(1)
        await asyncio.sleep(0.1)
        assert not waiting.done()
        node.last_connection.send_node_status("READY")
        assert await asyncio.wait_for(waiting, 10) == "woken"
    finally:
        await client.close_and_wait()


async def test_retry_not_ready_zero_raises_at_once(
    node: FakeNode, make_client: MakeClient
) -> None:
    node.handler = not_ready_for(1, SYNCHRONIZING)
    client = make_client(retry_not_ready=0)
    await client.connect_pool([("127.0.0.1", node.port)], "admin", "pass")
    try:
        with pytest.raises(NodeError, match="finished synchronizing"):
            await client.query("x", timeout=5)
        assert len(node.requests(PackageType.QUERY)) == 1
    finally:
        await client.close_and_wait()


async def test_a_node_not_ready_itself_is_left_for_the_next_one(
    monkeypatch: pytest.MonkeyPatch,
    make_client: MakeClient,
) -> None:
    # the pool's first pick: the node that is starting
    monkeypatch.setattr("thingsdb.engine.failover.random.randrange", lambda n: 0)
    async with FakeNode(not_ready_for(1000, STARTING)) as sick, FakeNode() as well:
        client = make_client(reconnect_delay=0.01)
        await client.connect_pool(
            [("127.0.0.1", sick.port), ("127.0.0.1", well.port)],
            "admin",
            "pass",
            timeout=5,
        )
        try:
            assert await client.query("answered", timeout=5) == "answered"
            assert client.connection_info() == f"127.0.0.1:{well.port}"
            assert len(sick.requests(PackageType.QUERY)) == 1
        finally:
            await client.close_and_wait()


async def test_a_cluster_not_ready_is_waited_for_on_the_same_node(
    make_client: MakeClient,
) -> None:
    # "no node can handle this" speaks for the whole cluster: moving would
    # not help, so the client stays where it is
    async with FakeNode() as a, FakeNode() as b:
        client = make_client(reconnect_delay=0.01)
        await client.connect_pool(
            [("127.0.0.1", a.port), ("127.0.0.1", b.port)], "admin", "pass"
        )
        try:
            in_use, other = (a, b) if a.connections else (b, a)
            in_use.handler = not_ready_for(3, SYNCHRONIZING)
            assert await client.query("waited", timeout=10) == "waited"
            assert len(in_use.requests(PackageType.QUERY)) == 4
            assert len(in_use.connections) == 1
            assert other.connections == []
        finally:
            await client.close_and_wait()


@pytest.mark.parametrize("status", ["AWAY_SOON", "AWAY"])
async def test_a_node_going_away_for_a_moment_keeps_the_client(
    node: FakeNode, status: str, make_client: MakeClient
) -> None:
    client = make_client(reconnect_delay=0.01)
    await client.connect_pool([("127.0.0.1", node.port)], "admin", "pass")
    statuses: list[str] = []
    client.on_node_status = statuses.append
    try:
        node.last_connection.send_node_status(status)
        assert await client.query("still here", timeout=5) == "still here"
        node.last_connection.send_node_status("READY")
        assert await client.query("and here", timeout=5) == "and here"
        await eventually(lambda: len(statuses) >= 2)
        assert statuses == [status, "READY"]
        assert len(node.connections) == 1
        assert node.last_connection.is_open
    finally:
        await client.close_and_wait()


async def test_error_raised_by_code_is_not_retried(
    node: FakeNode, make_client: MakeClient
) -> None:
    def user_error(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.QUERY:
            conn.answer_error(pkg, -51, "raised by the code")
        else:
            conn.answer_default(pkg)

    node.handler = user_error
    client = make_client()
    await client.connect("127.0.0.1", node.port)
    await client.authenticate("admin", "pass")
    try:
        with pytest.raises(NodeError, match="raised by the code"):
            await client.query("raise(node_err('raised by the code'));")
        assert len(node.requests(PackageType.QUERY)) == 1
    finally:
        await client.close_and_wait()


async def test_keepalive_spares_a_node_busy_with_a_long_query(
    node: FakeNode, make_client: MakeClient
) -> None:
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
    client = make_client(ping_interval=0.1, ping_timeout=0.3, reconnect_delay=0.01)
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
    make_client: MakeClient,
) -> None:
    bounds = record_pauses(monkeypatch)  # the shortest pause the jitter allows
    pool = [("127.0.0.1", closed_port()), ("127.0.0.1", closed_port())]
    client = make_client(reconnect_delay=0.01, reconnect_max_delay=0.04)
    with pytest.raises(ClientTimeoutError):
        await client.connect_pool(pool, "admin", "pass", timeout=0.5)
    await client.close_and_wait()
    # one pause per round of the pool: between half the delay and the
    # delay, which doubles each round up to reconnect_max_delay
    assert bounds[:4] == [(0.005, 0.01), (0.01, 0.02), (0.02, 0.04), (0.02, 0.04)]
    assert all(high <= 0.04 for _, high in bounds)


async def test_the_first_node_of_a_pool_is_picked_at_random(
    make_client: MakeClient,
) -> None:
    async with FakeNode() as a, FakeNode() as b:
        pool = [("127.0.0.1", a.port), ("127.0.0.1", b.port)]
        for _ in range(40):
            client = make_client()
            await client.connect_pool(pool, "admin", "pass", timeout=5)
            await client.close_and_wait()
            if a.connections and b.connections:
                break
        # with a fair pick, 40 tries all on one node happen once in 2**39
        assert a.connections
        assert b.connections


# -- certificates: no retry can fix one ----------------------------------------


def tls_server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


def certificate_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "did not verify" in r.getMessage()]


async def test_connect_pool_ends_at_a_certificate_that_does_not_verify(
    node: FakeNode, caplog: pytest.LogCaptureFixture, make_client: MakeClient
) -> None:
    caplog.set_level(logging.DEBUG, logger="thingsdb.client")
    untrusted = tls_server_context(trustme.CA())  # no client trusts this CA
    async with (
        Proxy(("127.0.0.1", node.port), ssl_context=untrusted) as a,
        Proxy(("127.0.0.1", node.port), ssl_context=untrusted) as b,
        Proxy(("127.0.0.1", node.port), ssl_context=untrusted) as c,
    ):
        client = make_client(ssl=True, reconnect_delay=0.01)
        pool = [a.address, b.address, c.address]
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            # no timeout: before, it would try for ever
            await asyncio.wait_for(client.connect_pool(pool, "admin", "pass"), 30)
        message = str(info.value)
        assert any(f"127.0.0.1:{p.port}" in message for p in (a, b, c)), message
        assert "did not verify (unable to get local issuer certificate)" in message
        assert "ssl.create_default_context(cafile=" in message
        assert info.value.verify_code == 20  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
        assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
        # one attempt, not one round of the pool and not a retry
        [record] = certificate_records(caplog)
        assert record.levelno == logging.ERROR
        assert not [r for r in caplog.records if "cannot connect" in r.getMessage()]
        assert not client.is_connected()
        assert node.connections == []  # no handshake finished
        await client.close_and_wait()


async def test_a_certificate_that_fails_after_a_loss_is_told_once(
    node: FakeNode, caplog: pytest.LogCaptureFixture, make_client: MakeClient
) -> None:
    caplog.set_level(logging.DEBUG, logger="thingsdb.client")
    ca = trustme.CA()
    server = tls_server_context(ca)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    async with Proxy(("127.0.0.1", node.port), ssl_context=server) as proxy:
        client = make_client(
            ssl=trusting, reconnect_delay=0.01, reconnect_max_delay=0.02
        )
        await client.connect_pool([proxy.address], "admin", "pass", timeout=10)
        try:
            # the node now shows a certificate of a CA the client does not
            # trust (new connections only), and the connection is lost
            trustme.CA().issue_cert("127.0.0.1").configure_cert(server)
            proxy.drop()
            deadline = asyncio.get_running_loop().time() + 20
            while len(certificate_records(caplog)) < 5:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.01)
            told = certificate_records(caplog)
            assert [r.levelno for r in told[:5]] == [logging.ERROR] + [
                logging.DEBUG
            ] * 4
            assert "still trying" in told[0].getMessage()
            # the reconnect goes on: with the certificate fixed, it connects
            ca.issue_cert("127.0.0.1").configure_cert(server)
            assert await client.query("back", timeout=20) == "back"
            errors = [r for r in certificate_records(caplog) if r.levelno >= 40]
            assert len(errors) == 1
        finally:
            await client.close_and_wait()


def hold_slow(conn: NodeConnection, pkg: Package) -> None:
    """Answers as a healthy node, but withholds the answer to "slow"."""
    if pkg.type == PackageType.QUERY and query_code(pkg) == "slow":
        conn.hold(pkg)
    else:
        conn.answer_default(pkg)


@pytest.mark.parametrize("answers", ["soon", "never", "cut"])
async def test_a_move_waits_for_the_answers_the_old_node_owes(
    make_client: MakeClient, answers: str
) -> None:
    """A node in SHUTTING_DOWN gets no more changes from the others: a
    write on the next node would strand the writes still queued on the old
    one (see MOVE_SETTLE_LIMIT). So what is sent after the status waits for
    those answers, no longer than the limit, and no longer than the old
    connection lives (an idempotent request it owed goes to the next node)."""
    async with FakeNode(hold_slow) as a, FakeNode(hold_slow) as b:
        client = make_client(reconnect_delay=0.01)
        await client.connect_pool(
            [("127.0.0.1", a.port), ("127.0.0.1", b.port)], "admin", "pass"
        )
        try:
            old_node, next_node = (a, b) if a.connections else (b, a)
            old = old_node.last_connection
            slow = asyncio.ensure_future(client.idempotent.query("slow", timeout=20))
            await old_node.wait_for(lambda: bool(old.held), what="the slow query")
            started = time.monotonic()
            old.send_node_status("SHUTTING_DOWN")
            await next_node.wait_for(
                lambda: bool(next_node.requests(PackageType.AUTH)), what="a login"
            )
            after = asyncio.ensure_future(client.query("after", timeout=20))
            await asyncio.sleep(0.3)
            # logged in on the next node, and nothing sent there yet
            assert next_node.requests(PackageType.QUERY) == []
            assert not after.done()
            sent_next = ["after"]
            if answers == "soon":
                old.release_held()
                assert await slow == "slow"
                assert await after == "after"
                assert time.monotonic() - started < MOVE_SETTLE_LIMIT
            elif answers == "never":
                assert await after == "after"
                assert time.monotonic() - started >= MOVE_SETTLE_LIMIT - 0.05
                assert not slow.done()  # still owed: it waits on
                old.release_held()
                assert await slow == "slow"
            else:
                old.abort()  # the old node is gone: "slow" goes to the next
                await next_node.wait_for(lambda: bool(next_node.held()), what="slow")
                next_node.release_held()
                assert await slow == "slow"
                assert await after == "after"
                assert time.monotonic() - started < MOVE_SETTLE_LIMIT
                sent_next = ["after", "slow"]
            sent = [query_code(r.pkg) for r in next_node.requests(PackageType.QUERY)]
            assert sorted(sent) == sent_next
            assert client.connection_info() == f"127.0.0.1:{next_node.port}"
        finally:
            await client.close_and_wait()
