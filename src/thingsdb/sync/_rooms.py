"""The blocking client's joined rooms: join/leave/emit requests and event
routing, for any thread.

Rooms are known by (collection scope, room id); events name their scope as
``@collection:<name>``, the form a sync Room keeps its scope in (nodes
before 1.8.6 name none: see ``room.registry.event_key``). A room is
filed before its JOIN goes out, so an event that overtakes the answer is
kept for it. During a move to another node (see ``rejoin``) a room takes its
events from the connection left behind until its JOIN on the new one is
answered, and from the new one only from then on.

The registry lives beside the rooms and reaches a room only through
:class:`Member` (its id, scope and inbox); a room reaches its client only
through :class:`RoomClient`. Neither module imports the other.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .. import exceptions
from ..protocol import PackageType, encode
from ..room.registry import check_distinct, check_free, event_key
from ._connection import Connection
from ._inbox import Inbox

_log = logging.getLogger("thingsdb.room")

Key = tuple[str, int]

#: Sends one request and returns its answer: (type, payload, timeout).
Request = Callable[[int, bytes, "float | None"], Any]


class Member(Protocol):
    """What the registry and the client's session need of a room (a
    thingsdb.sync.Room)."""

    @property
    def id(self) -> int | None: ...

    @property
    def scope(self) -> str | None: ...

    @property
    def inbox(self) -> Inbox:
        """Where the client hands the room's events."""
        ...


class RoomClient(Protocol):
    """What a blocking room needs of its client (a thingsdb.sync.Client):
    query() and the default scope, to find its id, and the registry it
    joins, leaves and emits through; run() is here for handlers
    (``self.client`` is typed by this protocol)."""

    def query(
        self,
        code: str,
        scope: str | None = None,
        timeout: float | None = None,
        skip_strip_code: bool = False,
        **kwargs: Any,
    ) -> Any: ...

    def run(
        self, procedure: str, *args: Any, scope: str | None = None, **kwargs: Any
    ) -> Any: ...

    def get_default_scope(self) -> str: ...

    @property
    def room_registry(self) -> RoomRegistry: ...


def _not_found(room_id: int, scope: str) -> exceptions.LookupError:
    return exceptions.LookupError(
        errdata={
            "error_code": -54,
            "error_msg": f"no room with id {room_id} in scope {scope}",
        }
    )


class RoomRegistry:
    def __init__(self, request: Request) -> None:
        self._request = request
        self._lock = threading.Lock()
        self._rooms: dict[Key, Member] = {}
        # rooms whose events still come from the connection left behind
        self._bridged: set[Member] = set()
        # every room bound to the client (joined, emit-only, or left): their
        # threads end at close; weakly, as a room that was left may go away
        self._members: weakref.WeakSet[Member] = weakref.WeakSet()
        #: the last room event named its scope (False: a node before 1.8.6)
        self.scoped = True

    def all(self) -> tuple[Member, ...]:
        """The joined rooms."""
        with self._lock:
            return tuple(self._rooms.values())

    def enlist(self, room: Member) -> None:
        """``room`` is bound to this client (by join() or no_join())."""
        with self._lock:
            self._members.add(room)

    def members(self) -> tuple[Member, ...]:
        """The rooms bound to this client, joined or not."""
        with self._lock:
            return tuple(self._members)

    def join(self, room: Member, scope: str, room_id: int) -> None:
        key = (scope, room_id)
        with self._lock:
            check_free(self._rooms.get(key), room, scope, room_id)
            check_distinct(self._rooms, scope, room_id, self.scoped)
            self._rooms[key] = room
        try:
            answer = self._request(PackageType.JOIN, encode((scope, room_id)), None)
        except BaseException:
            self._forget(key, room)
            raise
        if not answer or answer[0] is None:
            self._forget(key, room)
            raise _not_found(room_id, scope)

    def leave(self, room: Member) -> None:
        assert room.id is not None
        assert room.scope is not None
        answer = self._request(PackageType.LEAVE, encode((room.scope, room.id)), None)
        if not answer or answer[0] is None:
            raise _not_found(room.id, room.scope)

    def emit(
        self, tp: int, scope: str, room_id: int, event: str, args: Sequence[Any]
    ) -> None:
        self._request(tp, encode((scope, room_id, event, *args)), None)

    def dispatch(self, tp: int, data: Any, *, bridged: bool = False) -> None:
        """Route one room event (called by the reader; never blocks).
        ``bridged``: it came from the connection left behind during a move,
        and goes only to a room not joined again on the new one yet."""
        with self._lock:
            key = event_key(self._rooms, data)
            if key is None:
                return
            self.scoped = "scope" in data
            room = self._rooms.get(key)
            if room is None:
                _log.debug(
                    "event %#04x for room %s in %s, which is not joined",
                    tp,
                    key[1],
                    key[0],
                )
                return
            if bridged and room not in self._bridged:
                return  # the new connection delivers this room's events now
            ends = tp == PackageType.ROOM_LEAVE or tp == PackageType.ROOM_DELETE
            if ends:
                del self._rooms[key]
                self._bridged.discard(room)
            room.inbox.deliver(tp, data)
        if ends:
            room.inbox.ended()

    def rejoin(self, conn: Connection, deadline: float, timeout: float) -> None:
        """After a reconnect: join every room again on ``conn``, one request
        per scope. A room that is gone meanwhile ends as if deleted; any
        other failure is raised (the reconnect tries the next node)."""
        by_scope: dict[str, list[tuple[Key, Member]]] = {}
        with self._lock:
            for key, room in self._rooms.items():
                by_scope.setdefault(key[0], []).append((key, room))
            self._bridged = set(self._rooms.values())
        for scope, entries in by_scope.items():
            ids = [key[1] for key, _ in entries]
            try:
                answer = conn.request(
                    PackageType.JOIN, encode((scope, *ids)), deadline, timeout
                )
            except (exceptions.LookupError, exceptions.ForbiddenError) as exc:
                _log.warning("cannot join the rooms of %s again: %s", scope, exc)
                answer = [None] * len(entries)
            gone: list[Member] = []
            with self._lock:
                for _, room in entries:
                    self._bridged.discard(room)
                for (key, room), found in zip(entries, answer or (), strict=False):
                    if found is None and self._rooms.get(key) is room:
                        _log.warning("%r no longer exists after the reconnect", room)
                        del self._rooms[key]
                        room.inbox.deliver(
                            PackageType.ROOM_DELETE, {"scope": key[0], "id": key[1]}
                        )
                        gone.append(room)
            for room in gone:
                room.inbox.ended()

    def end_bridge(self) -> None:
        """The move is over: events come from the connection in use only."""
        with self._lock:
            self._bridged = set()

    def stop_all(self) -> list[Member]:
        """At close: forget every room; returns those bound to the client
        (their threads are to end)."""
        with self._lock:
            self._rooms.clear()
            self._bridged = set()
            members = list(self._members)
            self._members = weakref.WeakSet()
        return members

    def _forget(self, key: Key, room: Member) -> None:
        with self._lock:
            if self._rooms.get(key) is room:
                del self._rooms[key]
