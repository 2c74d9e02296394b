"""The blocking client's API against each release, over TCP and WebSocket:
values, errors, procedures, rooms (hooks, @event, events(), by name,
peers-only emit, rejoin after a reconnect, leave, delete) and helpers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from thingsdb import exceptions as tex
from thingsdb.exceptions import CustomError, NodeVersionError
from thingsdb.sync import Client, Room
from thingsdb.testing import Node

from .conftest import address
from .test_api_async import VALUES

pytestmark = pytest.mark.node


def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def client(tier_node: Node, transport: str, tier_collection: str) -> Iterator[Client]:
    with Client() as client:
        client.connect(*address(tier_node, transport))
        client.authenticate("admin", "pass", timeout=10)
        client.set_default_scope(f"//{tier_collection}")
        yield client


@pytest.fixture
def second(tier_node: Node, transport: str) -> Iterator[Client]:
    with Client() as client:
        client.connect(*address(tier_node, transport))
        client.authenticate("admin", "pass", timeout=10)
        yield client


class Recorder(Room):
    def on_init(self) -> None:
        self.log: list[Any] = ["init"]

    def on_join(self) -> None:
        self.log.append("join")

    def on_leave(self) -> None:
        self.log.append("leave")

    def on_delete(self) -> None:
        self.log.append("delete")

    @Room.event("msg")
    def on_msg(self, *args: Any) -> None:
        self.log.append(("msg", list(args)))


def test_values_errors_procedures(client: Client, tier_node: Node) -> None:
    for value in VALUES:
        assert client.query("v;", v=value) == value
    with pytest.raises(tex.LookupError):
        client.query("nope();")
    with pytest.raises(CustomError) as custom:
        client.query("raise(err(-100, 'mine'));")
    assert custom.value.error_code == -100
    client.query("new_procedure('add', |a, b| a + b);")
    assert client.run("add", 1, 2) == 3
    assert client.run("add", a=2, b=3) == 5
    assert client.idempotent.query("6 * 7;") == 42
    assert client.node_version() == tier_node.version
    assert client.has_user("admin")


def test_rooms(
    client: Client, second: Client, version: tuple[int, ...], tier_collection: str
) -> None:
    scope = f"//{tier_collection}"
    room_id = client.query(".r = room(); .r.id();")
    room = Recorder(room_id, scope)
    room.join(client, wait=10)
    assert room.log == ["init", "join"]

    client.query(".r.emit('msg', 1, 'a');")
    room.emit("msg", 2)
    until(lambda: len(room.log) == 4)
    assert room.log[2:] == [("msg", [1, "a"]), ("msg", [2])]

    listener = Room(room_id, scope)
    listener.join(second, wait=10)
    events = listener.events(timeout=10)
    room.emit("other", "x")
    if version >= (1, 8, 0):
        room.emit("msg", "peers", peers_only=True)
    else:
        started = time.monotonic()
        with pytest.raises(NodeVersionError, match=r"1\.8\.0.*runs ThingsDB 1\."):
            room.emit("msg", "x", peers_only=True)
        assert time.monotonic() - started < 5
        room.emit("msg", "peers")
    first, second_event = next(events), next(events)
    assert (first.name, first.args) == ("other", ["x"])
    assert (second_event.name, second_event.args) == ("msg", ["peers"])

    client.query(".named = room();")
    if version >= (1, 7, 0):
        client.query(".named.set_name('lobby');")
        by_name = Recorder("lobby", scope)
        by_name.join(client, wait=10)
        assert by_name.id == client.query(".named.id();")
        by_name.leave()
    else:
        with pytest.raises(NodeVersionError, match=r"rooms by name needs.*1\.7\.0"):
            Recorder("lobby", scope).join(client, wait=5)

    client.reconnect()
    client.query(".r.emit('msg', 'after');")
    until(lambda: ("msg", ["after"]) in room.log)

    room.leave()
    until(lambda: room.log[-1] == "leave")
    doomed = Recorder(client.query(".named.id();"), scope)
    doomed.join(client, wait=10)
    client.query(".del('named');")
    until(lambda: doomed.log[-1] == "delete")
    listener.leave()


def test_helpers_of_newer_releases(
    client: Client, version: tuple[int, ...], tier_collection: str
) -> None:
    scope = f"//{tier_collection}"
    if version >= (1, 8, 0):
        client.set_history(scope, True)
        client.set_history(scope, False)
    else:
        with pytest.raises(NodeVersionError, match=r"commit history needs.*1\.8\.0"):
            client.set_history(scope, True)


def test_peers_only_emit_without_access_to_the_node_scope(
    tier_node: Node,
    transport: str,
    second: Client,
    version: tuple[int, ...],
    tier_collection: str,
) -> None:
    scope = f"//{tier_collection}"
    tier_node.query(
        "new_user('joiner'); set_password('joiner', 'pw'); "
        "grant(c, 'joiner', QUERY|JOIN);",
        c=scope,
        scope="@t",
    )
    try:
        with Client() as joiner:
            joiner.connect(*address(tier_node, transport))
            joiner.authenticate("joiner", "pw")
            room_id = tier_node.query(".r = room(); .r.id();", scope=scope)
            room = Room(room_id, scope)
            room.join(joiner, wait=10)
            listener = Room(room_id, scope)
            listener.join(second, wait=10)
            events = listener.events(timeout=10)
            for _ in range(2):
                started = time.monotonic()
                if version >= (1, 8, 0):
                    room.emit("hi", peers_only=True)
                else:
                    with pytest.raises(NodeVersionError, match=r"1\.8\.0.* is older"):
                        room.emit("hi", peers_only=True)
                assert time.monotonic() - started < 5
            room.emit("bye")
            expect = ["hi", "hi", "bye"] if version >= (1, 8, 0) else ["bye"]
            assert [next(events).name for _ in expect] == expect
    finally:
        tier_node.query("del_user('joiner');", scope="@t")
