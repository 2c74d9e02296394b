"""Re-joining rooms after a reconnect when it goes wrong, the seam of a
planned move, and credentials that stop working: timing and answers a real
node gives only by chance."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from fakenode import FakeNode, NodeConnection, join_then_event, query_code
from thingsdb.client import Client
from thingsdb.engine.failover import MOVE_SETTLE_LIMIT
from thingsdb.exceptions import AuthError, NotConnectedError
from thingsdb.protocol import Package, PackageType, canonical_scope
from thingsdb.room import Room, event


@pytest.fixture
async def node() -> AsyncIterator[FakeNode]:
    async with FakeNode() as fake:
        yield fake


class Log(Room):
    def __init__(self, room: int, scope: str) -> None:
        super().__init__(room, scope)
        self.log: list[str] = []

    async def on_join(self) -> None:
        self.log.append("join")

    def on_delete(self) -> None:
        self.log.append("delete")


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met"
        await asyncio.sleep(0.005)


def fast_client() -> Client:
    return Client(reconnect_delay=0.01, reconnect_max_delay=0.05, connect_timeout=2)


async def test_a_node_not_ready_for_joins_is_passed_by() -> None:
    async with FakeNode() as a, FakeNode() as b:
        client = fast_client()
        await client.connect_pool(
            [("127.0.0.1", a.port), ("127.0.0.1", b.port)], "admin", "pass"
        )
        try:
            in_use, other = (a, b) if a.connections else (b, a)
            in_use.handler = other.handler = join_then_event
            room = Log(5, "//stuff")
            await room.join(client)

            def not_ready(conn: NodeConnection, pkg: Package) -> None:
                if pkg.type == PackageType.JOIN:  # as a node that synchronizes
                    conn.answer_error(
                        pkg, -51, "node `1` is not ready to handle join requests"
                    )
                else:
                    conn.answer_default(pkg)

            other.handler = not_ready
            in_use.last_connection.cut()
            # the reconnect goes to the other node, whose JOIN fails, and on
            # to the first node again: the room is joined there
            await until(lambda: room.log.count("join") == 2)
            assert len(in_use.connections) == 2
            assert other.requests(PackageType.JOIN), "the other node was not tried"
            assert await client.query("alive", timeout=5) == "alive"
            assert client.connection_info() == f"127.0.0.1:{in_use.port}"
        finally:
            await client.close_and_wait()


async def test_a_collection_gone_does_not_stop_the_others(node: FakeNode) -> None:
    reconnected = False

    def collection_a_gone(conn: NodeConnection, pkg: Package) -> None:
        joins_a = pkg.type == PackageType.JOIN and pkg.data[0] == "@collection:a"
        if reconnected and joins_a:
            conn.answer_error(pkg, -54, "collection `a` not found")
        else:
            join_then_event(conn, pkg)

    node.handler = collection_a_gone
    client = fast_client()
    await client.connect("127.0.0.1", node.port)
    await client.authenticate("admin", "pass")
    try:
        in_a, in_b = Log(1, "//a"), Log(2, "//b")
        await in_a.join(client)
        await in_b.join(client)
        reconnected = True
        node.last_connection.cut()
        await until(lambda: in_b.log.count("join") == 2 and "delete" in in_a.log)
        assert client.get_rooms() == (in_b,)
    finally:
        await client.close_and_wait()


async def test_a_cut_while_rejoining_reconnects_by_itself(node: FakeNode) -> None:
    # a client that only listens makes no request that would start a
    # reconnect: the client must go on by itself
    def cut_second_join(conn: NodeConnection, pkg: Package) -> None:
        second = len(node.connections) > 1 and conn is node.connections[1]
        if pkg.type == PackageType.JOIN and second:
            conn.cut()
        else:
            join_then_event(conn, pkg)

    node.handler = cut_second_join
    client = fast_client()
    await client.connect("127.0.0.1", node.port)
    await client.authenticate("admin", "pass")
    try:
        room = Log(3, "//stuff")
        await room.join(client)
        node.last_connection.cut()
        await until(lambda: room.log.count("join") == 2)
        assert len(node.connections) == 3
        assert client.is_connected()
    finally:
        await client.close_and_wait()


def refuse_auth(conn: NodeConnection, pkg: Package) -> None:
    if pkg.type == PackageType.AUTH:
        conn.answer_error(pkg, -56, "invalid username or password")
    else:
        conn.answer_default(pkg)


async def test_connect_pool_with_wrong_credentials(node: FakeNode) -> None:
    node.handler = refuse_auth
    client = fast_client()
    with pytest.raises(AuthError, match="invalid username"):
        await asyncio.wait_for(
            client.connect_pool([("127.0.0.1", node.port)], "admin", "nope"), 5
        )
    assert len(node.requests(PackageType.AUTH)) == 1  # not retried
    assert not client.is_connected()
    with pytest.raises(NotConnectedError):
        await client.query("1")
    await client.close_and_wait()


async def test_credentials_refused_on_reconnect(node: FakeNode) -> None:
    client = fast_client()
    await client.connect_pool([("127.0.0.1", node.port)], "admin", "pass")
    try:
        node.handler = refuse_auth  # e.g. the password was changed meanwhile
        node.last_connection.cut()
        await until(lambda: not client.is_connected())
        waiting: asyncio.Future[Any] = asyncio.ensure_future(client.query("1"))
        with pytest.raises(NotConnectedError, match="invalid username") as info:
            await asyncio.wait_for(waiting, 5)
        assert isinstance(info.value.__cause__, AuthError)
    finally:
        await client.close_and_wait()


# -- a planned move: the old connection's events fill the seam -------------------


class Listener(Log):
    @event("msg")
    def on_msg(self, text: str) -> None:
        self.log.append(text)


def msg(scope: str, room_id: int, text: str) -> dict[str, Any]:
    return {
        "scope": canonical_scope(scope),
        "id": room_id,
        "event": "msg",
        "args": [text],
    }


async def test_a_planned_move_takes_the_old_nodes_events_until_the_rejoin(
    node: FakeNode,
) -> None:
    def handler(conn: NodeConnection, pkg: Package) -> None:
        second = len(node.connections) > 1 and conn is node.connections[1]
        if pkg.type == PackageType.QUERY and query_code(pkg) == "slow":
            conn.hold(pkg)  # keeps the old connection busy past the move
        elif second and pkg.type == PackageType.JOIN and pkg.data[0] == "@collection:b":
            conn.hold(pkg)  # the new node is slow to join //b
        else:
            join_then_event(conn, pkg)

    node.handler = handler
    client = fast_client()
    await client.connect_pool([("127.0.0.1", node.port)], "admin", "pass")
    try:
        in_a, in_b = Listener(1, "//a"), Listener(2, "//b")
        await in_a.join(client)
        await in_b.join(client)
        old = node.last_connection
        slow = asyncio.ensure_future(client.query("slow", timeout=20))
        await node.wait_for(lambda: bool(old.held), what="the slow query")
        old.send_node_status("SHUTTING_DOWN")
        await node.wait_for_connections(2)
        new = node.connections[1]
        # (after MOVE_SETTLE_LIMIT: the old connection owes the slow query)
        await node.wait_for(
            lambda: len(new.requests(PackageType.JOIN)) == 2,
            timeout=MOVE_SETTLE_LIMIT + 5,
            what="both JOINs",
        )
        await until(lambda: in_a.log.count("join") == 2)  # //a joined again
        # //a takes its events from the new node now; //b, still waiting for
        # its JOIN there, from the old one
        old.send_event(PackageType.ROOM_EMIT, msg("//a", 1, "old a: double"))
        old.send_event(PackageType.ROOM_EMIT, msg("//b", 2, "old b1"))
        new.send_event(PackageType.ROOM_EMIT, msg("//a", 1, "new a1"))
        await until(lambda: "new a1" in in_a.log and "old b1" in in_b.log)
        new.release_held(answer=join_then_event)  # //b joined again
        await until(lambda: in_b.log.count("join") == 2)
        old.send_event(PackageType.ROOM_EMIT, msg("//b", 2, "old b: double"))
        new.send_event(PackageType.ROOM_EMIT, msg("//b", 2, "new b2"))
        await until(lambda: "new b2" in in_b.log)
        assert in_a.log == ["join", "join", "new a1"]
        assert in_b.log == ["join", "old b1", "join", "new b2"]
        # the old connection closes once its last answer is in
        assert old.is_open
        old.release_held()
        assert await slow == "slow"
        await asyncio.wait_for(old.closed, 5)
        assert client.connection_info() == f"127.0.0.1:{node.port}"
    finally:
        await client.close_and_wait()


async def test_an_idle_old_connection_stays_open_until_the_rejoin(
    node: FakeNode,
) -> None:
    # with no answer owed, the old connection would close at once; the
    # rooms keep it open until they are joined on the new one
    def handler(conn: NodeConnection, pkg: Package) -> None:
        second = len(node.connections) > 1 and conn is node.connections[1]
        if second and pkg.type == PackageType.JOIN:
            conn.hold(pkg)
        else:
            join_then_event(conn, pkg)

    node.handler = handler
    client = fast_client()
    await client.connect_pool([("127.0.0.1", node.port)], "admin", "pass")
    try:
        room = Listener(7, "//stuff")
        await room.join(client)
        old = node.last_connection
        old.send_node_status("SHUTTING_DOWN")
        await node.wait_for_connections(2)
        new = node.connections[1]
        await node.wait_for(lambda: bool(new.held), what="the JOIN")
        old.send_event(PackageType.ROOM_EMIT, msg("//stuff", 7, "in the seam"))
        await until(lambda: "in the seam" in room.log)
        assert old.is_open
        new.release_held(answer=join_then_event)
        await asyncio.wait_for(old.closed, 5)
        new.send_event(PackageType.ROOM_EMIT, msg("//stuff", 7, "after"))
        await until(lambda: "after" in room.log)
        assert room.log == ["join", "in the seam", "join", "after"]
    finally:
        await client.close_and_wait()
