"""Blocking rooms: handlers are plain functions run in the room's own thread.

Whichever thread reads the connection hands a room's events to the room's
inbox (``_inbox``), which runs the room's hooks and handlers in a thread of
its own, one at a time and in the order the events arrived. Handlers may
therefore block, and may call the blocking client
(``self.client.query(...)``), without holding up the connection or other
rooms. Joining again after a reconnect, the order
of the hooks and the errors are those of the async rooms. A room reaches
its client only through ``_rooms.RoomClient``: this module imports no
client.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import logging
import queue
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from ..exceptions import ThingsDBError
from ..exceptions import TimeoutError as ClientTimeoutError
from ..features import VERSION_CODE, VERSION_SCOPE
from ..protocol import PackageType
from ..protocol.codec import check_str
from ..room import RoomEvent, event
from ..room.identity import (
    RoomIdentity,
    checked_id,
    describe,
    lacks_room_names,
    room_names_error,
)
from ._inbox import Inbox
from ._rooms import RoomClient, RoomRegistry
from ._runner import INTERRUPT_CHECK

__all__ = ["Room", "RoomEvent", "RoomEvents", "event"]

_log = logging.getLogger("thingsdb.room")
_TIMED_OUT = object()  # what RoomEvents._get gives when no event came in time
_HOOKS = ("on_init", "on_join", "on_leave", "on_delete", "on_emit")


class Room(RoomIdentity[RoomClient]):
    """A ThingsDB room for the blocking client.

    Subclass it and mark handlers (plain functions) with ``@event('name')``,
    or iterate ``room.events()`` to get every emitted event that has no
    handler. ``room`` is a room id (int), a room name, or ThingsDB code
    returning the id; ``scope`` is the collection (by default the client's
    default scope at join time).

    Hooks and handlers run in the room's own thread, one at a time, in the
    order the events arrived.
    """

    #: ``@Room.event('name')``, as on the async room.
    event = staticmethod(event)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for attr in (*_HOOKS, *cls._event_handlers.values()):
            if inspect.iscoroutinefunction(getattr(cls, attr)):
                raise TypeError(
                    f"{cls.__name__}.{attr} is a coroutine function: the hooks and "
                    "handlers of thingsdb.sync.Room are plain functions (use "
                    "thingsdb.room.Room with the async client for coroutines)"
                )

    def __init__(self, room: int | str, scope: str | None = None) -> None:
        super().__init__(room, scope)
        self._first_join: threading.Event | None = None
        #: The events the client hands this room, handled in order in the
        #: room's thread (the client's side of the seam: see
        #: thingsdb.sync._rooms).
        self.inbox = Inbox(self._handle)

    # -- hooks (override them; they run in the room's thread) ------------------------

    def on_init(self) -> None:
        """Called once, before the first on_join()."""

    def on_join(self) -> None:
        """Called after every join, re-joins after a reconnect included."""

    def on_leave(self) -> None:
        """Called after leave() (not when the connection drops)."""

    def on_delete(self) -> None:
        """Called when the room was removed in ThingsDB."""

    def on_emit(self, event: str, *args: Any) -> None:
        """Called for an event without a handler; feeds ``events()``."""
        if not self.inbox.publish(RoomEvent(event, list(args))):
            _log.debug("%r: no handler for event %r", self, event)

    # -- actions ---------------------------------------------------------------------

    def join(self, client: RoomClient, wait: float | None = 60.0) -> None:
        """Join the room. Unless ``wait`` is 0 or None, return only after the
        first on_join() finished (at most ``wait`` seconds)."""
        if self.inbox.joined:
            raise RuntimeError(f"{self!r} is already joined")
        self._bind(client)
        scope = self._scope_or_default(client.get_default_scope())
        room_id = self._resolve_id(client, scope)
        first_join = threading.Event() if wait else None
        self._first_join = first_join
        self.inbox.hold()
        registry = client.room_registry
        registry.enlist(self)
        registry.join(self, scope, room_id)
        self._id = room_id
        self.inbox.joined = True
        init_done: concurrent.futures.Future[None] | None = None
        if not self._initialized:
            self._initialized = True
            init_done = self.inbox.submit(self.on_init)
        self.inbox.start()
        if first_join is not None:
            assert wait is not None
            deadline = time.monotonic() + wait
            while not first_join.wait(
                min(INTERRUPT_CHECK, max(0.0, deadline - time.monotonic()))
            ):
                if time.monotonic() >= deadline:
                    raise ClientTimeoutError(
                        f"timed out while waiting {wait} seconds for {self!r} "
                        "to finish on_join()"
                    )
        if init_done is not None:
            init_done.result()  # on_init() raised: so does join(), as in async

    def no_join(self, client: RoomClient) -> None:
        """Resolve the room id (and check it exists) without joining: for
        rooms that only emit."""
        self._bind(client)
        client.room_registry.enlist(self)
        room_id = self._resolve_id(
            client, self._scope_or_default(client.get_default_scope())
        )
        exists = client.query("is_room(try(room(id)));", id=room_id, scope=self._scope)
        if not exists:
            raise LookupError(f"no room with id {room_id} in scope {self._scope}")
        self._id = room_id

    def leave(self) -> None:
        """Leave the room; on_leave() follows. LookupError if it is gone."""
        self._need_client("leave").room_registry.leave(self)

    def emit(self, event: str, *args: Any, peers_only: bool = False) -> None:
        """Emit ``event`` with ``args`` to everyone in the room (with
        ``peers_only``, to everyone but this client)."""
        check_str("event name", event)
        client = self._need_client("emit")
        assert self._id is not None
        assert self._scope is not None
        tp = PackageType.EMIT_PEER if peers_only else PackageType.EMIT
        client.room_registry.emit(tp, self._scope, self._id, event, args)

    def events(self, timeout: float | None = None) -> RoomEvents:
        """A blocking iterator over the events that have no handler, from
        now on, as ``RoomEvent(name, args)``.

        It ends when the room is left or deleted or the client closes, and
        when no event came for ``timeout`` seconds (None: wait as long as it
        takes). Several iterators (in several threads) each get every event.
        """
        return RoomEvents(self, timeout)

    # -- internals -------------------------------------------------------------------

    def _bind(self, client: RoomClient) -> None:
        # a thingsdb.sync.Client is the client whose rooms the blocking
        # registry keeps (the async client has a registry of its own)
        if not isinstance(getattr(client, "room_registry", None), RoomRegistry):
            raise TypeError(
                f"{type(self).__name__} needs a thingsdb.sync.Client, not "
                f"{type(client).__name__} (use thingsdb.room.Room with the "
                "async client)"
            )
        super()._bind(client)

    def _resolve_id(self, client: RoomClient, scope: str) -> int:
        found = self._id_query()
        if isinstance(found, int):
            return found
        code, variables = found
        try:
            answer = client.query(code, scope=scope, **variables)
        except ThingsDBError as exc:
            if not lacks_room_names(exc):
                raise
            try:
                version = client.query(VERSION_CODE, scope=VERSION_SCOPE)
            except ThingsDBError:
                version = None
            raise room_names_error(version) from exc
        return checked_id(code, answer)

    def _handle(self, tp: int, data: Any) -> None:
        """One event, in the room's thread; a handler's error is logged."""
        what = describe(tp, data)
        try:
            if tp == PackageType.ROOM_EMIT:
                self._emit_call(data)
            elif tp == PackageType.ROOM_JOIN:
                first, self._first_join = self._first_join, None
                try:
                    self.on_join()
                finally:
                    if first is not None:
                        first.set()
            elif tp == PackageType.ROOM_LEAVE:
                try:
                    self.on_leave()
                finally:
                    self._done()
            elif tp == PackageType.ROOM_DELETE:
                try:
                    self.on_delete()
                finally:
                    self._done()
        except Exception:  # noqa: BLE001 - one bad event must not end the room
            _log.exception("%r: handler failed on %s", self, what)

    def _done(self) -> None:
        """(room thread) Left or deleted: end the events() iterators, and
        let the room's thread end (a new join starts one)."""
        self.inbox.park()


