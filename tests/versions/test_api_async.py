"""The asyncio client's API against each release, over TCP and WebSocket:
values, errors, procedures, rooms (hooks, @event, async for, by name,
peers-only emit, rejoin after a reconnect, leave, delete) and helpers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from thingsdb import exceptions as tex
from thingsdb.client import Client
from thingsdb.exceptions import CustomError, NodeVersionError
from thingsdb.room import Room, event
from thingsdb.testing import Node

from .conftest import address

pytestmark = pytest.mark.node

VALUES: list[Any] = [
    0,
    -1,
    2**63 - 1,
    -(2**63),
    1.5,
    True,
    False,
    None,
    "",
    "héllo",
    b"\x00\xff",
    [1, "two", [3.0, None]],
]


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.fixture
async def client(
    tier_node: Node, transport: str, tier_collection: str
) -> AsyncIterator[Client]:
    token = tier_node.query("new_token('admin');", scope="@t")
    client = Client()
    await client.connect(*address(tier_node, transport))
    await client.authenticate(token, timeout=10)
    client.set_default_scope(f"//{tier_collection}")
    yield client
    await client.close_and_wait()


@pytest.fixture
async def second(tier_node: Node, transport: str) -> AsyncIterator[Client]:
    client = Client()
    await client.connect(*address(tier_node, transport))
    await client.authenticate("admin", "pass", timeout=10)
    yield client
    await client.close_and_wait()


class Recorder(Room):
    def on_init(self) -> None:
        self.log: list[Any] = ["init"]

    async def on_join(self) -> None:
        self.log.append("join")

    def on_leave(self) -> None:
        self.log.append("leave")

    def on_delete(self) -> None:
        self.log.append("delete")

    @event("msg")
    def on_msg(self, *args: Any) -> None:
        self.log.append(("msg", list(args)))


async def test_values_errors_procedures(client: Client, tier_node: Node) -> None:
    for value in VALUES:
        assert await client.query("v;", v=value) == value
    assert await client.query("{a: 1}.a;") == 1
    assert await client.query("'a' + b;", b="c") == "ac"
    with pytest.raises(tex.LookupError) as lookup:
        await client.query("nope();")
    assert lookup.value.error_code == -54
    with pytest.raises(tex.SyntaxError):
        await client.query("1 +;")
    with pytest.raises(tex.ZeroDivisionError):
        await client.query("1 / 0;")
    with pytest.raises(tex.AssertionError):
        await client.query("assert(false);")
    with pytest.raises(CustomError) as custom:
        await client.query("raise(err(-100, 'mine'));")
    assert custom.value.error_code == -100
    await client.query("new_procedure('add', |a, b| a + b);")
    assert await client.run("add", 1, 2) == 3
    assert await client.run("add", a=2, b=3) == 5
    assert await client.idempotent.query("6 * 7;") == 42
    assert await client.node_version() == tier_node.version
    info = await client.collections_info()
    assert any(c["name"] == client.get_default_scope()[2:] for c in info)
    assert await client.has_user("admin")


async def test_rooms(
    client: Client, second: Client, version: tuple[int, ...], tier_collection: str
) -> None:
    scope = f"//{tier_collection}"
    room_id = await client.query(".r = room(); .r.id();")
    room = Recorder(room_id, scope)
    await room.join(client, wait=10)
    assert room.log == ["init", "join"]

    # events from code and from a client, to the @event handler
    await client.query(".r.emit('msg', 1, 'a');")
    await room.emit("msg", 2)
    await until(lambda: len(room.log) == 4)
    assert room.log[2:] == [("msg", [1, "a"]), ("msg", [2])]

    # async for, on another client's Room of the same room
    listener = Room(room_id, scope)
    await listener.join(second, wait=10)
    seen: list[Any] = []

    async def consume() -> None:
        async for ev in listener:
            seen.append((ev.name, ev.args))
            if len(seen) == 2:
                return

    consumer = asyncio.create_task(consume())
    await room.emit("other", "x")

    # peers-only: the others get it, this client not; a node before 1.8.0
    # does not know it (it would never answer): refused at the call
    if version >= (1, 8, 0):
        await room.emit("msg", "peers", peers_only=True)
        await second._emit(room_id, "msg", "peers 2", scope=scope, peers_only=True)
    else:
        with pytest.raises(NodeVersionError, match=r"1\.8\.0.*runs ThingsDB 1\."):
            await asyncio.wait_for(room.emit("msg", "x", peers_only=True), 5)
        with pytest.raises(NodeVersionError):
            await asyncio.wait_for(
                second._emit(room_id, "msg", "x", scope=scope, peers_only=True), 5
            )
        await room.emit("msg", "peers")  # as if: the test goes on the same
    await asyncio.wait_for(consumer, 10)
    assert seen == [("other", ["x"]), ("msg", ["peers"])]

    # by name: 1.7.0 and newer
    await client.query(".named = room();")
    if version >= (1, 7, 0):
        await client.query(".named.set_name('lobby');")
        by_name = Recorder("lobby", scope)
        await by_name.join(client, wait=10)
        assert by_name.id == await client.query(".named.id();")
        await by_name.leave()
    else:
        with pytest.raises(NodeVersionError, match=r"rooms by name needs.*1\.7\.0"):
            await Recorder("lobby", scope).join(client, wait=5)

    # rejoined after a reconnect: events still arrive
    task = client.reconnect()
    assert task is not None
    await task
    await client.query(".r.emit('msg', 'after');")
    await until(lambda: ("msg", ["after"]) in room.log)

    # leave, then delete another joined room
    await room.leave()
    await until(lambda: room.log[-1] == "leave")
    doomed = Recorder(await client.query(".named.id();"), scope)
    await doomed.join(client, wait=10)
    await client.query(".del('named');")
    await until(lambda: doomed.log[-1] == "delete")
    await listener.leave()


async def test_same_room_id_in_two_collections(
    client: Client, tier_node: Node, version: tuple[int, ...], tier_collection: str
) -> None:
    other = f"{tier_collection}_b"
    tier_node.query("new_collection(name);", name=other)
    try:
        a_id = await client.query(".r = room(); .r.id();")
        b_id = await client.query(".r = room(); .r.id();", scope=f"//{other}")
        assert a_id == b_id  # ids are counted per collection
        a = Recorder(a_id, f"//{tier_collection}")
        b = Recorder(b_id, f"//{other}")
        await a.join(client, wait=10)
        if version >= (1, 8, 6):
            await b.join(client, wait=10)
            await client.query(".r.emit('msg', 'b');", scope=f"//{other}")
            await until(lambda: b.log[-1] == ("msg", ["b"]))
            assert a.log == ["init", "join"]
        else:
            # events name no collection: the two could not be told apart
            with pytest.raises(NodeVersionError, match=r"1\.8\.6"):
                await b.join(client, wait=5)
            await client.query(".r.emit('msg', 'a');")
            await until(lambda: a.log[-1] == ("msg", ["a"]))
    finally:
        tier_node.query("del_collection(name);", name=other)


async def test_helpers_of_newer_releases(
    client: Client, version: tuple[int, ...], tier_collection: str
) -> None:
    scope = f"//{tier_collection}"
    await client.new_user("tier_user")
    try:
        if version >= (1, 7, 0):
            await client.whitelist_add("tier_user", "rooms", "lobby")
            await client.whitelist_del("tier_user", "rooms")
        else:
            with pytest.raises(NodeVersionError, match=r"whitelists needs.*1\.7\.0"):
                await client.whitelist_add("tier_user", "rooms", "lobby")
    finally:
        await client.del_user("tier_user")
    if version >= (1, 8, 0):
        await client.set_history(scope, True)
        await client.query(".x = 1; commit('tier');")
        assert await client.history(scope=scope, last=5) != []
        await client.set_history(scope, False)
    else:
        with pytest.raises(NodeVersionError, match=r"commit history needs.*1\.8\.0"):
            await client.set_history(scope, True)
        with pytest.raises(NodeVersionError):
            await client.history(scope=scope, last=5)


async def test_peers_only_emit_without_access_to_the_node_scope(
    tier_node: Node,
    transport: str,
    second: Client,
    version: tuple[int, ...],
    tier_collection: str,
) -> None:
    """A user who may not read the node's version: the first peers-only emit
    on the connection tells whether the node takes it (never a hang)."""
    scope = f"//{tier_collection}"
    tier_node.query(
        "new_user('joiner'); set_password('joiner', 'pw'); "
        "grant(c, 'joiner', QUERY|JOIN);",
        c=scope,
        scope="@t",
    )
    joiner = Client()
    try:
        await joiner.connect(*address(tier_node, transport))
        await joiner.authenticate("joiner", "pw")
        room_id = tier_node.query(".r = room(); .r.id();", scope=scope)
        room = Room(room_id, scope)
        await room.join(joiner, wait=10)
        listener = Room(room_id, scope)
        await listener.join(second, wait=10)
        for _ in range(2):  # the first asks the node; the second knows
            if version >= (1, 8, 0):
                await asyncio.wait_for(room.emit("hi", peers_only=True), 5)
            else:
                with pytest.raises(NodeVersionError, match=r"1\.8\.0.* is older"):
                    await asyncio.wait_for(room.emit("hi", peers_only=True), 5)
        await room.emit("bye")
        got = [
            ev.name async for ev in _first(listener, 3 if version >= (1, 8, 0) else 1)
        ]
        assert got == (["hi", "hi", "bye"] if version >= (1, 8, 0) else ["bye"])
    finally:
        await joiner.close_and_wait()
        tier_node.query("del_user('joiner');", scope="@t")


async def _first(room: Room, n: int) -> AsyncIterator[Any]:
    async for ev in room:
        yield ev
        n -= 1
        if not n:
            return
