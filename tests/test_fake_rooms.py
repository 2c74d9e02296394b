"""Rooms against the fake node: exact event timing a real node cannot be
made to produce (events that overtake answers, unknown rooms, cuts)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fakenode import FakeNode, NodeConnection, default_handler
from thingsdb.client import Client
from thingsdb.protocol import Package, PackageType, canonical_scope
from thingsdb.room import Room, event

SCOPE = "//stuff"
EVENT_SCOPE = "@collection:stuff"


@pytest.fixture
async def node() -> AsyncIterator[FakeNode]:
    async with FakeNode() as fake:
        yield fake


@pytest.fixture
async def client(node: FakeNode) -> AsyncIterator[Client]:
    client = Client()
    await client.connect("127.0.0.1", node.port)
    await client.authenticate("admin", "pass")
    client.set_default_scope(SCOPE)
    yield client
    await client.close_and_wait()


def join_then_event(conn: NodeConnection, pkg: Package) -> None:
    """Answer JOIN and send the ROOM_JOIN event, as a real node does."""
    conn.answer_default(pkg)
    if pkg.type == PackageType.JOIN:
        for room_id in pkg.data[1:]:
            conn.send_event(
                PackageType.ROOM_JOIN, {"scope": EVENT_SCOPE, "id": room_id}
            )


def emit(conn: NodeConnection, room_id: int, name: str, *args: Any) -> None:
    conn.send_event(
        PackageType.ROOM_EMIT,
        {"scope": EVENT_SCOPE, "id": room_id, "event": name, "args": list(args)},
    )


class Recorder(Room):
    def __init__(self, room: int | str, scope: str | None = None) -> None:
        super().__init__(room, scope)
        self.log: list[Any] = []

    def on_init(self) -> None:
        self.log.append("init")

    async def on_join(self) -> None:
        self.log.append("join")

    def on_leave(self) -> None:
        self.log.append("leave")

    def on_delete(self) -> None:
        self.log.append("delete")

    def on_emit(self, event: str, *args: Any) -> None:
        self.log.append(("other", event, args))

    @event("msg")
    def on_msg(self, *args: Any) -> None:
        self.log.append(("msg", args))


async def until(predicate: Any, timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met"
        await asyncio.sleep(0.005)


async def test_event_before_join_answer_is_not_lost(
    node: FakeNode, client: Client
) -> None:
    def event_first(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.JOIN:
            # the ROOM_JOIN event and an emit overtake the answer
            conn.send_event(PackageType.ROOM_JOIN, {"scope": EVENT_SCOPE, "id": 7})
            emit(conn, 7, "msg", "early")
        conn.answer_default(pkg)

    node.handler = event_first
    room = Recorder(7)
    await room.join(client, wait=2)
    await until(lambda: len(room.log) >= 3)
    assert room.log == ["init", "join", ("msg", ("early",))]


async def test_event_for_unknown_room_is_dropped(
    node: FakeNode, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    node.handler = join_then_event
    room = Recorder(1)
    await room.join(client)
    conn = node.last_connection
    with caplog.at_level(logging.DEBUG, logger="thingsdb.room"):
        emit(conn, 999, "msg", "lost")
        emit(conn, 1, "msg", "kept")
        await until(lambda: ("msg", ("kept",)) in room.log)
    assert ("msg", ("lost",)) not in room.log
    assert any("not joined" in r.getMessage() for r in caplog.records)


async def test_slow_handler_delays_only_its_own_room(
    node: FakeNode, client: Client
) -> None:
    node.handler = join_then_event
    release = asyncio.Event()

    class Slow(Room):
        @event("msg")
        async def on_msg(self, *args: Any) -> None:
            await release.wait()

    fast = Recorder(2)
    slow = Slow(3)
    await fast.join(client)
    await slow.join(client)
    conn = node.last_connection
    emit(conn, 3, "msg", "blocks")
    for i in range(1000):
        emit(conn, 2, "msg", i)
    await until(lambda: len(fast.log) == 1002)
    assert [entry[1][0] for entry in fast.log[2:]] == list(range(1000))
    assert not release.is_set()
    # the client still answers queries while the slow handler waits
    assert await client.query("still answering") == "still answering"
    release.set()


async def test_handler_exception_is_logged_and_room_keeps_working(
    node: FakeNode, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    node.handler = join_then_event
    seen: list[int] = []

    class Fragile(Room):
        @event("n")
        def on_n(self, n: int) -> None:
            if n == 1:
                raise RuntimeError("boom")
            seen.append(n)

    room = Fragile(4)
    await room.join(client)
    conn = node.last_connection
    with caplog.at_level(logging.ERROR, logger="thingsdb.room"):
        for n in range(3):
            emit(conn, 4, "n", n)
        await until(lambda: seen == [0, 2])
    failures = [r for r in caplog.records if r.exc_info]
    assert len(failures) == 1
    message = failures[0].getMessage()
    assert "'n'" in message
    assert "id=4" in message


async def test_handlers_are_inherited_and_overridable(
    node: FakeNode, client: Client
) -> None:
    node.handler = join_then_event

    class Child(Recorder):
        def on_msg(self, *args: Any) -> None:  # overrides without a new mark
            self.log.append(("child", args))

        @event("extra")
        async def on_extra(self, value: int) -> None:
            await asyncio.sleep(0)
            self.log.append(("extra", value))

    room = Child(5)
    await room.join(client)
    conn = node.last_connection
    emit(conn, 5, "msg", 1)
    emit(conn, 5, "extra", 2)
    emit(conn, 5, "unknown", 3)
    await until(lambda: len(room.log) == 5)
    assert room.log[2:] == [("child", (1,)), ("extra", 2), ("other", "unknown", (3,))]


async def test_same_room_id_in_two_collections(node: FakeNode, client: Client) -> None:
    node.handler = default_handler
    a = Recorder(6, "//one")
    b = Recorder(6, "@:two")
    await a.join(client, wait=None)
    await b.join(client, wait=None)
    conn = node.last_connection
    conn.send_event(
        PackageType.ROOM_EMIT,
        {"scope": "@collection:two", "id": 6, "event": "msg", "args": ["to b"]},
    )
    conn.send_event(
        PackageType.ROOM_EMIT,
        {"scope": "@collection:one", "id": 6, "event": "msg", "args": ["to a"]},
    )
    await until(lambda: len(a.log) == 2 and len(b.log) == 2)
    assert a.log == ["init", ("msg", ("to a",))]
    assert b.log == ["init", ("msg", ("to b",))]


async def test_bad_input_before_sending(node: FakeNode, client: Client) -> None:
    room = Room(8)
    with pytest.raises(RuntimeError, match="join"):
        await room.emit("msg")
    with pytest.raises(RuntimeError, match="join"):
        await room.leave()
    with pytest.raises(TypeError):
        Room(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scope"):
        Room(1, "stuff")
    await room.join(client, wait=None)
    before = len(node.requests())
    with pytest.raises(TypeError, match="event name"):
        await room.emit(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot send"):
        await room.emit("msg", object())
    assert len(node.requests()) == before


async def test_unknown_room_id_raises_lookup_error(
    node: FakeNode, client: Client
) -> None:
    def unknown(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.JOIN:
            conn.answer(pkg, [None])
        else:
            conn.answer_default(pkg)

    node.handler = unknown
    with pytest.raises(LookupError, match=r"12345.*@collection:stuff"):
        await Recorder(12345).join(client)
    assert client.get_rooms() == ()


async def test_rooms_are_joined_again_after_reconnect(node: FakeNode) -> None:
    node.handler = join_then_event
    client = Client(reconnect_delay=0.01)
    await client.connect("127.0.0.1", node.port)
    await client.authenticate("admin", "pass")
    try:
        room = Recorder(9, SCOPE)
        await room.join(client)
        node.last_connection.cut()
        await node.wait_for_connections(2)
        await until(lambda: room.log.count("join") == 2)
        emit(node.last_connection, 9, "msg", "after")
        await until(lambda: ("msg", ("after",)) in room.log)
        assert room.log.count("init") == 1
        joins = node.requests(PackageType.JOIN)
        # the room's scope goes in its canonical form
        canonical = canonical_scope(SCOPE)
        assert [r.pkg.data for r in joins] == [[canonical, 9], [canonical, 9]]
    finally:
        await client.close_and_wait()


async def test_leave_and_delete_end_the_room(node: FakeNode, client: Client) -> None:
    def leave_event_first(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.LEAVE:
            conn.send_event(PackageType.ROOM_LEAVE, {"scope": EVENT_SCOPE, "id": 10})
        join_then_event(conn, pkg)

    node.handler = leave_event_first
    left = Recorder(10)
    gone = Recorder(11)
    await left.join(client)
    await gone.join(client)
    await left.leave()
    node.last_connection.send_event(
        PackageType.ROOM_DELETE, {"scope": EVENT_SCOPE, "id": 11}
    )
    await until(lambda: "leave" in left.log and "delete" in gone.log)
    assert client.get_rooms() == ()


async def test_async_for_receives_unhandled_events(
    node: FakeNode, client: Client
) -> None:
    node.handler = join_then_event
    room = Room(12)
    await room.join(client)
    received: list[tuple[str, list[Any]]] = []

    async def consume() -> None:
        async for ev in room:
            received.append((ev.name, ev.args))

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.01)
    conn = node.last_connection
    emit(conn, 12, "a", 1)
    emit(conn, 12, "b", 2, 3)
    conn.send_event(PackageType.ROOM_DELETE, {"scope": EVENT_SCOPE, "id": 12})
    await asyncio.wait_for(task, 3)  # the iteration ends with the room
    assert received == [("a", [1]), ("b", [2, 3])]


async def test_async_for_started_after_join_misses_nothing(
    node: FakeNode, client: Client
) -> None:
    def join_event_and_emits(conn: NodeConnection, pkg: Package) -> None:
        join_then_event(conn, pkg)
        if pkg.type == PackageType.JOIN:  # right behind the ROOM_JOIN event
            emit(conn, 13, "a", 1)
            emit(conn, 13, "b", 2)

    node.handler = join_event_and_emits
    room = Room(13)
    await room.join(client)
    await asyncio.sleep(0.05)  # the room's worker handles both meanwhile
    node.last_connection.send_event(
        PackageType.ROOM_DELETE, {"scope": EVENT_SCOPE, "id": 13}
    )
    received = [(ev.name, ev.args) async for ev in room]
    assert received == [("a", [1]), ("b", [2])]
    # a room that is gone: a new iteration ends at once
    assert [ev async for ev in room] == []


async def test_async_hooks_are_awaited(node: FakeNode, client: Client) -> None:
    log: list[str] = []

    class Async(Room):
        async def on_init(self) -> None:
            await asyncio.sleep(0)
            log.append("init")

        async def on_leave(self) -> None:
            await asyncio.sleep(0)
            log.append("leave")

        async def on_delete(self) -> None:
            await asyncio.sleep(0)
            log.append("delete")

    def leave_event_first(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.LEAVE:
            conn.send_event(PackageType.ROOM_LEAVE, {"scope": EVENT_SCOPE, "id": 14})
        join_then_event(conn, pkg)

    node.handler = leave_event_first
    left, gone = Async(14), Async(15)
    await left.join(client)
    await gone.join(client)
    await left.leave()
    node.last_connection.send_event(
        PackageType.ROOM_DELETE, {"scope": EVENT_SCOPE, "id": 15}
    )
    await until(lambda: "leave" in log and "delete" in log)
    assert log.count("init") == 2


async def test_node_status_callback(node: FakeNode, client: Client) -> None:
    statuses: list[str] = []
    client.on_node_status = statuses.append
    node.last_connection.send_node_status("AWAY")
    node.last_connection.send_node_status("READY")
    await until(lambda: len(statuses) == 2)
    assert statuses == ["AWAY", "READY"]
