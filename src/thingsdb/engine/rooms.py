"""The table of a client's joined rooms, one for both clients, free of I/O:
where a room is filed, which room an event is for, which events a room
takes during a move to another node (the bridge), what re-joining after a
reconnect sends and what its answer means, and when a room ends.

The asyncio registry (``room/registry.py``) drives it from the event loop;
the blocking one (``sync/_rooms.py``) holds its lock around every call.
Each does the requests and hands the events to its rooms' inboxes.

Rooms are known by (collection scope, room id): the same id in two
collections is two rooms. Events name their scope as ``@collection:<name>``;
a room joined under another spelling is re-filed by the first event that
names its id (``refiles``). Nodes before 1.8.6 name no scope in their
events: such an event is for the joined room with its id (see
:func:`event_key`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from .. import exceptions
from ..exceptions import NodeVersionError
from ..features import SCOPED_ROOM_EVENTS
from ..protocol import PackageType, encode
from ..telemetry import _switch as telemetry

_log = logging.getLogger("thingsdb.room")

Key = tuple[str, int]

#: the scope an event without one is filed under when no room has its id
NO_SCOPE = "(no scope)"

_ENDS = frozenset({int(PackageType.ROOM_LEAVE), int(PackageType.ROOM_DELETE)})


def check_free(previous: object, room: object, scope: str, room_id: int) -> None:
    """RuntimeError when another room object (``previous``) has joined this
    room on the client: the node sends no second ROOM_JOIN for a joined
    room, and one room's events cannot go to two handlers in order."""
    if previous is not None and previous is not room:
        raise RuntimeError(
            f"room {room_id} in {scope} is already joined by {previous!r} "
            "on this client; leave it first"
        )


def event_key(rooms: Mapping[Key, object], data: Any) -> Key | None:
    """The key of the room an event is for, or None for an event to drop
    (logged here).

    Nodes before 1.8.6 send ``{'id': 3, ...}`` without ``scope``: the event
    is for the joined room with that id. Room ids are counted per
    collection, so two joined rooms may share it; such an event cannot be
    told apart, and goes to neither (a warning says so; joining the second
    one on such a node is refused, see :func:`check_distinct`).
    """
    try:
        room_id = data["id"]
        scope = data.get("scope")
    except (TypeError, KeyError, AttributeError):
        _log.warning("ignored a malformed room event: %r", data)
        return None
    if scope is not None:
        return scope, room_id
    found = [key for key in rooms if key[1] == room_id]
    if len(found) > 1:
        _log.warning(
            "ignored an event for room %s: the node names no collection "
            "(ThingsDB before 1.8.6) and rooms of that id are joined in %s",
            room_id,
            " and ".join(key[0] for key in found),
        )
        return None
    return found[0] if found else (NO_SCOPE, room_id)


def check_distinct(
    rooms: Mapping[Key, object], scope: str, room_id: int, scoped: bool
) -> None:
    """On a node whose events name no collection (``scoped`` False), a room
    cannot be joined while a room of the same id in another collection is:
    their events could not be told apart. NodeVersionError."""
    if scoped:
        return
    for key in rooms:
        if key[1] == room_id and key[0] != scope:
            raise NodeVersionError(
                f"room {room_id} in {scope} cannot be joined while room "
                f"{room_id} in {key[0]} is: this node names no collection in "
                f"its room events, and telling two rooms of one id apart needs "
                f"ThingsDB {SCOPED_ROOM_EVENTS.since} or newer",
                feature=SCOPED_ROOM_EVENTS.name,
                needs=SCOPED_ROOM_EVENTS.since,
                version=None,
            )


def not_found(room_id: int, scope: str) -> exceptions.LookupError:
    """What a JOIN or LEAVE answered with no room says."""
    return exceptions.LookupError(
        errdata={
            "error_code": -54,
            "error_msg": f"no room with id {room_id} in scope {scope}",
        }
    )


def found(answer: Any) -> bool:
    """Whether a JOIN or LEAVE of one room found it."""
    return bool(answer) and answer[0] is not None


def rooms_payload(scope: str, *ids: int) -> bytes:
    """The payload of a JOIN or LEAVE."""
    return encode((scope, *ids))


#: the errors of a re-join that end the rooms of its scope, rather than
#: the reconnect attempt (the rooms, or their collection, are gone)
REJOIN_GONE = (exceptions.LookupError, exceptions.ForbiddenError)

M = TypeVar("M")

#: one JOIN of a re-join: the scope and its rooms
Batch = tuple[str, list[tuple[Key, M]]]


