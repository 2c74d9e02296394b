"""Fault injection against a fake node (tests/fakenode.py): answers out of
order, late, never, corrupt, or not at all because the connection is cut."""

from __future__ import annotations

import asyncio
import builtins
import gc
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import thingsdb.client.client
import thingsdb.transport
import thingsdb.transport.connect
import thingsdb.transport.stream
from fakenode import (
    HOST,
    FakeNode,
    NodeConnection,
    default_handler,
    hold_everything,
    hold_requests,
    package_bytes,
    query_code,
    raw_package,
)
from thingsdb.client import Client, set_package_fail_file
from thingsdb.engine.failover import MOVE_SETTLE_LIMIT
from thingsdb.exceptions import (
    AuthError,
    ConnectionLostError,
    NotConnectedError,
    ProtocolError,
)
from thingsdb.exceptions import TimeoutError as ClientTimeoutError
from thingsdb.protocol import EVENT_PID, Package, PackageType, encode

ClientFactory = Callable[..., Awaitable[Client]]

# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """Fail the test on anything the loop reports (a never-retrieved
    exception, a callback that raised...)."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()

    def handler(_: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        errors.append(context)

    loop.set_exception_handler(handler)
    yield errors
    gc.collect()
    await asyncio.sleep(0)
    loop.set_exception_handler(previous)
    assert errors == []


@pytest.fixture
async def node() -> AsyncIterator[FakeNode]:
    fake = FakeNode()
    await fake.start()
    yield fake
    await fake.stop()
    assert fake.errors == [], "a fake node handler raised"


@pytest.fixture
async def connect(node: FakeNode) -> AsyncIterator[ClientFactory]:
    """``await connect(**client_kwargs)``: a client connected to the fake node
    and authenticated (``authenticate=False`` skips that); every client is
    closed at teardown."""
    clients: list[Client] = []

    async def factory(*, authenticate: bool = True, **kwargs: Any) -> Client:
        client = Client(**kwargs)
        clients.append(client)
        await client.connect(HOST, node.port)
        if authenticate:
            await client.authenticate("admin", "pass")
        return client

    yield factory
    for client in clients:
        # bounded: a client that cannot close fails the test instead of hanging
        await asyncio.wait_for(client.close_and_wait(), 5)


@pytest.fixture
def fail_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "failed-package.mp"
    set_package_fail_file(str(path))
    try:
        yield path
    finally:
        set_package_fail_file("")


# -- helpers ---------------------------------------------------------------------------


async def eventually(
    predicate: Callable[[], bool], timeout: float = 2.0, what: str = "a condition"
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def query_pkgs(conn: NodeConnection) -> list[Package]:
    return conn.requests(PackageType.QUERY)


def start_queries(
    client: Client, codes: list[str], **kwargs: Any
) -> list[asyncio.Task[Any]]:
    return [asyncio.create_task(client.query(code, **kwargs)) for code in codes]


# -- 1. out of order -------------------------------------------------------------------


@pytest.mark.parametrize("order", ["reverse", "random", "delayed"])
async def test_out_of_order_answers_reach_their_own_callers(
    node: FakeNode, connect: ClientFactory, order: str
) -> None:
    rng = random.Random(1234)
    if order == "delayed":
        # every answer after its own random delay: the answer order is random
        def handler(conn: NodeConnection, pkg: Package) -> None:
            if pkg.type == PackageType.AUTH:
                conn.answer_default(pkg)
            else:
                conn.later(rng.uniform(0.0, 0.05), lambda: conn.answer_default(pkg))

        node.handler = handler
    else:
        node.handler = hold_requests
    client = await connect()
    codes = [f"q{i}" for i in range(50)]
    tasks = start_queries(client, codes, timeout=5)
    received = await node.wait_for_requests(50)
    assert len({r.pkg.pid for r in received}) == 50
    conn = node.last_connection
    if order == "reverse":
        await asyncio.sleep(0.01)
        assert not any(t.done() for t in tasks)
        conn.release_held("reverse")  # one write
    elif order == "random":
        held = conn.take_held("random", rng)
        assert [query_code(p) for p in held] != codes
        for pkg in held:  # one write per answer
            conn.answer_default(pkg)
    results = await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert results == codes


# -- 2. timeout ------------------------------------------------------------------------


async def test_timeout_keeps_pid_reserved_and_drops_late_answer(
    node: FakeNode, connect: ClientFactory
) -> None:
    node.handler = hold_requests
    client = await connect()
    conn = node.last_connection
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(ClientTimeoutError) as info:
        await client.query("stalled", timeout=0.2)
    elapsed = loop.time() - start
    assert 0.15 <= elapsed < 1.0
    assert isinstance(info.value, asyncio.TimeoutError)
    assert isinstance(info.value, builtins.TimeoutError)
    [stalled] = conn.take_held()

    fresh = asyncio.create_task(client.query("fresh", timeout=5))
    await node.wait_for_requests(2)
    [fresh_pkg] = conn.held
    assert fresh_pkg.pid != stalled.pid, "a reserved pid was reused"

    # the late answer to the timed-out request must not reach "fresh"
    conn.answer(stalled, "late answer")
    await asyncio.sleep(0.05)
    assert not fresh.done()
    conn.release_held()
    assert await asyncio.wait_for(fresh, 2) == "fresh"
    assert node.duplicate_pids == []
    node.handler = default_handler
    assert await client.query("after", timeout=2) == "after"


async def test_timed_out_pid_is_skipped_after_wraparound(
    node: FakeNode, connect: ClientFactory
) -> None:
    """All other pids get used and freed again; the allocator wraps around to
    the timed-out pid, which is still reserved and must be skipped."""

    def handler(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.QUERY and query_code(pkg) == "stalled":
            conn.hold(pkg)
        else:
            conn.answer_default(pkg)

    node.handler = handler
    client = await connect()
    conn = node.last_connection
    with pytest.raises(ClientTimeoutError):
        await client.query("stalled", timeout=0.05)
    [stalled] = conn.held
    batch = 8192
    sent = 0
    while sent < 0xFFFF:
        codes = [f"{i}" for i in range(sent, min(sent + batch, 0xFFFF))]
        results = await asyncio.wait_for(
            asyncio.gather(*start_queries(client, codes)), 10
        )
        assert results == codes
        sent += len(codes)
    pids = [p.pid for p in query_pkgs(conn)]
    assert pids.count(stalled.pid) == 1, "the timed-out pid was used again"
    assert node.duplicate_pids == []
    # a late answer for the stalled pid now is still dropped
    task = asyncio.create_task(client.query("last", timeout=5))
    await node.wait_for_requests(0xFFFF + 2)
    conn.answer(stalled, "late answer")
    assert await asyncio.wait_for(task, 2) == "last"


# -- 3. cancellation -------------------------------------------------------------------


async def test_cancelled_query_propagates_and_late_answer_is_dropped(
    node: FakeNode, connect: ClientFactory
) -> None:
    node.handler = hold_requests
    client = await connect()
    conn = node.last_connection
    doomed = asyncio.create_task(client.query("doomed"))
    await node.wait_for_requests(1)
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(doomed, 2)
    assert doomed.cancelled()
    [doomed_pkg] = conn.take_held()

    follow = start_queries(client, ["a", "b", "c"], timeout=5)
    await node.wait_for_requests(4)
    assert doomed_pkg.pid not in {p.pid for p in conn.held}
    with conn.corked():  # the late answer first, then the others, one read
        conn.answer(doomed_pkg, "late answer")
        conn.release_held("reverse")
    assert await asyncio.wait_for(asyncio.gather(*follow), 2) == ["a", "b", "c"]
    node.handler = default_handler
    assert await client.query("d", timeout=2) == "d"


# -- 4. connection cut -----------------------------------------------------------------

_ANSWER = package_bytes(7, PackageType.DATA, "an answer that never completes")


@pytest.mark.parametrize(
    "partial",
    [b"", _ANSWER[:5], _ANSWER[:-3]],
    ids=["between-packages", "mid-header", "mid-payload"],
)
async def test_connection_cut_fails_in_flight_query(
    node: FakeNode, connect: ClientFactory, partial: bytes
) -> None:
    node.handler = hold_requests
    client = await connect(auto_reconnect=False)
    task = asyncio.create_task(client.query("in flight"))
    await node.wait_for_requests(1)
    node.last_connection.cut(partial)
    with pytest.raises(ConnectionLostError) as info:
        await asyncio.wait_for(task, 2)
    assert isinstance(info.value, ConnectionError)
    assert "may or may not have run" in str(info.value)
    await eventually(lambda: not client.is_connected(), what="the client to notice")
    with pytest.raises(NotConnectedError):
        await client.query("after the cut", timeout=1)
    await asyncio.sleep(0.05)
    assert len(node.connections) == 1, "auto_reconnect=False reconnected"


async def test_connection_cut_then_auto_reconnect(
    node: FakeNode, connect: ClientFactory
) -> None:
    node.handler = hold_requests
    client = await connect(auto_reconnect=True)
    task = asyncio.create_task(client.query("in flight"))
    await node.wait_for_requests(1)
    node.last_connection.cut()
    with pytest.raises(ConnectionLostError, match="may or may not have run"):
        await asyncio.wait_for(task, 2)
    node.handler = default_handler
    assert await client.query("after the cut", timeout=3) == "after the cut"
    assert len(node.connections) == 2
    second = node.connections[1]
    assert [p.data for p in second.requests(PackageType.AUTH)] == [["admin", "pass"]]
    assert [query_code(p) for p in query_pkgs(second)] == ["after the cut"]
    assert client.is_connected()


# -- 5. corrupt packages ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["check-byte", "size-above-cap", "undecodable"])
async def test_corrupt_package_fails_all_pending(
    node: FakeNode, connect: ClientFactory, fail_file: Path, kind: str
) -> None:
    node.handler = hold_requests
    client = await connect(auto_reconnect=False, max_package_size=1024)
    tasks = start_queries(client, ["good", "victim", "bystander"])
    await node.wait_for_requests(3)
    conn = node.last_connection
    good_pkg, victim_pkg, _ = conn.take_held()
    good = package_bytes(good_pkg.pid, PackageType.DATA, "good answer")
    tp = PackageType.DATA
    if kind == "check-byte":
        bad = raw_package(victim_pkg.pid, tp, encode("x"), check=tp)
    elif kind == "size-above-cap":
        bad = raw_package(victim_pkg.pid, tp, b"", size=4096)  # no payload follows
    else:
        bad = raw_package(victim_pkg.pid, tp, b"\xc1\x00\x01")  # 0xc1: never used
    conn.send_raw(good + bad)  # one write: the good answer comes first

    done, _ = await asyncio.wait(tasks, timeout=2)
    assert len(done) == 3, "a pending query hangs after a protocol error"
    assert tasks[0].result() == "good answer"
    for task in tasks[1:]:
        exc = task.exception()
        assert isinstance(exc, ProtocolError), repr(exc)
        assert isinstance(exc, ConnectionError)
    await asyncio.wait_for(conn.closed, 2)
    assert not client.is_connected()
    if kind == "undecodable":
        dumped = await asyncio.to_thread(fail_file.read_bytes)
        assert dumped == b"\xc1\x00\x01"
    else:
        assert not await asyncio.to_thread(fail_file.exists)


async def test_corrupt_header_split_across_reads(
    node: FakeNode, connect: ClientFactory
) -> None:
    """A good answer split over two reads, a bad header right behind it: the
    answer is delivered, the other pending query fails with ProtocolError."""
    node.handler = hold_requests
    client = await connect(auto_reconnect=False)
    tasks = start_queries(client, ["a", "b", "c"])
    await node.wait_for_requests(3)
    conn = node.last_connection
    first, second, _ = conn.take_held()
    conn.answer(first, "a")
    assert await asyncio.wait_for(tasks[0], 2) == "a"
    answer = package_bytes(second.pid, PackageType.DATA, "b")
    conn.send_raw(answer[:6])  # half a header
    await asyncio.sleep(0.02)
    assert not tasks[1].done()
    conn.send_raw(answer[6:] + b"\xff" * 8)  # check byte 0xff != 0xff ^ 0xff
    assert await asyncio.wait_for(tasks[1], 2) == "b"
    with pytest.raises(ProtocolError):
        await asyncio.wait_for(tasks[2], 2)
    await asyncio.wait_for(conn.closed, 2)
    assert not client.is_connected()


# -- 6. more requests than pids --------------------------------------------------------


async def test_more_requests_in_flight_than_pids(
    node: FakeNode, connect: ClientFactory
) -> None:
    all_pids = 0xFFFF  # 0 .. 0xFFFE
    total = 70_000
    released_at: list[int] = []

    def handler(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.AUTH or released_at:
            conn.answer_default(pkg)
            return
        conn.hold(pkg)
        if len(conn.held) >= all_pids:
            released_at.append(len(query_pkgs(conn)))
            conn.release_held()

    node.handler = handler
    client = await connect()
    codes = [str(i) for i in range(total)]
    # a guard against a hang, not a speed test: generous for a loaded machine
    results = await asyncio.wait_for(asyncio.gather(*start_queries(client, codes)), 90)
    assert results == codes
    assert released_at == [all_pids]
    assert node.duplicate_pids == [], "a pid was used twice at the same time"
    pkgs = query_pkgs(node.last_connection)
    assert len(pkgs) == total
    assert len({p.pid for p in pkgs[:all_pids]}) == all_pids
    assert all(p.pid != EVENT_PID for p in pkgs)


# -- 7. answer for an unknown pid ------------------------------------------------------


async def test_answer_for_unknown_pid_is_dropped_with_warning(
    node: FakeNode, connect: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="thingsdb.connection")
    node.handler = hold_requests
    client = await connect()
    task = asyncio.create_task(client.query("mine", timeout=5))
    await node.wait_for_requests(1)
    conn = node.last_connection
    [mine] = conn.held
    stray = (mine.pid + 1000) % 0xFFFF
    with conn.corked():  # strays first, in the same read as the real answer
        conn.respond(stray, PackageType.DATA, "stray")
        conn.respond(EVENT_PID, PackageType.OK)
        conn.release_held()
    assert await asyncio.wait_for(task, 2) == "mine"
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "thingsdb.connection" and r.levelno == logging.WARNING
    ]
    assert any(f"pid {stray}," in m for m in warnings), warnings
    assert any(f"pid {EVENT_PID}," in m for m in warnings), warnings
    assert client.is_connected()
    node.handler = default_handler
    assert await client.query("next", timeout=2) == "next"


# -- 8. events -------------------------------------------------------------------------


async def test_warn_event_is_logged(
    node: FakeNode, connect: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="thingsdb.client")
    client = await connect()
    node.last_connection.send_warn(2, "hello from log()")

    def logged() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "hello from log()" in r.getMessage()]

    await eventually(lambda: bool(logged()), what="the WARN event to be logged")
    [record] = logged()
    assert record.name == "thingsdb.client"
    assert record.levelno == logging.WARNING
    assert await client.query("still fine", timeout=2) == "still fine"


@pytest.mark.parametrize("status", ["SHUTTING_DOWN"])
async def test_shutting_down_moves_to_a_new_connection(
    node: FakeNode, connect: ClientFactory, status: str
) -> None:
    def handler(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.QUERY and query_code(pkg).startswith("old"):
            conn.hold(pkg)
        else:
            conn.answer_default(pkg)

    node.handler = handler
    client = await connect(auto_reconnect=True)
    old = node.last_connection
    in_flight = start_queries(client, ["old0", "old1", "old2"], timeout=5)
    await node.wait_for_requests(3)
    old.send_node_status(status)
    await node.wait_for_connections(2)
    new = node.connections[1]
    await node.wait_for(lambda: new.authenticated, what="AUTH on the new connection")
    assert [p.data for p in new.requests(PackageType.AUTH)] == [["admin", "pass"]]

    # new queries move to the new connection once it is authenticated and
    # the old one has answered what it owes, or MOVE_SETTLE_LIMIT passed
    # (they may go to the old one, or wait, until then)
    async def probe_until_switched() -> None:
        for i in range(200):
            await client.query(f"probe{i}", timeout=MOVE_SETTLE_LIMIT + 2)
            if query_pkgs(new):
                return
            await asyncio.sleep(0.005)
        raise AssertionError("new queries still go to the old connection")

    await probe_until_switched()
    assert not any(t.done() for t in in_flight)
    assert old.is_open
    old.release_held()
    assert await asyncio.wait_for(asyncio.gather(*in_flight), 2) == [
        "old0",
        "old1",
        "old2",
    ]
    # retired: the client closes it once its answers are in
    await asyncio.wait_for(old.closed, 2)
    assert client.is_connected()
    assert await client.query("new", timeout=2) == "new"
    assert query_code(query_pkgs(new)[-1]) == "new"


# -- 9. bad input never reaches the wire -----------------------------------------------


def _bad_calls() -> list[
    tuple[str, Callable[[Client], Awaitable[Any]], type[Exception]]
]:
    code: Any = 123
    code_bytes: Any = b"1 + 1"
    return [
        ("unserialisable", lambda c: c.query("x", v=object()), TypeError),
        (
            "nested-unserialisable",
            lambda c: c.query("x", v=[1, {"a": object()}]),
            TypeError,
        ),
        ("name-digit", lambda c: c.query("x", **{"1abc": 1}), ValueError),
        ("name-dash", lambda c: c.query("x", **{"a-b": 1}), ValueError),
        ("name-too-long", lambda c: c.query("x", **{"a" * 256: 1}), ValueError),
        ("code-int", lambda c: c.query(code), TypeError),
        ("code-bytes", lambda c: c.query(code_bytes), TypeError),
        ("run-args-and-kwargs", lambda c: c.run("proc", 1, a=2), TypeError),
        ("run-bad-arg-name", lambda c: c.run("proc", **{"no way": 1}), ValueError),
        ("run-unserialisable", lambda c: c.run("proc", object()), TypeError),
    ]


_BAD_CALLS = _bad_calls()


@pytest.mark.parametrize(
    ("call", "exc_type"),
    [(call, exc) for _, call, exc in _BAD_CALLS],
    ids=[name for name, _, _ in _BAD_CALLS],
)
async def test_bad_input_never_reaches_the_wire(
    node: FakeNode,
    connect: ClientFactory,
    call: Callable[[Client], Awaitable[Any]],
    exc_type: type[Exception],
) -> None:
    client = await connect()
    with pytest.raises(exc_type):
        await asyncio.wait_for(call(client), 2)
    # packages go out in order: once this one arrived, the bad one would have
    assert await client.query("sentinel", timeout=2) == "sentinel"
    sent = [
        r.pkg
        for r in node.received
        if r.pkg.type in (PackageType.QUERY, PackageType.RUN)
    ]
    assert [p.data for p in sent] == [["@t", "sentinel"]]
    assert client.is_connected()


# -- 10. close_and_wait while a query is in flight -------------------------------------


async def test_close_and_wait_with_query_in_flight(
    node: FakeNode, connect: ClientFactory
) -> None:
    node.handler = hold_requests
    client = await connect(auto_reconnect=True)
    task = asyncio.create_task(client.query("pending"))
    await node.wait_for_requests(1)
    await asyncio.wait_for(client.close_and_wait(), 2)
    me = asyncio.current_task()
    assert asyncio.all_tasks() <= {me, task}
    with pytest.raises(ConnectionLostError, match="may or may not have run"):
        await asyncio.wait_for(task, 2)
    assert asyncio.all_tasks() == {me}
    assert not client.is_connected()
    await asyncio.wait_for(node.last_connection.closed, 2)
    with pytest.raises(NotConnectedError):
        await client.query("after close", timeout=1)
    await asyncio.sleep(0.05)
    assert len(node.connections) == 1, "the client reconnected after close"


async def test_close_and_wait_while_reconnecting(
    node: FakeNode, connect: ClientFactory
) -> None:
    client = await connect(auto_reconnect=True)
    node.handler = hold_everything  # the next connection never gets its AUTH answer
    node.last_connection.cut()
    await node.wait_for_connections(2)
    await node.wait_for_requests(2, PackageType.AUTH)
    waiting = asyncio.create_task(client.query("waits for a connection", timeout=5))
    await asyncio.sleep(0.02)
    await asyncio.wait_for(client.close_and_wait(), 2)
    with pytest.raises(NotConnectedError):
        await asyncio.wait_for(waiting, 2)
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert not client.is_connected()
    await asyncio.wait_for(node.connections[1].closed, 2)
    assert query_pkgs(node.connections[1]) == []


# -- 11. authenticate timeout ----------------------------------------------------------


async def test_authenticate_times_out(node: FakeNode, connect: ClientFactory) -> None:
    node.handler = hold_everything
    client = await connect(authenticate=False, auto_reconnect=False)
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(ClientTimeoutError):
        await client.authenticate("admin", "pass", timeout=0.2)
    elapsed = loop.time() - start
    assert 0.15 <= elapsed < 1.0
    [auth] = node.requests(PackageType.AUTH)
    assert auth.pkg.data == ["admin", "pass"]


# -- extra: a woken waiter for a free pid that gets cancelled --------------------------


class _CancelOnLog(logging.Handler):
    """Cancels a task when a log message containing ``marker`` is emitted:
    a way to run code between the client's dispatch of an answer and the
    moment the task woken by it resumes (both happen in one data_received)."""

    def __init__(self, marker: str) -> None:
        super().__init__(logging.WARNING)
        self.marker = marker
        self.task: asyncio.Task[Any] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.marker in record.getMessage() and self.task is not None:
            self.task.cancel()


async def test_free_pid_not_lost_when_woken_waiter_is_cancelled(
    node: FakeNode, connect: ClientFactory
) -> None:
    """All pids in flight; two requests wait for a free one. One answer frees
    a pid and wakes the first waiter, whose task is cancelled before it runs.
    The free pid must go to the second waiter (a lost wake-up otherwise: it
    waits although a pid is free, until some other answer happens to come)."""

    def handler(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.QUERY and query_code(pkg).startswith("f"):
            conn.hold(pkg)
        else:
            conn.answer_default(pkg)

    node.handler = handler
    client = await connect()
    conn = node.last_connection
    fillers = start_queries(client, [f"f{i}" for i in range(0xFFFF)])
    await node.wait_for_requests(0xFFFF, timeout=10)
    first = asyncio.create_task(client.query("w1"))
    second = asyncio.create_task(client.query("w2", timeout=1))
    await asyncio.sleep(0.02)
    assert not first.done()
    assert not second.done()

    canceller = _CancelOnLog("cancel the first waiter now")
    canceller.task = first
    logger = logging.getLogger("thingsdb.client")
    logger.addHandler(canceller)
    try:
        freed = conn.held.pop(0)
        with conn.corked():  # one read: the answer, then the WARN event
            conn.answer_default(freed)
            conn.send_warn(2, "cancel the first waiter now")
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(first, 2)
        try:
            result = await second
        except ClientTimeoutError as exc:
            result = exc
    finally:
        logger.removeHandler(canceller)
        conn.release_held()
        await asyncio.wait_for(asyncio.gather(*fillers), 10)
    assert result == "w2", f"lost wake-up: a pid was free, yet {result!r}"


# -- extra: close() at the instant a reconnect's connection completes ------------------


async def test_close_while_reconnect_connects_leaves_nothing_open(
    node: FakeNode, connect: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """close() runs right when the reconnect's TCP connection is made (here:
    from inside the opener, the last moment before the reconnect task
    resumes). The reconnect must stop: no connection may be adopted after
    close(), and wait_closed() must return."""
    client = await connect(auto_reconnect=True)
    real_open_stream = thingsdb.transport.stream.open_stream

    async def open_then_close(*args: Any, **kwargs: Any) -> Any:
        driver = await real_open_stream(*args, **kwargs)
        client.close()  # e.g. the application shutting down at this moment
        return driver

    monkeypatch.setattr(thingsdb.transport.connect, "open_stream", open_then_close)
    reconnecting = client.reconnect()
    assert reconnecting is not None
    await asyncio.wait([reconnecting], timeout=2)
    try:
        await asyncio.wait_for(client.wait_closed(), 2)
    except asyncio.TimeoutError:
        pytest.fail(
            "wait_closed() hangs: the reconnect adopted a new connection after "
            f"close() (is_connected()={client.is_connected()})"
        )
    assert not client.is_connected()
    await node.wait_for(
        lambda: all(c.closed.done() for c in node.connections),
        what="every connection to be closed",
    )


# -- deadlines and secrets ----------------------------------------------------------


async def test_deadlines_are_timer_handles_not_tasks(
    node: FakeNode, connect: ClientFactory
) -> None:
    node.handler = hold_requests
    client = await connect(ping_interval=None)
    loop = asyncio.get_running_loop()
    # asyncio keeps its timer handles in loop._scheduled (private, but the
    # only place to count them)
    timers_before = len(loop._scheduled)  # type: ignore[attr-defined]
    tasks_before = len(asyncio.all_tasks())
    requests = [
        asyncio.ensure_future(client.query("x", timeout=60)) for _ in range(1000)
    ]
    await node.wait_for_requests(1000)
    # query() returns the request's future: ensure_future adds no task, and
    # neither does the client
    assert len(asyncio.all_tasks()) == tasks_before
    assert len(loop._scheduled) - timers_before == 1000  # type: ignore[attr-defined]
    node.release_held()
    await asyncio.gather(*requests)
    await asyncio.sleep(0)
    # every timer of an answered request is gone (cancelled handles leave
    # the heap when the loop next runs them or cleans up)
    live = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
    assert len(live) <= timers_before


async def test_secrets_never_reach_logs_reprs_or_errors(
    node: FakeNode, connect: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    password = "pw-Zq8uX3vR"
    token = "tok-Hn2Lw9sKd0fGbY7cVpQe1A"[:22]

    def refuse_some(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.AUTH and pkg.data == token:
            conn.answer_error(pkg, -56, "invalid token")
        else:
            default_handler(conn, pkg)

    node.handler = refuse_some
    caplog.set_level(logging.DEBUG, logger="thingsdb")
    client = await connect(authenticate=False, reconnect_delay=0.01)
    texts = []
    with pytest.raises(AuthError) as info:
        await client.authenticate(token)
    texts.append(str(info.value))
    await client.authenticate("admin", password)
    node.last_connection.cut()  # the reconnect authenticates again
    await node.wait_for_connections(2)
    await eventually(client.is_connected, what="the reconnect")
    texts += [
        repr(client),
        str(client._pool.credentials),
        repr(client._pool.credentials),
    ]
    texts += [record.getMessage() for record in caplog.records]
    assert len(node.requests(PackageType.AUTH)) == 3
    for text in texts:
        assert password not in text
        assert token not in text
