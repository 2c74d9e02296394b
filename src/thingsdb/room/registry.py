"""A client's joined rooms: join/leave/emit requests and event routing.

Each client has one registry; rooms reach it through their client
(:class:`RoomClient`), and it reaches a room through the room's
:class:`~thingsdb.room.inbox.Inbox` (:class:`Member`). Neither touches the
other's private state.

Rooms are known by (collection scope, room id): the same id in two
collections is two rooms. Events name their scope as ``@collection:<name>``;
a room joined as ``//name`` or ``@:name`` is filed under that form at once,
and a room joined under any other spelling is re-filed by the first event
that names its id. Nodes before 1.8.6 name no scope in their events: such
an event is for the joined room with its id (see :func:`event_key`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from .. import exceptions
from ..exceptions import NodeVersionError
from ..features import SCOPED_ROOM_EVENTS
from ..protocol import PackageType, canonical_scope, encode
from ..querier import Querier
from .inbox import Inbox

_log = logging.getLogger("thingsdb.room")

#: One request with its answer: (package type, payload, timeout) -> answer.
Request = Callable[[int, bytes, "float | None"], Awaitable[Any]]


class Member(Protocol):
    """What the registry needs of a room."""

    @property
    def id(self) -> int | None: ...

    @property
    def scope(self) -> str | None: ...

    @property
    def inbox(self) -> Inbox: ...


class RoomClient(Querier, Protocol):
    """What a room needs of its client: query(), and these. (``run()`` is
    here for handlers: ``self.client`` is typed by this protocol.)"""

    def run(
        self, procedure: str, *args: Any, scope: str | None = None, **kwargs: Any
    ) -> Awaitable[Any]: ...

    @property
    def room_registry(self) -> RoomRegistry[Any]: ...

    def get_default_scope(self) -> str: ...


Key = tuple[str, int]


def check_free(previous: object, room: object, scope: str, room_id: int) -> None:
    """RuntimeError when another room object (``previous``) has joined this
    room on the client: the node sends no second ROOM_JOIN for a joined
    room, and one room's events cannot go to two handlers in order. (Also
    the blocking registry's rule.)"""
    if previous is not None and previous is not room:
        raise RuntimeError(
            f"room {room_id} in {scope} is already joined by {previous!r} "
            "on this client; leave it first"
        )


#: the scope an event without one is filed under when no room has its id
NO_SCOPE = "(no scope)"


def event_key(rooms: Mapping[Key, object], data: Any) -> Key | None:
    """The key of the room an event is for (both registries' rule), or
    None for an event to drop (logged here).

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
    their events could not be told apart. NodeVersionError (both
    registries' rule)."""
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


M = TypeVar("M", bound=Member)


class RoomRegistry(Generic[M]):
    def __init__(self, request: Request) -> None:
        self._request = request
        self._rooms: dict[Key, M] = {}
        # During a move to another node: the rooms whose events still come
        # from the previous connection, as their JOIN on the new one is not
        # answered yet (see Client._on_event).
        self._bridged: set[M] = set()
        #: the last room event named its scope (False: a node before 1.8.6)
        self.scoped = True

    def all(self) -> tuple[M, ...]:
        return tuple(self._rooms.values())

    async def join(self, room: M, scope: str, room_id: int) -> None:
        key = (canonical_scope(scope), room_id)
        check_free(self._rooms.get(key), room, scope, room_id)
        check_distinct(self._rooms, key[0], room_id, self.scoped)
        # filed before the request goes out: an event that overtakes the
        # answer is queued for the room, not dropped
        self._rooms[key] = room
        try:
            answer = await self._request(
                PackageType.JOIN, encode((scope, room_id)), None
            )
        except BaseException:
            self._forget(key, room)
            raise
        if not answer or answer[0] is None:
            self._forget(key, room)
            raise exceptions.LookupError(
                errdata={
                    "error_code": -54,
                    "error_msg": f"no room with id {room_id} in scope {scope}",
                }
            )

    async def leave(self, room: M) -> None:
        assert room.id is not None
        assert room.scope is not None
        answer = await self._request(
            PackageType.LEAVE, encode((room.scope, room.id)), None
        )
        if not answer or answer[0] is None:
            raise exceptions.LookupError(
                errdata={
                    "error_code": -54,
                    "error_msg": f"no room with id {room.id} in scope {room.scope}",
                }
            )

    async def emit(
        self, tp: int, scope: str, room_id: int, event: str, args: Sequence[Any]
    ) -> None:
        await self._request(tp, encode((scope, room_id, event, *args)), None)

    def dispatch(self, tp: int, data: Any, *, bridged: bool = False) -> None:
        """Route one room event (called by the reader; never blocks).

        ``bridged``: the event came from the previous connection during a
        move, and goes only to a room not joined again on the new one yet.
        """
        key = event_key(self._rooms, data)
        if key is None:
            return
        self.scoped = "scope" in data
        room = self._rooms.get(key) or self._refile(key)
        if room is None:
            _log.debug(
                "event %#04x for room %d in %s, which is not joined", tp, key[1], key[0]
            )
            return
        if bridged and room not in self._bridged:
            return  # the new connection delivers this room's events now
        room.inbox.deliver(tp, data)
        if tp == PackageType.ROOM_LEAVE or tp == PackageType.ROOM_DELETE:
            self._forget(key, room)
            room.inbox.stop()

    async def rejoin(self, send: Request) -> None:
        """After a reconnect: join every room again, one request per scope,
        through ``send`` (the new connection).

        A room that no longer exists, or whose collection is gone, ends as
        if deleted (on_delete()). Any other failure (the connection, a node
        that is not ready) is raised: the reconnect tries the next node.

        Until the JOIN of its collection is answered, a room takes its events
        from the previous connection, if that is still open (a planned move:
        see ``dispatch``); from then on only from the new one.
        """
        by_scope: dict[str, list[tuple[Key, M]]] = {}
        for key, room in self._rooms.items():
            assert room.scope is not None
            by_scope.setdefault(room.scope, []).append((key, room))
        self._bridged = set(self._rooms.values())
        for scope, entries in by_scope.items():
            ids = [key[1] for key, _ in entries]
            try:
                answer = await send(PackageType.JOIN, encode((scope, *ids)), None)
            except (exceptions.LookupError, exceptions.ForbiddenError) as exc:
                _log.warning("cannot join the rooms of %s again: %s", scope, exc)
                answer = [None] * len(entries)
            for _, room in entries:
                self._bridged.discard(room)
            for (key, room), found in zip(entries, answer or (), strict=False):
                if found is None:
                    _log.warning("%r no longer exists after the reconnect", room)
                    self._forget(key, room)
                    room.inbox.deliver(
                        PackageType.ROOM_DELETE, {"scope": key[0], "id": key[1]}
                    )
                    room.inbox.stop()

    def end_bridge(self) -> None:
        """The move is over: events come from the connection in use only."""
        self._bridged = set()

    def stop_all(self) -> list[M]:
        rooms = list(self._rooms.values())
        self._rooms.clear()
        self._bridged = set()
        for room in rooms:
            room.inbox.stop()
        return rooms

    def _forget(self, key: Key, room: M) -> None:
        if self._rooms.get(key) is room:
            del self._rooms[key]

    def _refile(self, key: Key) -> M | None:
        matches = [k for k in self._rooms if k[1] == key[1]]
        if len(matches) != 1:
            return None
        room = self._rooms.pop(matches[0])
        self._rooms[key] = room
        return room
