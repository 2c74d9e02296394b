"""A client's joined rooms (asyncio): join/leave/emit requests, and the
events handed to the rooms' inboxes, around the one table of rooms both
clients keep (:class:`thingsdb.engine.rooms.RoomTable`: filing, routing,
the bridge during a move, re-joining).

Each client has one registry; rooms reach it through their client
(:class:`RoomClient`), and it reaches a room through the room's
:class:`~thingsdb.room.inbox.Inbox` (:class:`Member`). Neither touches the
other's private state. A room joined as ``//name`` or ``@:name`` is filed
under the form events name (``@collection:name``) at once; under any other
spelling it is re-filed by the first event that names its id.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from ..engine.rooms import (
    NO_SCOPE,
    REJOIN_GONE,
    Key,
    RoomTable,
    check_distinct,
    check_free,
    deleted_event,
    event_key,
    found,
    not_found,
    rooms_payload,
)
from ..protocol import PackageType, canonical_scope, encode
from ..querier import Querier
from ..telemetry import _switch as telemetry
from ..telemetry import names
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


M = TypeVar("M", bound=Member)


def _room_scope(key: Key, room: Member) -> str:
    assert room.scope is not None
    return room.scope


class RoomRegistry(Generic[M]):
    def __init__(self, request: Request) -> None:
        self._request = request
        self._table: RoomTable[M] = RoomTable(refiles=True)

    @property
    def scoped(self) -> bool:
        """The last room event named its scope (False: a node before 1.8.6)."""
        return self._table.scoped

    def all(self) -> tuple[M, ...]:
        return tuple(self._table.rooms.values())

    async def join(self, room: M, scope: str, room_id: int) -> None:
        # filed before the request goes out
        key = self._table.file(room, canonical_scope(scope), room_id)
        with telemetry.room(names.JOIN, scope, (room_id,)):
            try:
                answer = await self._request(
                    PackageType.JOIN, rooms_payload(scope, room_id), None
                )
            except BaseException:
                self._table.forget(key, room)
                raise
            if not found(answer):
                self._table.forget(key, room)
                raise not_found(room_id, scope)

    async def leave(self, room: M) -> None:
        assert room.id is not None
        assert room.scope is not None
        with telemetry.room(names.LEAVE, room.scope, (room.id,)):
            answer = await self._request(
                PackageType.LEAVE, rooms_payload(room.scope, room.id), None
            )
            if not found(answer):
                raise not_found(room.id, room.scope)

    async def emit(
        self, tp: int, scope: str, room_id: int, event: str, args: Sequence[Any]
    ) -> None:
        with telemetry.room(names.EMIT, scope, (room_id,), event):
            await self._request(tp, encode((scope, room_id, event, *args)), None)

    def dispatch(self, tp: int, data: Any, *, bridged: bool = False) -> None:
        """Route one room event (called by the reader; never blocks).

        ``bridged``: the event came from the previous connection during a
        move, and goes only to a room not joined again on the new one yet.
        """
        routed = self._table.route(tp, data, bridged)
        if routed is None:
            return
        room, ends = routed
        room.inbox.deliver(tp, data)
        if ends:
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
        table = self._table
        for batch in table.rejoin_batches(_room_scope):
            scope, entries = batch
            payload = rooms_payload(scope, *(key[1] for key, _ in entries))
            try:
                answer = await send(PackageType.JOIN, payload, None)
            except REJOIN_GONE as exc:
                gone = table.rejoin_failed(batch, exc)
            else:
                gone = table.rejoined(batch, answer)
            for key, room in gone:
                room.inbox.deliver(PackageType.ROOM_DELETE, deleted_event(key))
                room.inbox.stop()

    def end_bridge(self) -> None:
        """The move is over: events come from the connection in use only."""
        self._table.end_bridge()

    def stop_all(self) -> list[M]:
        rooms = self._table.clear()
        for room in rooms:
            room.inbox.stop()
        return rooms


__all__ = [
    "NO_SCOPE",
    "Key",
    "Member",
    "Request",
    "RoomClient",
    "RoomRegistry",
    "check_distinct",
    "check_free",
    "event_key",
]
