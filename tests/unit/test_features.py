"""What each release can do, without a node: the errors of older nodes
read back as features, the per-connection memory, and how room events
without a scope (nodes before 1.8.6) find their room."""

from __future__ import annotations

import logging

import pytest

from thingsdb import exceptions as tex
from thingsdb.exceptions import NodeVersionError
from thingsdb.features import (
    COMMIT_HISTORY,
    PEERS_ONLY_EMIT,
    ROOM_NAMES,
    WHITELISTS,
    PerConnection,
    missing_feature,
    too_old,
)
from thingsdb.room.registry import NO_SCOPE, check_distinct, event_key


def node_error(cls: type[tex.ThingsDBError], code: int, msg: str) -> tex.ThingsDBError:
    return cls(errdata={"error_code": code, "error_msg": msg})


@pytest.mark.parametrize(
    ("msg", "feature"),
    [
        ("function `set_history` is undefined", COMMIT_HISTORY),
        ("function `history` is undefined", COMMIT_HISTORY),
        ("function `commit` is undefined", COMMIT_HISTORY),
        ("function `whitelist_add` is undefined", WHITELISTS),
        ("type `room` has no function `set_name`", ROOM_NAMES),
        ("function `my_own` is undefined", None),
        ("collection `x` not found", None),
    ],
)
def test_an_older_nodes_lookup_error_names_the_feature(
    msg: str, feature: object
) -> None:
    assert missing_feature(node_error(tex.LookupError, -54, msg)) is feature


def test_room_names_on_1_6_and_other_errors() -> None:
    no_names = node_error(tex.TypeError, -61, "cannot convert type `str` to `room`")
    assert missing_feature(no_names) is ROOM_NAMES
    other = node_error(tex.TypeError, -61, "cannot convert type `int` to `str`")
    assert missing_feature(other) is None
    assert missing_feature(ValueError("function `history` is undefined")) is None


def test_the_error_names_both_versions() -> None:
    err = too_old(PEERS_ONLY_EMIT, "1.7.6", "127.0.0.1:9200")
    assert isinstance(err, NodeVersionError)
    assert isinstance(err, RuntimeError)
    assert str(err) == (
        "emit(peers_only=True) needs ThingsDB 1.8.0 or newer; "
        "the node at 127.0.0.1:9200 runs ThingsDB 1.7.6"
    )
    assert (err.feature, err.needs, err.version) == (
        "emit(peers_only=True)",
        "1.8.0",
        "1.7.6",
    )
    unknown = too_old(COMMIT_HISTORY, None, None)
    assert str(unknown) == (
        "commit history needs ThingsDB 1.8.0 or newer; "
        "the node is older (reading its version needs QUERY on @node)"
    )


def test_per_connection_memory() -> None:
    memory: PerConnection[bool] = PerConnection()
    first, second = object(), object()
    assert memory.get(first) == (False, None)
    assert memory.put(first, False) is False
    assert memory.get(first) == (True, False)
    assert memory.get(second) == (False, None)  # another node: ask again
    memory.put(second, True)
    assert memory.get(second) == (True, True)
    assert memory.get(first) == (False, None)
    memory.put(None, True)  # no connection: nothing learned
    assert memory.get(None) == (False, None)


def test_events_without_a_scope_find_their_room_by_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rooms = {("@collection:a", 3): "room a3", ("@collection:b", 4): "room b4"}
    assert event_key(rooms, {"id": 3, "event": "hi", "args": []}) == (
        "@collection:a",
        3,
    )
    assert event_key(rooms, {"scope": "@collection:b", "id": 3}) == (
        "@collection:b",
        3,
    )
    assert event_key(rooms, {"id": 9}) == (NO_SCOPE, 9)  # no such room joined
    with caplog.at_level(logging.WARNING, "thingsdb.room"):
        assert event_key(rooms, ["not", "a", "map"]) is None
        assert event_key(rooms, {"scope": "@collection:a"}) is None
    assert caplog.text.count("malformed") == 2


def test_two_rooms_of_one_id_without_scopes(caplog: pytest.LogCaptureFixture) -> None:
    rooms = {("@collection:a", 3): "room a3", ("@collection:b", 3): "room b3"}
    with caplog.at_level(logging.WARNING, "thingsdb.room"):
        assert event_key(rooms, {"id": 3, "event": "hi", "args": []}) is None
    assert "@collection:a and @collection:b" in caplog.text
    # on such a node the second is refused at the join; with scopes, fine
    one = {("@collection:a", 3): "room a3"}
    with pytest.raises(NodeVersionError, match=r"needs ThingsDB 1\.8\.6"):
        check_distinct(one, "@collection:b", 3, scoped=False)
    check_distinct(one, "@collection:b", 3, scoped=True)
    check_distinct(one, "@collection:a", 3, scoped=False)  # the same room
    check_distinct(one, "@collection:b", 4, scoped=False)
