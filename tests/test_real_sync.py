"""The blocking client against a real node: every method, many threads on
one client, rooms with handlers and the blocking iterator, use from inside
a running loop (where calls block, as anywhere), reconnects, and no thread
left behind after close()."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import realnode
from docpages import python_blocks
from loopthread import LoopThread
from test_docs import BY_HAND
from thingsdb import exceptions
from thingsdb.sync import Client, Room, RoomEvent, event
from thingsdb.util import Access

pytestmark = pytest.mark.node


def blocking_examples() -> list[str]:
    """The documentation's Python blocks that use the blocking client (the
    other blocks run in test_docs.py; the getting-started pages' blocks, on
    the nodes those pages start, in test_docs_nodes.py)."""
    return [
        block
        for page, block in python_blocks()
        if "thingsdb.sync" in block and page not in BY_HAND
    ]


EXAMPLES = blocking_examples()

# a query that keeps the node busy for a while (about a second here)
HEAVY = "x = 0; range(20000).each(|i| range(1000).each(|j| x += j)); x;"
HEAVY_RESULT = 20000 * sum(range(1000))


def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def connect(node: realnode.Node, kind: str = "tcp", **settings: Any) -> Client:
    client = Client(**settings)
    if kind == "ws":
        client.connect(node.ws_address, timeout=10)
    else:
        client.connect(*node.address, timeout=10)
    client.authenticate(node.user, node.password, timeout=10)
    return client


@pytest.fixture(params=["tcp", "ws"])
def client(node: realnode.Node, request: pytest.FixtureRequest) -> Iterator[Client]:
    c = connect(node, request.param)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def second(node: realnode.Node) -> Iterator[Client]:
    c = connect(node)
    try:
        yield c
    finally:
        c.close()


def test_query_run_and_errors(client: Client, collection: str) -> None:
    scope = f"//{collection}"
    assert client.query("a + b;", a=40, b=2) == 42
    assert client.query("// comment\n 'hi';") == "hi"
    client.query(".x = v;", v={"title": "ThingsDB"}, scope=scope)
    assert client.query(".x.title;", scope=scope) == "ThingsDB"
    client.query("new_procedure('add', |a, b| a + b);", scope=scope)
    assert client.run("add", 1, 2, scope=scope) == 3
    assert client.run("add", a=5, b=6, scope=scope) == 11
    with pytest.raises(TypeError):
        client.run("add", 1, b=2, scope=scope)
    with pytest.raises(exceptions.LookupError):
        client.query("nope;")
    with pytest.raises(exceptions.ZeroDivisionError):
        client.query("1 / 0;")
    with pytest.raises(exceptions.TimeoutError):
        client.query(HEAVY, timeout=0.01)
    with pytest.raises(TypeError):
        client.query("x;", x=object())
    client.set_default_scope(scope)
    assert client.get_default_scope() == scope
    assert client.query(".x.title;") == "ThingsDB"
    assert client.is_connected()
    assert client.connection_info() != "disconnected"
    assert "thingsdb.sync.Client" in repr(client)
    warnings: list[tuple[int, str]] = []
    client.on_warning = lambda code, msg: warnings.append((code, msg))
    assert client.on_warning is not None
    client.query("log('careful');")
    until(lambda: len(warnings) == 1)
    assert "careful" in warnings[0][1]
    client.on_node_status = print
    assert client.on_node_status is print


def test_close_and_wait(node: realnode.Node) -> None:
    before = set(threading.enumerate())
    c = connect(node)
    c.close_and_wait()
    c.wait_closed()
    assert not c.is_connected()
    assert set(threading.enumerate()) <= before


def test_connect_errors(node: realnode.Node) -> None:
    c = Client()
    try:
        c.connect(*node.address, timeout=10)
        with pytest.raises(RuntimeError, match="already connected"):
            c.connect(*node.address, timeout=10)
        with pytest.raises(exceptions.AuthError):
            c.authenticate("admin", "wrong", timeout=10)
        c.authenticate(("admin", "pass"), timeout=10)
        assert c.query("1 + 1;") == 2
    finally:
        c.close()


def test_websocket(node: realnode.Node) -> None:
    with Client() as c:
        c.connect(node.ws_address, timeout=10)
        c.authenticate(node.user, node.password)
        assert c.is_websocket()
        assert c.query("'ws';") == "ws"
    assert not c.is_connected()


def test_connect_pool_and_context_manager(node: realnode.Node) -> None:
    before = set(threading.enumerate())
    with Client() as c:
        c.connect_pool([node.address, node.ws_address], "admin", "pass", timeout=10)
        assert c.query("6 * 7;") == 42
        with pytest.raises(RuntimeError, match="no event loop"):
            c.get_event_loop()  # calls run on the calling thread
    assert not c.is_connected()
    with pytest.raises(exceptions.NotConnectedError, match="closed"):
        c.query("1;")
    assert set(threading.enumerate()) <= before


def test_builtin_helpers(client: Client) -> None:
    name = f"sync_{os.getpid()}_{time.monotonic_ns()}"
    user = f"u{name}"
    assert client.new_collection(name) == name
    try:
        assert client.has_collection(name)
        assert client.collection_info(name)["name"] == name
        assert any(c["name"] == name for c in client.collections_info())
        client.rename_collection(name, f"{name}_b")
        assert client.has_collection(f"{name}_b")
        client.rename_collection(f"{name}_b", name)
        assert "Europe/Amsterdam" in client.time_zones_info()
        client.set_time_zone(name, "Europe/Amsterdam")
    finally:
        client.del_collection(name)
    assert not client.has_collection(name)

    assert client.new_user(user) == user
    try:
        client.set_password(user, "secret")
        client.grant("@thingsdb", user, Access.QUERY)
        token = client.new_token(user, description="sync")
        assert client.has_token(token)
        info = client.user_info(user)
        assert info["name"] == user
        client.revoke("@thingsdb", user, Access.QUERY)
        client.del_token(token)
        assert not client.has_token(token)
        assert any(u["name"] == user for u in client.users_info())
    finally:
        client.del_user(user)
    assert not client.has_user(user)
    assert client.user_info()["name"] == "admin"
    assert isinstance(client.node_info()["version"], str)
    assert len(client.nodes_info()) >= 1
    assert isinstance(client.counters()["queries_success"], int)
    with pytest.raises(exceptions.LookupError):
        client.user_info("no_such_user_here")


def test_eight_threads_on_one_client(node: realnode.Node, collection: str) -> None:
    per_thread = 250
    with connect(node) as c:
        c.set_default_scope(f"//{collection}")
        c.query("new_procedure('triple', |t, i| [t, i, i * 2]);")
        results: dict[int, list[Any]] = {}
        errors: list[BaseException] = []
        start = threading.Barrier(8)

        def one(t: int, i: int) -> Any:
            if i % 3 == 0:
                return c.query("[t, i, i * 2];", t=t, i=i, timeout=30)
            if i % 3 == 1:
                return c.run("triple", t, i, timeout=30)
            assert c.has_user("admin", timeout=30)
            return [t, i, i * 2]

        def work(t: int) -> None:
            try:
                start.wait(10)
                results[t] = [one(t, i) for i in range(per_thread)]
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert errors == []
        assert sorted(results) == list(range(8))
        for t, answers in results.items():
            assert answers == [[t, i, i * 2] for i in range(per_thread)]


class Recorder(Room):
    def __init__(self, room: int | str, scope: str | None = None) -> None:
        super().__init__(room, scope)
        self.log: list[Any] = []
        self.threads: set[str] = set()

    def on_init(self) -> None:
        self.log.append("init")

    def on_join(self) -> None:
        time.sleep(0.05)  # join() waits for this
        self.threads.add(threading.current_thread().name)
        self.log.append("join")

    def on_leave(self) -> None:
        self.log.append("leave")

    def on_delete(self) -> None:
        self.log.append("delete")

    @event("msg")
    def on_msg(self, *args: Any) -> None:
        self.threads.add(threading.current_thread().name)
        self.log.append(("msg", list(args), time.monotonic()))

    @event("ask")
    def on_ask(self, n: int) -> None:
        # a handler may block and call the blocking client
        self.log.append(("ask", self.client.query("n * 10;", n=n)))

    @event("run")
    def on_run(self, n: int) -> None:
        self.log.append(("run", self.client.run("times_ten", n, scope=self.scope)))

    @event("fail")
    def on_fail(self) -> None:
        raise ValueError("handler fails on purpose")


def new_room(client: Client, collection: str, name: str = "chat") -> int:
    room_id: int = client.query(
        f".{name} = room(); .{name}.set_name('{name}'); .{name}.id();",
        scope=f"//{collection}",
    )
    return room_id


def test_room_hooks_and_handlers(
    client: Client, second: Client, collection: str, caplog: pytest.LogCaptureFixture
) -> None:
    scope = f"//{collection}"
    room_id = new_room(second, collection)
    room = Recorder("chat", scope=scope)
    room.join(client)
    assert room.id == room_id
    assert room.log == ["init", "join"]  # on_join() finished before join() returned
    assert client.get_rooms() == (room,)
    assert room.client is client

    sender = Room(room_id, scope=scope)
    sender.no_join(second)
    sender.emit("fail")
    sender.emit("msg", "hello", 1)
    sender.emit("ask", 4)
    second.query("new_procedure('times_ten', |n| n * 10);", scope=scope)
    sender.emit("run", 5)
    until(lambda: len(room.log) >= 5)
    assert room.log[2][:2] == ("msg", ["hello", 1])
    assert room.log[3] == ("ask", 40)
    assert room.log[4] == ("run", 50)
    assert "handler failed on event 'fail'" in caplog.text
    assert room.threads == {
        n for n in room.threads if n.startswith("thingsdb-sync-room")
    }

    # peers_only: the sender does not get its own event
    room.emit("msg", "to peers", peers_only=True)
    room.emit("msg", "to all")
    until(lambda: any(e[1] == ["to all"] for e in room.log if e[0] == "msg"))
    assert not any(e[1] == ["to peers"] for e in room.log if e[0] == "msg")

    room.leave()
    until(lambda: "leave" in room.log)
    assert client.get_rooms() == ()

    # join again, then delete the room in ThingsDB
    room.join(client)
    assert room.log.count("init") == 1
    second.query(".del('chat');", scope=scope)
    until(lambda: "delete" in room.log)


def test_room_events_iterator(client: Client, second: Client, collection: str) -> None:
    scope = f"//{collection}"
    room_id = new_room(second, collection)
    room = Room(f"//{collection} code\n.chat.id();", scope=scope)
    room.join(client)
    assert room.id == room_id
    events = room.events(timeout=30)
    sender = Room("chat", scope=scope)
    sender.no_join(second)
    for i in range(20):
        sender.emit("tick", i, {"n": i})
    got = [next(events) for _ in range(20)]
    assert got == [RoomEvent("tick", [i, {"n": i}]) for i in range(20)]

    # another thread iterates while this one leaves: its loop ends
    seen: list[RoomEvent] = []

    def consume() -> None:
        seen.extend(room.events())

    consumer = threading.Thread(target=consume)
    consumer.start()
    time.sleep(0.1)
    sender.emit("last")
    until(lambda: len(seen) == 1)
    room.leave()
    consumer.join(10)
    assert not consumer.is_alive()
    assert seen == [RoomEvent("last", [])]
    assert list(events) == [RoomEvent("last", [])]  # ended by the leave, too


def test_left_room_holds_no_thread(client: Client, collection: str) -> None:
    new_room(client, collection)
    before = set(threading.enumerate())
    rooms = [Recorder("chat", scope=f"//{collection}") for _ in range(3)]
    for room in rooms:
        room.join(client)
        room.leave()
    until(lambda: all(r.log[-1] == "leave" for r in rooms))
    until(lambda: set(threading.enumerate()) <= before)
    rooms[0].join(client)  # joins again: a new handler thread
    assert rooms[0].log == ["init", "join", "leave", "join"]
    assert len(set(threading.enumerate()) - before) == 1


def test_iterator_left_by_break_stops_listening(
    client: Client, collection: str
) -> None:
    new_room(client, collection)
    room = Room("chat", scope=f"//{collection}")
    room.join(client)

    def emit_when_listening() -> None:
        until(lambda: room.inbox.listening == 1)
        room.emit("hi", 1)  # the emitter is in the room too: it gets it

    thread = threading.Thread(target=emit_when_listening)
    thread.start()
    got = []
    for ev in room.events(timeout=30):
        got.append(ev)
        break
    thread.join(20)
    assert got == [RoomEvent("hi", [1])]
    gc.collect()
    assert room.inbox.listening == 0  # no queue keeps filling up
    events = room.events(timeout=30)  # a new one listens from its start
    room.emit("hi", 2)
    assert next(events) == RoomEvent("hi", [2])


def test_room_events_end_at_close(node: realnode.Node, collection: str) -> None:
    c = connect(node)
    new_room(c, collection)
    room = Room("chat", scope=f"//{collection}")
    room.join(c)
    events = room.events()
    done = threading.Event()

    def consume() -> None:
        list(events)
        done.set()

    threading.Thread(target=consume, daemon=True).start()
    c.close()
    assert done.wait(10)


class GatedProxy(realnode.Proxy):
    """A proxy that can hold back what the client sends (not what the node
    sends): a query through it waits as long as the gate is shut, while the
    node stays free to send room events."""

    def __init__(self, target: tuple[str, int]) -> None:
        super().__init__(target)
        self.gate = asyncio.Event()
        self.gate.set()

    async def _pump(  # type: ignore[override]
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter
    ) -> None:
        upstream = dst.get_extra_info("peername")[1] == self.target[1]
        try:
            while data := await src.read(65536):
                if upstream:
                    await self.gate.wait()
                dst.write(data)
                await dst.drain()
        finally:
            dst.transport.abort()


def test_room_receives_while_main_thread_is_blocked(
    node: realnode.Node, second: Client, collection: str
) -> None:
    scope = f"//{collection}"
    room_id = new_room(second, collection)
    proxy_loop = LoopThread()
    proxy = GatedProxy(node.address)
    proxy_loop.run(proxy.start())
    c = Client(ping_interval=None)
    querying = threading.Event()
    handled_while_blocked = threading.Event()
    try:
        c.connect(*proxy.address, timeout=10)
        c.authenticate("admin", "pass")
        room = Recorder(room_id, scope=scope)
        room.join(c)

        def emitter() -> None:
            # the second client, in its own thread, emits while the main
            # thread waits for its slow query; then lets the query through
            try:
                assert querying.wait(10)
                time.sleep(0.1)
                sender = Room(room_id, scope=scope)
                sender.no_join(second)
                for i in range(5):
                    sender.emit("msg", i)
                until(lambda: sum(e[0] == "msg" for e in room.log) == 5)
                handled_while_blocked.set()
            finally:
                proxy_loop.call_soon(proxy.gate.set)

        proxy_loop.run(_shut(proxy.gate))
        thread = threading.Thread(target=emitter)
        thread.start()
        querying.set()
        started = time.monotonic()
        assert c.query("'slow';", timeout=30) == "slow"
        ended = time.monotonic()
        thread.join(20)
        assert handled_while_blocked.is_set()
        msgs = [e for e in room.log if e[0] == "msg"]
        assert [e[1] for e in msgs] == [[i] for i in range(5)]  # in order
        assert all(started < e[2] < ended for e in msgs)
    finally:
        c.close()
        proxy_loop.run(proxy.close())
        proxy_loop.stop(10)


async def _shut(gate: asyncio.Event) -> None:
    gate.clear()


def test_calls_from_a_running_loop_block_there(client: Client) -> None:
    """As any blocking library does (a notebook cell runs on a loop): the
    call is made, and holds up the loop of its thread until it returns."""
    outcome: list[object] = []

    async def inside() -> None:
        outcome.append(client.query("1 + 1;"))
        outcome.append(client.query("x * 2;", x=21))
        assert client.is_connected()

    # a thread with a guard: a deadlock would fail the test, not hang it
    thread = threading.Thread(target=asyncio.run, args=(inside(),), daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "the call never returned inside a running loop"
    assert outcome == [2, 42]
    assert client.query("2;") == 2  # the client is fine


async def test_called_straight_from_an_async_test(node: realnode.Node) -> None:
    c = Client()
    try:
        c.connect(*node.address)  # blocks this test's loop until connected
        c.authenticate("admin", "pass")
        assert c.query("3;") == 3
        # a worker thread still works, and keeps the loop free meanwhile
        assert await asyncio.to_thread(c.query, "4;") == 4
    finally:
        c.close()


def test_callbacks_run_in_a_thread_of_their_own_and_may_call_the_client(
    client: Client,
) -> None:
    seen: list[tuple[str, Any]] = []
    done = threading.Event()

    def on_warning(code: int, msg: str) -> None:
        # a blocking call from the callback: it has a thread of its own
        seen.append((threading.current_thread().name, client.query("'inside';")))
        done.set()

    client.on_warning = on_warning
    client.query("log('tell me');")
    assert done.wait(20)
    [(name, answer)] = seen
    assert name.startswith("thingsdb-sync-callbacks")
    assert answer == "inside"
    assert client.query("2;") == 2


def test_close_leaves_no_thread(node: realnode.Node, collection: str) -> None:
    before = set(threading.enumerate())
    c = Client()
    c.connect("localhost", node.client_port)  # a look-up: an executor thread
    c.authenticate("admin", "pass")
    new_room(c, collection)
    room = Recorder("chat", scope=f"//{collection}")
    room.join(c)
    assert c.query("1;") == 1
    names = sorted(t.name for t in set(threading.enumerate()) - before)
    assert [n.split("-")[2] for n in names] == ["room", "watcher"], names
    c.close()
    assert set(threading.enumerate()) <= before
    c.close()


def test_close_fails_waiting_calls(node: realnode.Node) -> None:
    c = connect(node)
    errors: list[BaseException] = []

    def slow() -> None:
        try:
            c.query(HEAVY, timeout=60)
        except BaseException as exc:  # noqa: BLE001 - recorded
            errors.append(exc)

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.2)
    c.close()
    thread.join(20)
    assert not thread.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], ConnectionError)


def test_unreferenced_client_is_closed(node: realnode.Node) -> None:
    before = set(threading.enumerate())
    c = connect(node)
    assert c.query("1;") == 1
    del c
    gc.collect()
    until(lambda: set(threading.enumerate()) <= before)


def test_interpreter_exit_closes_open_clients(
    node: realnode.Node, tmp_path: Path, collection: str
) -> None:
    node.query(".chat = room(); .gone = room();", scope=f"//{collection}")
    script = tmp_path / "leave_open.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import atexit
            import threading

            def check():  # registered first, so it runs after the client's
                consumer.join(10)  # its events() iterator ended at the close
                left = [t.name for t in threading.enumerate()]
                print("left:", left, client.is_connected())

            atexit.register(check)

            from thingsdb.sync import Client, Room

            client = Client()
            # a host name: the loop's executor looks it up (a thread)
            client.connect("localhost", {node.client_port})
            client.authenticate("admin", "pass")
            room = Room(".chat.id();", scope="//{collection}")
            room.join(client)
            gone = Room(".gone.id();", scope="//{collection}")
            gone.join(client)
            gone.leave()
            events = room.events()
            consumer = threading.Thread(target=lambda: list(events), daemon=True)
            consumer.start()
            print(client.query("40 + 2;"))

            def no_new_threads():  # as Python 3.12+ does in atexit functions
                def refuse(self):
                    raise RuntimeError("cannot create new thread at shutdown")
                threading.Thread.start = refuse

            atexit.register(no_new_threads)  # registered last, so it runs first
            # no close(): the client (its loop and room threads) is closed at exit
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n") == ["42", "left: ['MainThread'] False", ""]
    assert done.stderr == ""


def test_reconnect_between_calls(client: Client) -> None:
    before = client.query("1;")
    client.reconnect()
    assert client.is_connected()
    assert client.query("2;") == 2
    assert before == 1
    client.reconnect(wait=False)
    assert client.query("3;", timeout=10) == 3


def test_connect_again_after_close(node: realnode.Node, collection: str) -> None:
    before = set(threading.enumerate())
    c = connect(node)
    new_room(c, collection)
    room = Recorder("chat", scope=f"//{collection}")
    room.join(c)
    c.set_default_scope("@n")
    c.close()
    assert set(threading.enumerate()) <= before
    c.connect(*node.address)
    c.authenticate("admin", "pass")
    try:
        assert c.get_default_scope() == "@n"
        assert isinstance(c.query("node_info().load().node_id;"), int)
        room.join(c)  # the same room joins again on the new connection
        assert room.log == ["init", "join", "join"]
        assert c.get_rooms() == (room,)
        room.emit("msg", "again")
        until(lambda: any(e[0] == "msg" for e in room.log))
    finally:
        c.close()


def test_fails_over_by_itself_and_rejoins_rooms(
    node: realnode.Node, second: Client, collection: str
) -> None:
    # a pool of two "nodes" (two proxies in front of the one node); the
    # connection in use dies while no call is being made
    scope = f"//{collection}"
    room_id = new_room(second, collection)
    proxy_loop = LoopThread()  # the test proxy is asyncio code
    proxies = [realnode.Proxy(node.address) for _ in range(2)]
    for proxy in proxies:
        proxy_loop.run(proxy.start())
    c = Client(reconnect_delay=0.05)
    try:
        c.connect_pool([p.address for p in proxies], "admin", "pass", timeout=10)
        room = Recorder(room_id, scope=scope)
        room.join(c)
        assert c.query("1;") == 1
        used = next(p for p in proxies if p.accepted == 1)
        other = next(p for p in proxies if p is not used)
        assert c.connection_info() == f"{used.address[0]}:{used.port}"
        proxy_loop.call_soon(used.drop)  # the connection dies under the client
        until(lambda: c.connection_info() == f"{other.address[0]}:{other.port}")
        until(lambda: room.log.count("join") == 2)  # joined again
        assert c.query("2;", timeout=20) == 2
        sender = Room(room_id, scope=scope)
        sender.no_join(second)
        sender.emit("msg", "after")
        until(lambda: any(e[0] == "msg" for e in room.log))
    finally:
        c.close()
        for proxy in proxies:
            proxy_loop.run(proxy.close())
        proxy_loop.stop(10)


def test_keepalive_runs_between_calls(node: realnode.Node) -> None:
    # the link goes silent (half-open) while the client makes no call: only
    # the keepalive, running in the background, can notice and reconnect
    proxy_loop = LoopThread()
    proxy = GatedProxy(node.address)
    proxy_loop.run(proxy.start())
    c = Client(ping_interval=0.1, ping_timeout=0.3, connect_timeout=30)
    try:
        c.connect(*proxy.address, timeout=10)
        c.authenticate("admin", "pass")
        assert c.query("1;") == 1
        proxy_loop.run(_shut(proxy.gate))
        until(lambda: proxy.accepted >= 2)  # the client gave up the link
        proxy_loop.call_soon(proxy.gate.set)
        assert c.query("2;", timeout=20) == 2
    finally:
        c.close()
        proxy_loop.run(proxy.close())
        proxy_loop.stop(10)


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signals go to the main thread",
)
def test_ctrl_c_in_a_query_leaves_the_client_usable(node: realnode.Node) -> None:
    proxy_loop = LoopThread()
    proxy = GatedProxy(node.address)
    proxy_loop.run(proxy.start())
    c = Client(ping_interval=None)
    main = threading.main_thread().ident
    assert main is not None
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        c.connect(*proxy.address, timeout=10)
        c.authenticate("admin", "pass")
        proxy_loop.run(_shut(proxy.gate))  # the query gets no answer for now
        timer = threading.Timer(0.2, signal.pthread_kill, (main, signal.SIGINT))
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                c.query("'interrupted';", timeout=60)
        finally:
            timer.cancel()
        proxy_loop.call_soon(proxy.gate.set)
        # the interrupted request's late answer goes nowhere
        assert c.query("'next';", timeout=20) == "next"
        assert c.query("'and on';", timeout=20) == "and on"
    finally:
        signal.signal(signal.SIGINT, old)
        c.close()
        proxy_loop.run(proxy.close())
        proxy_loop.stop(10)


def test_close_from_a_handler_is_refused(node: realnode.Node, collection: str) -> None:
    c = connect(node)
    try:
        room_id = new_room(c, collection)
        outcome: list[BaseException | str] = []

        class Closer(Room):
            @event("close")
            def on_close(self) -> None:
                try:
                    c.close()  # the client this room joined through
                except RuntimeError as exc:
                    outcome.append(exc)
                else:
                    outcome.append("closed")

        room = Closer(room_id, scope=f"//{collection}")
        room.join(c)
        room.emit("close")
        until(lambda: len(outcome) == 1)
        assert isinstance(outcome[0], RuntimeError)
        assert "room handler" in str(outcome[0])
        assert c.query("1;") == 1
    finally:
        c.close()


def test_collected_in_its_own_thread_does_not_block(
    node: realnode.Node, second: Client, collection: str
) -> None:
    # as when the last reference to a client goes away in one of its own
    # threads: here a room handler runs the client's finalizer
    before = set(threading.enumerate())
    c = connect(node)
    room_id = new_room(c, collection)
    finalized = threading.Event()

    class Dropper(Room):
        @event("drop")
        def on_drop(self) -> None:
            finalizer = c._finalizer  # the client this room joined through
            assert finalizer is not None
            finalizer()
            finalized.set()

    room = Dropper(room_id, scope=f"//{collection}")
    room.join(c)
    sender = Room(room_id, scope=f"//{collection}")
    sender.no_join(second)
    sender.emit("drop")
    assert finalized.wait(20)
    until(lambda: set(threading.enumerate()) <= before)
    assert not c.is_connected()


def test_the_docs_have_blocking_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_blocking_example(
    index: int, node: realnode.Node, caplog: pytest.LogCaptureFixture
) -> None:
    """Each example runs as written (no loop, as in a script), pointed at the
    test node, logs no error, and closes its client."""
    source = EXAMPLES[index].replace('connect("localhost")', f"connect{node.address!r}")
    node.query("has_collection('stuff') || new_collection('stuff');")
    before = set(threading.enumerate())
    try:
        exec(compile(source, f"blocking example {index}", "exec"), {"__name__": "ex"})
    finally:
        node.query(".keys().each(|k| .del(k));", scope="//stuff")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    assert set(threading.enumerate()) <= before


def test_idempotent_requests(client: Client, collection: str) -> None:
    scope = f"//{collection}"
    client.query("new_procedure('add', |a, b| a + b);", scope=scope)
    assert client.idempotent.query("a + b;", a=40, b=2) == 42
    assert client.idempotent.run("add", 1, 2, scope=scope) == 3
    with pytest.raises(exceptions.ZeroDivisionError):
        client.idempotent.query("1 / 0;")
