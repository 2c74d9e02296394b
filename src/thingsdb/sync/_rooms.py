"""The blocking client's joined rooms: join/leave/emit requests, and the
events handed to the rooms' inboxes, for any thread: the one table of rooms
both clients keep (:class:`thingsdb.engine.rooms.RoomTable`: filing,
routing, the bridge during a move, re-joining), behind this registry's lock.
A sync Room keeps its scope in the form events name (``@collection:<name>``),
so nothing is re-filed.

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

from ..engine.rooms import (
    REJOIN_GONE,
    Key,
    RoomTable,
    deleted_event,
    found,
    not_found,
    rooms_payload,
)
from ..protocol import PackageType, encode
from ..telemetry import _switch as telemetry
from ..telemetry import names
from ._connection import Connection
from ._inbox import Inbox

_log = logging.getLogger("thingsdb.room")


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


class RoomRegistry:
    def __init__(self, request: Request) -> None:
        self._request = request
        self._lock = threading.Lock()
        self._table: RoomTable[Member] = RoomTable(refiles=False)
        # every room bound to the client (joined, emit-only, or left): their
        # threads end at close; weakly, as a room that was left may go away
        self._members: weakref.WeakSet[Member] = weakref.WeakSet()

    @property
    def scoped(self) -> bool:
        """The last room event named its scope (False: a node before 1.8.6)."""
        return self._table.scoped

    def all(self) -> tuple[Member, ...]:
        """The joined rooms."""
        with self._lock:
            return tuple(self._table.rooms.values())

    def enlist(self, room: Member) -> None:
        """``room`` is bound to this client (by join() or no_join())."""
        with self._lock:
            self._members.add(room)

    def members(self) -> tuple[Member, ...]:
        """The rooms bound to this client, joined or not."""
        with self._lock:
            return tuple(self._members)

    def join(self, room: Member, scope: str, room_id: int) -> None:
        with self._lock:
            key = self._table.file(room, scope, room_id)
        with telemetry.room(names.JOIN, scope, (room_id,)):
            try:
                answer = self._request(
                    PackageType.JOIN, rooms_payload(scope, room_id), None
                )
            except BaseException:
                self._forget(key, room)
                raise
            if not found(answer):
                self._forget(key, room)
                raise not_found(room_id, scope)

    def leave(self, room: Member) -> None:
        assert room.id is not None
        assert room.scope is not None
        with telemetry.room(names.LEAVE, room.scope, (room.id,)):
            answer = self._request(
                PackageType.LEAVE, rooms_payload(room.scope, room.id), None
            )
            if not found(answer):
                raise not_found(room.id, room.scope)

    def emit(
        self, tp: int, scope: str, room_id: int, event: str, args: Sequence[Any]
    ) -> None:
        with telemetry.room(names.EMIT, scope, (room_id,), event):
            self._request(tp, encode((scope, room_id, event, *args)), None)

    def dispatch(self, tp: int, data: Any, *, bridged: bool = False) -> None:
        """Route one room event (called by the reader; never blocks).
        ``bridged``: it came from the connection left behind during a move,
        and goes only to a room not joined again on the new one yet."""
        with self._lock:
            routed = self._table.route(tp, data, bridged)
            if routed is None:
                return
            room, ends = routed
            room.inbox.deliver(tp, data)
        if ends:
            room.inbox.ended()

    def rejoin(self, conn: Connection, deadline: float, timeout: float) -> None:
        """After a reconnect: join every room again on ``conn``, one request
        per scope. A room that is gone meanwhile ends as if deleted; any
        other failure is raised (the reconnect tries the next node)."""
        table = self._table
        with self._lock:
            batches = table.rejoin_batches()
        for batch in batches:
            scope, entries = batch
            payload = rooms_payload(scope, *(key[1] for key, _ in entries))
            try:
                answer = conn.request(PackageType.JOIN, payload, deadline, timeout)
            except REJOIN_GONE as exc:
                with self._lock:
                    gone = table.rejoin_failed(batch, exc)
                    self._deliver_deleted(gone)
            else:
                with self._lock:
                    gone = table.rejoined(batch, answer)
                    self._deliver_deleted(gone)
            for _, room in gone:
                room.inbox.ended()

    @staticmethod
    def _deliver_deleted(gone: list[tuple[Key, Member]]) -> None:
        """(lock held) The rooms gone after a reconnect end as if deleted."""
        for key, room in gone:
            room.inbox.deliver(PackageType.ROOM_DELETE, deleted_event(key))

    def end_bridge(self) -> None:
        """The move is over: events come from the connection in use only."""
        with self._lock:
            self._table.end_bridge()

    def stop_all(self) -> list[Member]:
        """At close: forget every room; returns those bound to the client
        (their threads are to end)."""
        with self._lock:
            self._table.clear()
            members = list(self._members)
            self._members = weakref.WeakSet()
        return members

    def _forget(self, key: Key, room: Member) -> None:
        with self._lock:
            self._table.forget(key, room)