class RoomEvents(Iterator[RoomEvent]):
    """What ``Room.events()`` returns: a blocking iterator of RoomEvent.

    It listens from the moment it was made. ``close()``, leaving a ``with``
    block, or dropping it (a ``for`` loop left with ``break``) stops
    listening.
    """

    def __init__(self, room: Room, timeout: float | None) -> None:
        if timeout is not None and not timeout > 0:
            raise ValueError(
                f"timeout must be above 0 seconds (or None), not {timeout}"
            )
        self._inbox = room.inbox
        self._timeout = timeout
        self._queue: queue.Queue[object] = self._inbox.listen()
        self._done = False

    def __iter__(self) -> RoomEvents:
        return self

    def __next__(self) -> RoomEvent:
        if self._done:
            raise StopIteration
        item = self._get()
        if not isinstance(item, RoomEvent):
            self.close()
            raise StopIteration
        return item

    def _get(self) -> object:
        """The next item, or _TIMED_OUT after ``timeout`` seconds. Waits in short
        steps, so that Ctrl-C is seen at once on every platform."""
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        while True:
            step = INTERRUPT_CHECK
            if deadline is not None:
                step = min(step, deadline - time.monotonic())
                if step <= 0:
                    return _TIMED_OUT
            try:
                return self._queue.get(timeout=step)
            except queue.Empty:
                continue

    def close(self) -> None:
        """Stop listening; the iteration ends."""
        self._done = True
        self._inbox.unlisten(self._queue)

    def __enter__(self) -> RoomEvents:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
