"""Rooms: receive the events ThingsDB code emits, one room at a time, in order.

Each joined room has its own queue and its own worker task: the connection's
reader only appends to the queue, so a slow handler delays its own room and
nothing else. Handlers may be plain functions or coroutines.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..deadlines import deadline_after, wait_until
from ..exceptions import ThingsDBError
from ..features import VERSION_CODE, VERSION_SCOPE
from ..protocol import PackageType
from ..protocol.codec import check_str
from .event import event
from .identity import RoomIdentity, checked_id, lacks_room_names, room_names_error
from .inbox import Inbox
from .registry import RoomClient

_log = logging.getLogger("thingsdb.room")


@dataclass(frozen=True, slots=True)
class RoomEvent:
    """An emitted event, as ``async for`` over a room yields it."""

    name: str
    args: list[Any]


_STOP = object()  # queue marker: the room is done

#: Events without a handler kept for a later ``async for`` (see on_emit).
UNHANDLED_KEPT = 10_000


class Room(RoomIdentity[RoomClient]):
    """A ThingsDB room. Subclass it and mark handlers with ``@event('name')``,
    or iterate it with ``async for ev in room`` to get every emitted event
    that has no handler.

    ``room`` is a room id (int), a room name, or ThingsDB code returning the
    id. ``scope`` is the collection; by default the client's default scope at
    join time.
    """

    #: ``@Room.event('name')``: the decorator :func:`event`, as
    #: python-thingsdb's documentation writes it.
    event = staticmethod(event)

    def __init__(self, room: int | str, scope: str | None = None) -> None:
        super().__init__(room, scope)
        self._first_join: asyncio.Future[None] | None = None
        self._listeners: list[asyncio.Queue[RoomEvent | object]] = []
        self._unhandled: deque[RoomEvent] = deque(maxlen=UNHANDLED_KEPT)
        self._warned_full = False
        #: The events the client hands this room, worked off in order (the
        #: client's side of the seam: see thingsdb.room.registry).
        self.inbox = Inbox(self, self._handle, self._end_iterators)

    # -- hooks (override them) -----------------------------------------------------

    def on_init(self) -> Awaitable[None] | None:
        """Called once, before the first on_join()."""

    async def on_join(self) -> None:
        """Called after every join, re-joins after a reconnect included."""

    def on_leave(self) -> Awaitable[None] | None:
        """Called after leave() (not when the connection drops)."""

    def on_delete(self) -> Awaitable[None] | None:
        """Called when the room was removed in ThingsDB."""

    def on_emit(self, event: str, *args: Any) -> Awaitable[None] | None:
        """Called for an event without a handler; feeds ``async for``.

        Until a first ``async for`` starts, the room keeps the last
        ``UNHANDLED_KEPT`` such events for it, so none is lost between
        join() and the loop."""
        item = RoomEvent(event, list(args))
        if self._listeners:
            for queue in self._listeners:
                queue.put_nowait(item)
            return None
        kept = self._unhandled
        if len(kept) == kept.maxlen and not self._warned_full:
            self._warned_full = True
            _log.warning(
                "%r: %d events without a handler and nobody iterating the "
                "room; the oldest are dropped",
                self,
                kept.maxlen,
            )
        kept.append(item)
        return None

    # -- actions ------------------------------------------------------------------

    async def no_join(self, client: RoomClient) -> None:
        """Resolve the room id (and check it exists) without joining: for
        rooms that only emit."""
        self._bind(client)
        room_id = await self._resolve_id(
            client, self._scope_or_default(client.get_default_scope())
        )
        exists = await client.query(
            "is_room(try(room(id)));", id=room_id, scope=self._scope
        )
        if not exists:
            raise LookupError(f"no room with id {room_id} in scope {self._scope}")
        self._id = room_id

    async def join(self, client: RoomClient, wait: float | None = 60.0) -> None:
        """Join the room. Unless ``wait`` is 0 or None, return only after the
        first on_join() finished (at most ``wait`` seconds)."""
        if self.inbox.is_open:
            raise RuntimeError(f"{self!r} is already joined")
        self._bind(client)
        scope = self._scope_or_default(client.get_default_scope())
        room_id = await self._resolve_id(client, scope)
        loop = asyncio.get_running_loop()
        self._first_join = loop.create_future() if wait else None
        await client.room_registry.join(self, scope, room_id)
        self._id = room_id
        self.inbox.open()
        if not self._initialized:
            self._initialized = True
            await _call(self.on_init)
        self.inbox.start()
        if self._first_join is not None:
            assert wait is not None
            await wait_until(
                asyncio.shield(self._first_join),
                deadline_after(loop, wait),
                f"waiting {wait} seconds for {self!r} to finish on_join()",
            )

    async def leave(self) -> None:
        """Leave the room; on_leave() follows. LookupError if it is gone."""
        client = self._need_client("leave")
        await client.room_registry.leave(self)

    async def emit(self, event: str, *args: Any, peers_only: bool = False) -> None:
        """Emit ``event`` with ``args`` to everyone in the room (with
        ``peers_only``, to everyone but this client)."""
        check_str("event name", event)
        client = self._need_client("emit")
        assert self._id is not None
        assert self._scope is not None
        tp = PackageType.EMIT_PEER if peers_only else PackageType.EMIT
        await client.room_registry.emit(tp, self._scope, self._id, event, args)

    def __aiter__(self) -> AsyncIterator[RoomEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[RoomEvent]:
        queue: asyncio.Queue[RoomEvent | object] = asyncio.Queue()
        kept, self._unhandled = self._unhandled, deque(maxlen=UNHANDLED_KEPT)
        for ev in kept:
            queue.put_nowait(ev)
        if self._initialized and not self.inbox.is_open and self.inbox.idle:
            queue.put_nowait(_STOP)  # left, deleted or closed: nothing more comes
        self._listeners.append(queue)
        try:
            while True:
                item = await queue.get()
                if item is _STOP:
                    return
                assert isinstance(item, RoomEvent)
                yield item
        finally:
            self._listeners.remove(queue)

    def _end_iterators(self) -> None:
        """The inbox ended (the room left, deleted or closed): so does
        every ``async for``."""
        for listener in self._listeners:
            listener.put_nowait(_STOP)

    # -- internals ---------------------------------------------------------------------

    async def _resolve_id(self, client: RoomClient, scope: str) -> int:
        found = self._id_query()
        if isinstance(found, int):
            return found
        code, variables = found
        try:
            answer = await client.query(code, scope=scope, **variables)
        except ThingsDBError as exc:
            if not lacks_room_names(exc):
                raise
            try:
                version = await client.query(VERSION_CODE, scope=VERSION_SCOPE)
            except ThingsDBError:
                version = None
            raise room_names_error(version) from exc
        return checked_id(code, answer)

    async def _handle(self, tp: int, data: Any) -> None:
        if tp == PackageType.ROOM_EMIT:
            result = self._emit_call(data)
            if asyncio.iscoroutine(result):
                await result
        elif tp == PackageType.ROOM_JOIN:
            first, self._first_join = self._first_join, None
            try:
                await self.on_join()
            finally:
                if first is not None and not first.done():
                    first.set_result(None)
        elif tp == PackageType.ROOM_LEAVE:
            await _call(self.on_leave)
        elif tp == PackageType.ROOM_DELETE:
            await _call(self.on_delete)


async def _call(hook: Callable[[], object]) -> None:
    """Call a hook; a coroutine (an ``async def`` override) is awaited."""
    result = hook()
    if asyncio.iscoroutine(result):
        await result