class RoomTable(Generic[M]):
    """The joined rooms of one client; see the module docstring."""

    __slots__ = ("_bridged", "_refiles", "rooms", "scoped")

    def __init__(self, *, refiles: bool) -> None:
        #: the joined rooms, by key
        self.rooms: dict[Key, M] = {}
        # During a move to another node: the rooms whose events still come
        # from the previous connection, as their JOIN on the new one is not
        # answered yet.
        self._bridged: set[M] = set()
        self._refiles = refiles
        #: the last room event named its scope (False: a node before 1.8.6)
        self.scoped = True

    def file(self, room: M, scope: str, room_id: int) -> Key:
        """Before a JOIN goes out: an event that overtakes the answer is
        kept for the room, not dropped. RuntimeError or NodeVersionError
        when the room cannot be joined on this client."""
        key = (scope, room_id)
        check_free(self.rooms.get(key), room, scope, room_id)
        check_distinct(self.rooms, scope, room_id, self.scoped)
        self.rooms[key] = room
        return key

    def forget(self, key: Key, room: M) -> None:
        if self.rooms.get(key) is room:
            del self.rooms[key]

    def route(self, tp: int, data: Any, bridged: bool) -> tuple[M, bool] | None:
        """The room one event goes to, and whether the event ends it (the
        room is forgotten then); None for an event to drop.

        ``bridged``: the event came from the previous connection during a
        move, and goes only to a room not joined again on the new one yet.
        """
        try:  # the common case first: a node from 1.8.6 on names the scope
            key: Key | None = (data["scope"], data["id"])
        except (TypeError, KeyError, IndexError):
            key = None
        if key is None or key[0] is None:
            key = event_key(self.rooms, data)
            if key is None:
                return None
            self.scoped = isinstance(data, dict) and "scope" in data
        else:
            self.scoped = True
        room = self.rooms.get(key)
        if room is None and self._refiles:
            room = self._refile(key)
        if room is None:
            _log.debug(
                "event %#04x for room %s in %s, which is not joined",
                tp,
                key[1],
                key[0],
            )
            return None
        if bridged and room not in self._bridged:
            return None  # the new connection delivers this room's events now
        ends = tp in _ENDS
        if ends:
            del self.rooms[key]
            self._bridged.discard(room)
        if telemetry.SWITCH.on is not None:
            telemetry.room_event(key[0])
        return room, ends

    def rejoin_batches(
        self, scope_of: Callable[[Key, M], str] | None = None
    ) -> list[Batch[M]]:
        """A reconnect begins re-joining: one JOIN per scope (as
        ``scope_of`` spells it; by default the key's). Until the JOIN of its
        scope is answered, a room takes its events from the previous
        connection, if that is still open (the bridge)."""
        by_scope: dict[str, list[tuple[Key, M]]] = {}
        for key, room in self.rooms.items():
            scope = key[0] if scope_of is None else scope_of(key, room)
            by_scope.setdefault(scope, []).append((key, room))
        self._bridged = set(self.rooms.values())
        return list(by_scope.items())

    def rejoined(self, batch: Batch[M], answer: Any) -> list[tuple[Key, M]]:
        """The JOIN of ``batch`` was answered: its rooms take events from
        the new connection only.
        Returns the rooms that no longer exist, forgotten here; each ends as
        if deleted."""
        entries = batch[1]
        gone: list[tuple[Key, M]] = []
        for _, room in entries:
            self._bridged.discard(room)
        for (key, room), found_id in zip(entries, answer or (), strict=False):
            if found_id is None and self.rooms.get(key) is room:
                _log.warning("%r no longer exists after the reconnect", room)
                del self.rooms[key]
                gone.append((key, room))
        return gone

    def rejoin_failed(self, batch: Batch[M], exc: Exception) -> list[tuple[Key, M]]:
        """The JOIN of ``batch`` failed with one of :data:`REJOIN_GONE`: its
        rooms (or their collection) are gone; see :meth:`rejoined`."""
        _log.warning("cannot join the rooms of %s again: %s", batch[0], exc)
        return self.rejoined(batch, [None] * len(batch[1]))

    def end_bridge(self) -> None:
        """The move is over: events come from the connection in use only."""
        self._bridged = set()

    def clear(self) -> list[M]:
        """Forget every room (close); returns them."""
        rooms = list(self.rooms.values())
        self.rooms.clear()
        self._bridged = set()
        return rooms

    def _refile(self, key: Key) -> M | None:
        matches = [k for k in self.rooms if k[1] == key[1]]
        if len(matches) != 1:
            return None
        room = self.rooms.pop(matches[0])
        self.rooms[key] = room
        return room


def deleted_event(key: Key) -> dict[str, Any]:
    """The ROOM_DELETE a room that is gone after a reconnect gets."""
    return {"scope": key[0], "id": key[1]}
