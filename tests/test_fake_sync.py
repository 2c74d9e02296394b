"""The blocking client against the fake node: what a real node cannot be made
to do on cue. Answers out of order to many threads, late answers, Ctrl-C
while waiting (and a storm of them), corrupt packages and cuts, every id in
flight, a silent node, nodes that are not ready, a node shutting down with
rooms joined, idempotent resends, credentials that stop working, events
that overtake answers.

The fake node is asyncio code: it runs on a loop in a thread of its own,
while the blocking client runs on the test's threads, as it would in an
application.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

import pytest

from fakenode import (
    FakeNode,
    Handler,
    NodeConnection,
    default_handler,
    hold_requests,
    join_then_event,
    not_ready_for,
    package_bytes,
    query_code,
    raw_package,
    record_pauses,
)
from interrupts import Storm
from loopthread import LoopThread
from thingsdb.exceptions import (
    AuthError,
    ConnectionLostError,
    NodeError,
    NotConnectedError,
    ProtocolError,
)
from thingsdb.exceptions import TimeoutError as ClientTimeoutError
from thingsdb.protocol import MAX_REQUEST_PID, Package, PackageType, canonical_scope
from thingsdb.sync import Client, Room, event
from thingsdb.sync._connection import Slot

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")

HOST = "127.0.0.1"
SYNCHRONIZING = (
    "cannot find a node for handling this request; "
    "please wait until node:0 has finished synchronizing"
)
STARTING = "node `0` is not ready to handle client requests"
MAIN_ONLY = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signals go to the main thread",
)


class Fake:
    """A FakeNode on a loop thread, with blocking ways to drive it."""

    def __init__(self, loop: LoopThread, handler: Handler = default_handler) -> None:
        self.loop = loop
        self.node = FakeNode(handler)
        loop.run(self.node.start())

    @property
    def port(self) -> int:
        return self.node.port

    @property
    def address(self) -> tuple[str, int]:
        return HOST, self.node.port

    def do(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the node's loop and return what it returns."""

        async def call() -> T:
            return fn()

        return self.loop.run(call())

    def wait(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run(coro)

    def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        self.wait(self.node.wait_for(predicate, 10, what))

    def requests(self, tp: int = PackageType.QUERY) -> list[Package]:
        return self.do(lambda: [r.pkg for r in self.node.requests(tp)])

    def connections(self) -> list[NodeConnection]:
        return self.do(lambda: list(self.node.connections))

    def stop(self) -> None:
        self.loop.run(self.node.stop())


@pytest.fixture
def fake(loop: LoopThread) -> Iterator[Fake]:
    node = Fake(loop)
    try:
        yield node
    finally:
        node.stop()


def connect(fake: Fake, **settings: Any) -> Client:
    settings.setdefault("reconnect_delay", 0.01)
    settings.setdefault("reconnect_max_delay", 0.05)
    client = Client(**settings)
    client.connect(*fake.address, timeout=5)
    client.authenticate("admin", "pass", timeout=5)
    return client


def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def in_threads(fns: Sequence[Callable[..., Any]]) -> list[Any]:
    """Run each function in a thread of its own; their results (or the
    exceptions they raised), in order."""
    results: list[Any] = [None] * len(fns)

    def run(i: int) -> None:
        try:
            results[i] = fns[i]()
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive(), "a call never returned"
    return results


def msg(scope: str, room_id: int, text: str) -> dict[str, Any]:
    return {
        "scope": canonical_scope(scope),
        "id": room_id,
        "event": "msg",
        "args": [text],
    }


class Listener(Room):
    def __init__(self, room: int, scope: str) -> None:
        super().__init__(room, scope)
        self.log: list[str] = []

    def on_join(self) -> None:
        self.log.append("join")

    @event("msg")
    def on_msg(self, text: str) -> None:
        self.log.append(text)


# -- answers and ids ----------------------------------------------------------------


def test_answers_out_of_order_reach_their_own_threads(fake: Fake) -> None:
    fake.node.handler = hold_requests
    client = connect(fake)
    try:
        calls = [(lambda i=i: client.query(f"q{i}", timeout=20)) for i in range(16)]
        done: list[Any] = []
        runner = threading.Thread(target=lambda: done.extend(in_threads(calls)))
        runner.start()
        fake.wait(fake.node.wait_for_requests(16))
        fake.do(lambda: fake.node.release_held("random", random.Random(7)))
        runner.join(30)
        assert done == [f"q{i}" for i in range(16)]
        assert fake.node.duplicate_pids == []
    finally:
        client.close()


def test_a_late_answer_is_dropped_and_its_id_stays_reserved(fake: Fake) -> None:
    def hold_late(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.QUERY and query_code(pkg) == "late":
            conn.hold(pkg)
        else:
            conn.answer_default(pkg)

    fake.node.handler = hold_late
    client = connect(fake)
    try:
        with pytest.raises(ClientTimeoutError, match=r"within 0\.2 seconds"):
            client.query("late", timeout=0.2)
        # ids go round: the late one is skipped while its answer is owed
        for i in range(MAX_REQUEST_PID + 5):
            if i % 5000 == 0:
                assert client.query(f"n{i}") == f"n{i}"
            else:
                client.query("x")
        fake.do(lambda: fake.node.release_held())  # the late answer: dropped
        assert client.query("after", timeout=5) == "after"
        assert fake.node.duplicate_pids == []
        assert len(fake.connections()) == 1
    finally:
        client.close()


@MAIN_ONLY
def test_ctrl_c_while_waiting_keeps_the_connection(fake: Fake) -> None:
    fake.node.handler = hold_requests
    client = connect(fake, ping_interval=None)
    main = threading.main_thread().ident
    assert main is not None
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.2, signal.pthread_kill, (main, signal.SIGINT))
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            client.query("interrupted", timeout=30)
        fake.node.handler = default_handler
        fake.do(lambda: fake.node.release_held())  # its late answer: dropped
        assert client.query("next", timeout=5) == "next"
        assert len(fake.connections()) == 1  # the same connection
        assert fake.node.duplicate_pids == []
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, old)
        client.close()


