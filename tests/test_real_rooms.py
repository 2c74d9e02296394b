"""Rooms against a real node: join by id, name and code, events from code and
from another client, peers_only, leave, delete, hook order, volume."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import realnode
from thingsdb.client import Client
from thingsdb.room import Room, event

pytestmark = pytest.mark.node


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.fixture
async def second(node: realnode.Node) -> AsyncIterator[Client]:
    client = Client()
    await client.connect(*node.address)
    await client.authenticate("admin", "pass")
    yield client
    await client.close_and_wait()


class Recorder(Room):
    def __init__(self, room: int | str, scope: str | None = None) -> None:
        super().__init__(room, scope)
        self.log: list[Any] = []

    def on_init(self) -> None:
        self.log.append("init")

    async def on_join(self) -> None:
        await asyncio.sleep(0.05)  # join() must wait for this
        self.log.append("join")

    def on_leave(self) -> None:
        self.log.append("leave")

    def on_delete(self) -> None:
        self.log.append("delete")

    def on_emit(self, event: str, *args: Any) -> None:
        self.log.append(("other", event, list(args)))

    @event("msg")
    def on_msg(self, *args: Any) -> None:
        self.log.append(("msg", list(args)))

    def messages(self) -> list[Any]:
        return [entry for entry in self.log if isinstance(entry, tuple)]


async def make_room(client: Client, scope: str, name: str = "chat") -> int:
    room_id = await client.query(
        ".has(name) || .set(name, room()); .get(name).set_name(name); .get(name).id();",
        name=name,
        scope=scope,
    )
    assert isinstance(room_id, int)
    return room_id


@pytest.mark.parametrize("how", ["id", "name", "code"])
async def test_join_and_receive_events_from_code(
    client: Client, collection: str, how: str
) -> None:
    scope = f"//{collection}"
    room_id = await make_room(client, scope)
    targets: dict[str, int | str] = {
        "id": room_id,
        "name": "chat",
        "code": ".chat.id();",
    }
    target = targets[how]
    room = Recorder(target, scope)
    await room.join(client)
    # join() returned after the first on_join finished, on_init came first
    assert room.log == ["init", "join"]
    assert room.id == room_id
    assert room.scope == f"@collection:{collection}"  # canonical, as python-thingsdb
    assert room.client is client
    assert client.get_rooms() == (room,)
    await client.query(
        '.chat.emit("msg", 1, "two"); .chat.emit("other", nil);', scope=scope
    )
    await until(lambda: len(room.messages()) == 2)
    assert room.messages() == [("msg", [1, "two"]), ("other", "other", [None])]
    await room.leave()
    await until(lambda: "leave" in room.log)
    assert client.get_rooms() == ()


async def test_events_from_a_second_client_and_peers_only(
    client: Client, second: Client, collection: str
) -> None:
    scope = f"//{collection}"
    room_id = await make_room(client, scope)
    mine = Recorder(room_id, scope)
    theirs = Recorder(room_id, f"@:{collection}")
    await mine.join(client)
    await theirs.join(second)
    await theirs.emit("msg", "from second")
    await theirs.emit("msg", "peers only", peers_only=True)
    await mine.emit("msg", "from first", peers_only=True)
    await until(lambda: len(mine.messages()) == 2 and len(theirs.messages()) == 2)
    assert mine.messages() == [("msg", ["from second"]), ("msg", ["peers only"])]
    assert theirs.messages() == [("msg", ["from second"]), ("msg", ["from first"])]


class Asker(Room):
    """A handler that calls its client (typed by RoomClient) while it runs."""

    def on_init(self) -> None:
        self.answers: list[Any] = []

    @event("ask")
    async def on_ask(self, n: int) -> None:
        self.answers.append(await self.client.query("n * 10;", n=n))
        self.answers.append(await self.client.run("times_ten", n, scope=self.scope))


async def test_handlers_call_the_client(client: Client, collection: str) -> None:
    scope = f"//{collection}"
    room_id = await make_room(client, scope)
    await client.query("new_procedure('times_ten', |n| n * 10);", scope=scope)
    room = Asker(room_id, scope)
    await room.join(client)
    await room.emit("ask", 4)
    await until(lambda: len(room.answers) == 2)
    assert room.answers == [40, 40]
    await room.leave()


async def test_no_join_emits_without_listening(
    client: Client, second: Client, collection: str
) -> None:
    scope = f"//{collection}"
    room_id = await make_room(client, scope)
    listener = Recorder(room_id, scope)
    await listener.join(client)
    sender = Room("chat", scope)
    await sender.no_join(second)
    assert sender.id == room_id
    assert second.get_rooms() == ()
    await sender.emit("msg", 42)
    await until(lambda: listener.messages() == [("msg", [42])])


async def test_delete_room_in_thingsdb(client: Client, collection: str) -> None:
    scope = f"//{collection}"
    room_id = await make_room(client, scope, "doomed")
    room = Recorder(room_id, scope)
    await room.join(client)
    await client.query(".del('doomed');", scope=scope)
    await until(lambda: "delete" in room.log)
    assert client.get_rooms() == ()
    with pytest.raises(LookupError, match=str(room_id)):
        await Recorder(room_id, scope).join(client)


async def test_bad_rooms(client: Client, collection: str) -> None:
    scope = f"//{collection}"
    with pytest.raises(LookupError) as info:
        await Recorder(123456789, scope).join(client)
    assert "123456789" in str(info.value)
    assert f"@collection:{collection}" in str(info.value)
    with pytest.raises(TypeError, match="str"):
        await Recorder("'not an id';", scope).join(client)
    with pytest.raises(LookupError):
        await Recorder("no_such_room", scope).join(client)
    assert client.get_rooms() == ()


async def test_twenty_thousand_events_in_order_beside_a_slow_room(
    client: Client, second: Client, collection: str
) -> None:
    scope = f"//{collection}"
    fast_id = await make_room(client, scope, "fast")
    slow_id = await make_room(client, scope, "slow")
    got: list[int] = []
    slow_calls: list[float] = []

    class Fast(Room):
        @event("n")
        def on_n(self, n: int) -> None:
            got.append(n)

    class Slow(Room):
        @event("n")
        async def on_n(self, n: int) -> None:
            slow_calls.append(n)
            await asyncio.sleep(1.0)

    fast = Fast(fast_id, scope)
    slow = Slow(slow_id, scope)
    await fast.join(client)
    await slow.join(client)
    await second.query(".slow.emit('n', 0); .slow.emit('n', 1);", scope=scope)
    await until(lambda: len(slow_calls) == 1)
    await second.query(
        "range(20000).each(|i| .fast.emit('n', i));", scope=scope, timeout=30
    )
    await until(lambda: len(got) == 20000, timeout=30)
    assert got == list(range(20000))
    # all 20,000 arrived while the slow room was still on its first event
    assert slow_calls == [0]


async def test_rooms_in_two_collections_are_apart(
    client: Client, node: realnode.Node, collection: str
) -> None:
    other = f"{collection}_b"
    node.query("new_collection(name);", name=other)
    try:
        a_id = await make_room(client, f"//{collection}")
        b_id = await make_room(client, f"//{other}")
        a = Recorder(a_id, f"//{collection}")
        b = Recorder(b_id, f"@collection:{other}")
        await a.join(client)
        await b.join(client)
        await client.query(".chat.emit('msg', 'a');", scope=f"//{collection}")
        await client.query(".chat.emit('msg', 'b');", scope=f"//{other}")
        await until(lambda: len(a.messages()) == 1 and len(b.messages()) == 1)
        assert a.messages() == [("msg", ["a"])]
        assert b.messages() == [("msg", ["b"])]
        # each collection numbers its own things: here both rooms have the
        # same id, and the events above still went to the right room
        assert a_id == b_id
        # an id of one collection is no room of the other
        only_a = await make_room(client, f"//{collection}", "only_in_a")
        with pytest.raises(LookupError):
            await Recorder(only_a, f"//{other}").join(client)
        # the same room twice on one client: refused, the first one stays
        with pytest.raises(RuntimeError, match="already joined"):
            await Recorder(b_id, f"//{other}").join(client, wait=1)
        assert set(client.get_rooms()) == {a, b}
    finally:
        node.query("del_collection(name);", name=other)


async def test_async_for(client: Client, second: Client, collection: str) -> None:
    scope = f"//{collection}"
    await make_room(client, scope)
    room = Room("chat", scope)
    await room.join(client)
    seen: list[tuple[str, list[Any]]] = []

    async def consume() -> None:
        async for ev in room:
            seen.append((ev.name, ev.args))
            if ev.name == "last":
                return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.01)
    await second.query(".chat.emit('first', 1); .chat.emit('last');", scope=scope)
    await asyncio.wait_for(task, 10)
    assert seen == [("first", [1]), ("last", [])]


async def test_node_warning_callback(node: realnode.Node) -> None:
    warnings: list[tuple[int, str]] = []
    async with Client() as client:
        client.on_warning = lambda code, msg: warnings.append((code, msg))
        await client.connect(*node.address)
        await client.authenticate("admin", "pass")
        await client.query("log('hello from code');")
        await until(lambda: bool(warnings))
    assert warnings[0][1] == "hello from code"
    assert warnings[0][0] == 2


async def test_rooms_rejoined_after_reconnect(client: Client, collection: str) -> None:
    scope = f"//{collection}"
    room_id = await make_room(client, scope)
    room = Recorder(room_id, scope)
    await room.join(client)
    task = client.reconnect()
    assert task is not None
    await task
    await until(lambda: room.log.count("join") == 2)
    await client.query(".chat.emit('msg', 'again');", scope=scope)
    await until(lambda: ("msg", ["again"]) in room.log)
    assert room.log.count("init") == 1
    assert room.messages() == [("msg", ["again"])]  # once, not twice


async def test_join_wait_leave_and_no_join_edges(
    client: Client, collection: str
) -> None:
    scope = f"//{collection}"
    room_id = await make_room(client, scope, "edges")
    gate = asyncio.Event()

    class Slow(Room):
        async def on_join(self) -> None:
            await gate.wait()

    # wait=0: join() returns before on_join() has finished
    slow = Slow(room_id, scope)
    await asyncio.wait_for(slow.join(client, wait=0), 5)
    await slow.leave()
    # a wait that runs out: a TimeoutError that names the room; the room
    # is joined all the same, and on_join() goes on
    slower = Slow(room_id, scope)
    with pytest.raises(TimeoutError, match="on_join"):
        await slower.join(client, wait=0.2)
    assert slower in client.get_rooms()
    gate.set()
    # the room removed in ThingsDB: leave() says it is gone
    await client.query(".del('edges');", scope=scope)
    with pytest.raises(LookupError):
        await slower.leave()
    # no_join() of a room that does not exist
    with pytest.raises(LookupError):
        await Room(room_id, scope).no_join(client)
    with pytest.raises(TypeError):
        event(42)  # type: ignore[arg-type]


async def test_close_ends_every_room_worker(
    node: realnode.Node, collection: str
) -> None:
    scope = f"//{collection}"
    c = Client()
    await c.connect(*node.address)
    await c.authenticate(node.user, node.password)
    rooms = [Room(await make_room(c, scope, f"w{i}"), scope) for i in range(3)]
    for room in rooms:
        await room.join(c)
    workers = [room.inbox.worker for room in rooms]
    assert all(w is not None and not w.done() for w in workers)
    await c.close_and_wait()
    assert all(w is not None and w.done() for w in workers)