@MAIN_ONLY
def test_a_storm_of_ctrl_c_never_crosses_answers(fake: Fake) -> None:
    """Interrupts at any point of many calls: each call returns its own
    answer or raises KeyboardInterrupt, and the client stays usable. (An
    interrupt that lands while a request is written or an answer decoded
    drops the connection: the client reconnects.)"""
    client = connect(fake, ping_interval=None)
    interrupted = answered = 0
    with Storm(13) as storm:
        deadline = time.monotonic() + 3
        i = 0
        while time.monotonic() < deadline:
            i += 1
            try:
                got = storm.call(client.query, f"n{i}", timeout=10)
            except KeyboardInterrupt:
                interrupted += 1
                continue
            assert got == f"n{i}"
            answered += 1
    try:
        assert interrupted > 10, (interrupted, answered)
        assert answered > 10, (interrupted, answered)
        assert client.query("calm", timeout=10) == "calm"
        assert fake.node.duplicate_pids == []
    finally:
        client.close()


def test_every_id_in_flight_makes_a_request_wait_for_one(fake: Fake) -> None:
    client = connect(fake)
    try:
        conn = client._session.conn
        assert conn is not None
        # every id taken by a request nobody waits for any more
        with conn._mutex:
            while not conn._pending.is_full():
                abandoned = Slot()
                abandoned.live = False
                conn._pending.reserve(abandoned)
        with pytest.raises(ClientTimeoutError, match="free request id"):
            client.query("no id", timeout=0.3)
        waiting = threading.Thread(
            target=lambda: results.append(client.query("waits", timeout=20))
        )
        results: list[Any] = []
        waiting.start()
        time.sleep(0.2)
        assert results == []
        # the node answers one of them: its id goes to the waiting request
        conn_ = fake.connections()[0]
        fake.do(lambda: conn_.send_raw(package_bytes(17, PackageType.DATA, None)))
        waiting.join(20)
        assert results == ["waits"]
        assert fake.requests()[-1].pid == 17
    finally:
        client.close()


def test_a_timeout_covers_waiting_behind_another_writer(fake: Fake) -> None:
    client = connect(fake)
    try:
        conn = client._session.conn
        assert conn is not None
        # the write lock held, as by a long write of another thread
        with (
            conn.link.write_lock,
            pytest.raises(ClientTimeoutError, match="waiting to write"),
        ):
            client.query("behind", timeout=0.3)
        assert client.query("next", timeout=5) == "next"
        assert [query_code(p) for p in fake.requests()] == ["next"]
        assert len(fake.connections()) == 1
    finally:
        client.close()


# -- broken streams -------------------------------------------------------------


def test_a_corrupt_package_fails_every_waiting_thread(fake: Fake) -> None:
    fake.node.handler = hold_requests
    client = connect(fake)
    try:
        calls = [(lambda i=i: client.query(f"q{i}", timeout=20)) for i in range(4)]
        done: list[Any] = []
        runner = threading.Thread(target=lambda: done.extend(in_threads(calls)))
        runner.start()
        fake.wait(fake.node.wait_for_requests(4))
        conn = fake.connections()[0]
        fake.do(lambda: conn.send_raw(raw_package(1, PackageType.DATA, check=0)))
        runner.join(30)
        assert len(done) == 4
        assert all(isinstance(r, ProtocolError) for r in done), done
        fake.node.handler = default_handler
        assert client.query("again", timeout=10) == "again"  # reconnected
        assert len(fake.connections()) == 2
    finally:
        client.close()


def test_a_cut_mid_package_fails_the_request_then_reconnects(fake: Fake) -> None:
    def cut(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.QUERY and query_code(pkg) == "cut":
            whole = package_bytes(pkg.pid, PackageType.DATA, "x" * 100)
            conn.cut(whole[:20])
        else:
            conn.answer_default(pkg)

    fake.node.handler = cut
    client = connect(fake)
    try:
        with pytest.raises(ConnectionLostError, match="may or may not have run"):
            client.query("cut", timeout=10)
        assert client.query("next", timeout=10) == "next"
        assert len(fake.connections()) == 2
    finally:
        client.close()


def test_close_fails_waiting_threads(fake: Fake) -> None:
    fake.node.handler = hold_requests
    client = connect(fake)
    calls = [(lambda i=i: client.query(f"q{i}")) for i in range(4)]
    done: list[Any] = []
    runner = threading.Thread(target=lambda: done.extend(in_threads(calls)))
    runner.start()
    fake.wait(fake.node.wait_for_requests(4))
    client.close()
    runner.join(30)
    assert all(isinstance(r, ConnectionLostError) for r in done), done
    with pytest.raises(NotConnectedError, match="closed"):
        client.query("after")


# -- between calls: keepalive, statuses, warnings ------------------------------------


def test_keepalive_drops_a_silent_node_between_calls(fake: Fake) -> None:
    silent = False

    def go_silent(conn: NodeConnection, pkg: Package) -> None:
        if silent and conn is fake.node.connections[0]:
            return
        conn.answer_default(pkg)

    fake.node.handler = go_silent
    client = connect(fake, ping_interval=0.1, ping_timeout=0.3)
    try:
        silent = True  # no call is made meanwhile: only the keepalive can tell
        fake.wait(fake.node.wait_for_connections(2))
        assert client.query("alive", timeout=10) == "alive"
        assert fake.requests(PackageType.PING)
    finally:
        client.close()


def test_keepalive_spares_a_node_busy_with_a_long_query(fake: Fake) -> None:
    # a node answers no PING while it runs a query
    busy = False

    def one_at_a_time(conn: NodeConnection, pkg: Package) -> None:
        nonlocal busy
        if pkg.type == PackageType.QUERY and query_code(pkg) == "long":
            busy = True
            conn.later(1.0, lambda: finish(conn, pkg))
        elif busy:
            conn.hold(pkg)
        else:
            conn.answer_default(pkg)

    def finish(conn: NodeConnection, pkg: Package) -> None:
        nonlocal busy
        busy = False
        conn.answer_default(pkg)
        conn.release_held()

    fake.node.handler = one_at_a_time
    client = connect(fake, ping_interval=0.05, ping_timeout=0.2)
    try:
        assert client.query("long", timeout=10) == "long"
        assert len(fake.connections()) == 1
    finally:
        client.close()


def test_statuses_and_warnings_reach_the_callbacks_in_order(fake: Fake) -> None:
    client = connect(fake)
    heard: list[Any] = []
    threads: set[str] = set()

    def on_status(status: str) -> None:
        threads.add(threading.current_thread().name)
        heard.append(status)

    def on_warning(code: int, text: str) -> None:
        threads.add(threading.current_thread().name)
        heard.append((code, text))

    client.on_node_status = on_status
    client.on_warning = on_warning
    try:
        conn = fake.connections()[0]

        def push() -> None:
            conn.send_node_status("AWAY_SOON")
            conn.send_warn(2, "a log line")
            conn.send_node_status("AWAY")
            conn.send_node_status("READY")

        fake.do(push)  # the client makes no call: the watcher reads them
        until(lambda: len(heard) == 4)
        assert heard == ["AWAY_SOON", (2, "a log line"), "AWAY", "READY"]
        assert len(threads) == 1
        assert threads.pop().startswith("thingsdb-sync-callbacks")
        assert client.query("stayed", timeout=5) == "stayed"
        assert len(fake.connections()) == 1  # away mode: the client stays
    finally:
        client.close()


# -- nodes that are not ready ------------------------------------------------------


def test_a_lone_node_not_ready_is_waited_for_with_back_off(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses = record_pauses(monkeypatch)
    fake.node.handler = not_ready_for(6, SYNCHRONIZING)
    client = Client()
    client.connect_pool([fake.address], "admin", "pass")
    try:
        assert client.query("answered", timeout=30) == "answered"
        assert len(fake.requests()) == 7
        assert len(fake.connections()) == 1
        assert pauses == [
            (0.05, 0.1),
            (0.1, 0.2),
            (0.2, 0.4),
            (0.4, 0.8),
            (0.8, 1.6),
            (1.0, 2.0),
        ]
    finally:
        client.close()


def test_not_ready_until_the_deadline_raises_the_node_error(fake: Fake) -> None:
    fake.node.handler = not_ready_for(1000, SYNCHRONIZING)
    client = Client()
    client.connect_pool([fake.address], "admin", "pass")
    try:
        with pytest.raises(NodeError, match="finished synchronizing"):
            client.query("x", timeout=1.0)
        assert len(fake.requests()) >= 3
        assert client.is_connected()
    finally:
        client.close()


def test_a_new_status_makes_a_waiting_request_try_again(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("thingsdb.engine.requests._NOT_READY_PAUSE", 60.0)
    monkeypatch.setattr("thingsdb.engine.requests._NOT_READY_MAX_PAUSE", 60.0)
    fake.node.handler = not_ready_for(1, SYNCHRONIZING)
    client = Client()
    client.connect_pool([fake.address], "admin", "pass")
    try:
        results: list[Any] = []
        waiting = threading.Thread(
            target=lambda: results.append(client.query("woken", timeout=120))
        )
        waiting.start()
        fake.wait(fake.node.wait_for_requests(1))
        time.sleep(0.1)
        assert results == []
        conn = fake.connections()[0]
        fake.do(lambda: conn.send_node_status("READY"))
        waiting.join(20)
        assert results == ["woken"]
    finally:
        client.close()


def test_retry_not_ready_zero_raises_at_once(fake: Fake) -> None:
    fake.node.handler = not_ready_for(1, SYNCHRONIZING)
    client = Client(retry_not_ready=0)
    client.connect_pool([fake.address], "admin", "pass")
    try:
        with pytest.raises(NodeError, match="finished synchronizing"):
            client.query("x", timeout=5)
        assert len(fake.requests()) == 1
    finally:
        client.close()


def test_a_node_not_ready_itself_is_left_for_the_next_one(
    loop: LoopThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("thingsdb.engine.failover.random.randrange", lambda n: 0)
    sick = Fake(loop, not_ready_for(1000, STARTING))
    well = Fake(loop)
    client = Client(reconnect_delay=0.01)
    try:
        client.connect_pool([sick.address, well.address], "admin", "pass", timeout=5)
        assert client.query("answered", timeout=5) == "answered"
        assert client.connection_info() == f"{HOST}:{well.port}"
        assert len(sick.requests()) == 1
    finally:
        client.close()
        sick.stop()
        well.stop()


def test_error_raised_by_code_is_not_retried(fake: Fake) -> None:
    def code_error(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.QUERY:
            conn.answer_error(pkg, -51, "raised by the code: not ready to dance")
        else:
            conn.answer_default(pkg)

    fake.node.handler = code_error
    client = connect(fake)
    try:
        with pytest.raises(NodeError, match="dance"):
            client.query("raise(node_err())", timeout=5)
        assert len(fake.requests()) == 1
    finally:
        client.close()


# -- moving to another connection ----------------------------------------------------


def test_shutting_down_moves_to_a_new_connection(fake: Fake) -> None:
    def hold_old(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.QUERY and query_code(pkg).startswith("old"):
            conn.hold(pkg)
        else:
            conn.answer_default(pkg)

    fake.node.handler = hold_old
    client = connect(fake)
    try:
        calls = [(lambda i=i: client.query(f"old{i}", timeout=10)) for i in range(3)]
        done: list[Any] = []
        runner = threading.Thread(target=lambda: done.extend(in_threads(calls)))
        runner.start()
        fake.wait(fake.node.wait_for_requests(3))
        old = fake.connections()[0]
        fake.do(lambda: old.send_node_status("SHUTTING_DOWN"))
        fake.wait(fake.node.wait_for_connections(2))
        new = fake.connections()[1]
        fake.wait_for(lambda: new.authenticated, "AUTH on the new connection")
        for i in range(200):  # new requests go to the new connection
            client.query(f"probe{i}", timeout=5)
            if new.requests(PackageType.QUERY):
                break
            time.sleep(0.005)
        assert new.requests(PackageType.QUERY)
        assert old.is_open  # answers are still owed on it
        fake.do(lambda: old.release_held())
        runner.join(20)
        assert done == ["old0", "old1", "old2"]
        fake.wait(asyncio.wait_for(old.closed, 5))  # retired: closed once done
        assert client.query("new", timeout=5) == "new"
    finally:
        client.close()


def test_a_planned_move_takes_the_old_nodes_events_until_the_rejoin(
    fake: Fake,
) -> None:
    def handler(conn: NodeConnection, pkg: Package) -> None:
        second = len(fake.node.connections) > 1 and conn is fake.node.connections[1]
        if second and pkg.type == PackageType.JOIN:
            conn.hold(pkg)  # the new node is slow to join
        else:
            join_then_event(conn, pkg)

    fake.node.handler = handler
    client = Client(reconnect_delay=0.01)
    client.connect_pool([fake.address], "admin", "pass")
    try:
        room = Listener(7, "//stuff")
        room.join(client)
        old = fake.connections()[0]
        fake.do(lambda: old.send_node_status("SHUTTING_DOWN"))
        fake.wait(fake.node.wait_for_connections(2))
        new = fake.connections()[1]
        fake.wait_for(lambda: bool(new.held), "the JOIN on the new connection")
        seam = msg("//stuff", 7, "seam")
        fake.do(lambda: old.send_event(PackageType.ROOM_EMIT, seam))
        until(lambda: "seam" in room.log)
        assert old.is_open  # kept open for the rooms until they are joined
        fake.do(lambda: new.release_held(answer=join_then_event))
        fake.wait(asyncio.wait_for(old.closed, 5))
        after = msg("//stuff", 7, "new")
        fake.do(lambda: new.send_event(PackageType.ROOM_EMIT, after))
        until(lambda: "new" in room.log)
        assert room.log == ["join", "seam", "join", "new"]
    finally:
        client.close()


def test_an_event_that_overtakes_the_join_answer_is_kept(fake: Fake) -> None:
    scope = canonical_scope("//stuff")

    def event_first(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.JOIN:
            conn.send_event(PackageType.ROOM_EMIT, msg("//stuff", 7, "early"))
            conn.send_event(PackageType.ROOM_JOIN, {"scope": scope, "id": 7})
        conn.answer_default(pkg)

    fake.node.handler = event_first
    client = connect(fake)
    try:
        room = Listener(7, "//stuff")
        room.join(client, wait=5)
        until(lambda: len(room.log) == 2)
        assert room.log == ["early", "join"]
    finally:
        client.close()


# -- resends and credentials -----------------------------------------------------------


def test_a_lost_idempotent_query_goes_again_and_a_plain_one_does_not(
    fake: Fake,
) -> None:
    def cut_first(conn: NodeConnection, pkg: Package) -> None:
        first = len(fake.node.connections) == 1
        if pkg.type == PackageType.QUERY and (first or query_code(pkg) == "write"):
            conn.abort()
        else:
            conn.answer_default(pkg)

    fake.node.handler = cut_first
    client = connect(fake)
    try:
        assert client.idempotent.query("read", timeout=10) == "read"
        assert [query_code(p) for p in fake.requests()] == ["read", "read"]
        with pytest.raises(ConnectionLostError, match="may or may not have run"):
            client.query("write", timeout=10)
        assert [query_code(p) for p in fake.requests()].count("write") == 1
    finally:
        client.close()


def test_credentials_refused_on_reconnect(fake: Fake) -> None:
    refuse = False

    def handler(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.AUTH and refuse:
            conn.answer_error(pkg, -56, "invalid credentials")
        else:
            conn.answer_default(pkg)

    fake.node.handler = handler
    client = connect(fake)
    try:
        refuse = True
        conn = fake.connections()[0]
        fake.do(conn.abort)
        until(lambda: not client.is_connected())
        with pytest.raises(NotConnectedError, match="cannot connect") as info:
            client.query("x", timeout=10)
        assert isinstance(info.value.__cause__, AuthError)
        refuse = False  # the password is right again: the next request tries
        assert client.query("again", timeout=10) == "again"
    finally:
        client.close()


def test_secrets_never_reach_logs_or_reprs(
    fake: Fake, caplog: pytest.LogCaptureFixture
) -> None:
    password = "pw-Zq8uX3vR"
    caplog.set_level(logging.DEBUG, logger="thingsdb")
    client = Client(reconnect_delay=0.01)
    try:
        client.connect(*fake.address, timeout=5)
        client.authenticate("admin", password)
        conn = fake.connections()[0]
        fake.do(conn.abort)  # the reconnect authenticates again
        fake.wait(fake.node.wait_for_connections(2))
        until(client.is_connected)
        texts = [repr(client), *(r.getMessage() for r in caplog.records)]
        assert len(fake.requests(PackageType.AUTH)) == 2
        assert all(password not in text for text in texts)
    finally:
        client.close()


def test_close_while_the_node_is_gone_leaves_no_thread(fake: Fake) -> None:
    before = set(threading.enumerate())
    client = connect(fake)
    fake.stop()  # the client keeps trying to reconnect
    until(lambda: not client.is_connected())
    time.sleep(0.1)
    client.close()
    assert set(threading.enumerate()) <= before
