"""Blocking rooms: handlers are plain functions run in the room's own thread.

A sync Room drives an async thingsdb.room.Room (the "bridge") on the
client's loop thread, so joining, re-joining after a reconnect, event order
and routing are those of the async rooms. The bridge hands every hook and
handler to the room's handler thread, one at a time and in the order the
events arrived. Handlers may therefore block, and may call the blocking
client (``self.client.query(...)``), without holding up the connection or
other rooms.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import itertools
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

from ..client import Client as AsyncClient
from ..exceptions import NotConnectedError
from ..room import Room as AsyncRoom
from ..room import RoomEvent, event
from ..room.room import event_handlers
from ._runner import INTERRUPT_CHECK, HandlerThread, check_caller

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Room", "RoomEvent", "RoomEvents", "event"]

_log = logging.getLogger("thingsdb.room")
_numbers = itertools.count(1)
_STOP = object()  # listener marker: the room is done
_HOOKS = ("on_init", "on_join", "on_leave", "on_delete", "on_emit")


class _Bridge(AsyncRoom):
    """The async room behind a sync Room: forwards every hook to it."""

    def __init__(self, owner: Room, room: int | str, scope: str | None) -> None:
        super().__init__(room, scope)
        self.owner = owner

    def __repr__(self) -> str:
        return repr(self.owner)

    def on_init(self) -> None:
        self.owner._init_done = self.owner._submit(self.owner.on_init)

    async def on_join(self) -> None:
        await asyncio.wrap_future(self.owner._submit(self.owner.on_join))

    def on_leave(self) -> None:
        self.owner._fire("on_leave()", self.owner.on_leave)
        self.owner._done()

    def on_delete(self) -> None:
        self.owner._fire("on_delete()", self.owner.on_delete)
        self.owner._done()

    def on_emit(self, event: str, *args: Any) -> None:
        self.owner._dispatch(event, args)


def owner_of(room: AsyncRoom) -> Room | None:
    """The sync Room behind an async room of the client, if there is one."""
    return room.owner if isinstance(room, _Bridge) else None


class Room:
    """A ThingsDB room for the blocking client.

    Subclass it and mark handlers (plain functions) with ``@event('name')``,
    or iterate ``room.events()`` to get every emitted event that has no
    handler. ``room`` is a room id (int), a room name, or ThingsDB code
    returning the id; ``scope`` is the collection (by default the client's
    default scope at join time).

    Hooks and handlers run in the room's own thread, one at a time, in the
    order the events arrived.
    """

    _event_handlers: ClassVar[dict[str, str]] = {}

    #: ``@Room.event('name')``, as on the async room.
    event = staticmethod(event)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers = cls._event_handlers = event_handlers(cls)
        for attr in (*_HOOKS, *handlers.values()):
            if inspect.iscoroutinefunction(getattr(cls, attr)):
                raise TypeError(
                    f"{cls.__name__}.{attr} is a coroutine function: the hooks and "
                    "handlers of thingsdb.sync.Room are plain functions (use "
                    "thingsdb.room.Room with the async client for coroutines)"
                )

    def __init__(self, room: int | str, scope: str | None = None) -> None:
        self._bridge = _Bridge(self, room, scope)
        self._client: Client | None = None
        self._lock = threading.Lock()
        # held weakly: an iterator left by `break` goes away with its queue
        self._listeners: weakref.WeakSet[RoomEvents] = weakref.WeakSet()
        self._handlers: HandlerThread | None = None
        self._init_done: concurrent.futures.Future[None] | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.id} scope={self.scope!r}>"

    # -- properties --------------------------------------------------------------

    @property
    def id(self) -> int | None:
        """The room id; None until join() or no_join() resolved it."""
        return self._bridge.id

    @property
    def scope(self) -> str | None:
        return self._bridge.scope

    @property
    def client(self) -> Client:
        if self._client is None:
            raise RuntimeError("call join() or no_join() first: the room has no client")
        return self._client

    # -- hooks (override them; they run in the room's thread) ----------------------

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
        with self._lock:
            listeners = list(self._listeners)
        if listeners:
            item = RoomEvent(event, list(args))
            for listener in listeners:
                listener._queue.put(item)
        else:
            _log.debug("%r: no handler for event %r", self, event)

    # -- actions -----------------------------------------------------------------

    def join(self, client: Client, wait: float | None = 60.0) -> None:
        """Join the room. Unless ``wait`` is 0 or None, return only after the
        first on_join() finished (at most ``wait`` seconds)."""
        self._bind(client)
        bridge_client = self._bridge._client
        if bridge_client is not None and bridge_client is not client._async:
            # connected again after close(): the client runs a new async client
            self._bridge._client = None
        with self._lock:
            if self._handlers is None or self._handlers.stopped:
                self._handlers = HandlerThread(f"thingsdb-sync-room-{next(_numbers)}")
        client._add_room(self)
        self._init_done = None
        client._call(_join, self._bridge, wait)
        init_done = self._init_done
        if init_done is not None:
            init_done.result()  # on_init() raised: so does join(), as in async

    def no_join(self, client: Client) -> None:
        """Resolve the room id (and check it exists) without joining: for
        rooms that only emit."""
        self._bind(client)
        client._call(_no_join, self._bridge)

    def leave(self) -> None:
        """Leave the room; on_leave() follows. LookupError if it is gone."""
        self._need_client("leave")._call(_leave, self._bridge)

    def emit(self, event: str, *args: Any, peers_only: bool = False) -> None:
        """Emit ``event`` with ``args`` to everyone in the room (with
        ``peers_only``, to everyone but this client)."""
        self._need_client("emit")._call(_emit, self._bridge, event, args, peers_only)

    def events(self, timeout: float | None = None) -> RoomEvents:
        """A blocking iterator over the events that have no handler, from
        now on, as ``RoomEvent(name, args)``.

        It ends when the room is left or deleted or the client closes, and
        when no event came for ``timeout`` seconds (None: wait as long as it
        takes). Several iterators (in several threads) each get every event.
        """
        return RoomEvents(self, timeout)

    # -- used by the bridge and the client -------------------------------------------

    def _bind(self, client: Client) -> None:
        from .client import Client

        if not isinstance(client, Client):
            raise TypeError(
                f"{type(self).__name__} needs a thingsdb.sync.Client, not "
                f"{type(client).__name__} (use thingsdb.room.Room with the "
                "async client)"
            )
        if self._client is not None and self._client is not client:
            raise RuntimeError(f"{self!r} belongs to another client")
        self._client = client

    def _need_client(self, action: str) -> Client:
        if self._client is None or self.id is None:
            raise RuntimeError(f"call join() or no_join() before {action}()")
        return self._client

    def _submit(self, fn: Callable[[], None]) -> concurrent.futures.Future[None]:
        handlers = self._handlers
        if handlers is None:  # no_join() rooms get no events; be safe anyway
            with self._lock:
                if self._handlers is None:
                    self._handlers = HandlerThread(
                        f"thingsdb-sync-room-{next(_numbers)}"
                    )
                handlers = self._handlers
        return handlers.submit(fn)

    def _fire(self, what: str, fn: Callable[[], None]) -> None:
        """Run ``fn`` in the room's thread; log (do not raise) its error."""

        def log_error(future: concurrent.futures.Future[None]) -> None:
            exc = future.exception()
            if exc is not None and not isinstance(exc, NotConnectedError):
                _log.error("%r: handler failed on %s", self, what, exc_info=exc)

        self._submit(fn).add_done_callback(log_error)

    def _dispatch(self, name: str, args: list[Any] | tuple[Any, ...]) -> None:
        attr = self._event_handlers.get(name)
        if attr is None:
            self._fire(f"event {name!r}", lambda: self.on_emit(name, *args))
        else:
            handler = getattr(self, attr)
            self._fire(f"event {name!r}", lambda: handler(*args))

    def _end_listeners(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener._queue.put(_STOP)

    def _done(self) -> None:
        """Left or deleted: end the events() iterators after the events
        queued, and let the handler thread end (a new join starts one)."""
        self._fire("the end of events()", self._end_listeners)
        handlers = self._handlers
        if handlers is not None:
            handlers.park()

    def _handler_thread(self) -> threading.Thread | None:
        handlers = self._handlers
        return None if handlers is None else handlers.thread

    def _stop_handlers(self) -> list[threading.Thread]:
        """At close: end every events() iterator (after the events already
        queued) and the handler thread. Returns the threads to join."""
        handlers = self._handlers
        if handlers is None:
            self._end_listeners()
            return []
        return handlers.stop(self._end_listeners)


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
        self._room = room
        self._timeout = timeout
        self._queue: queue.Queue[object] = queue.Queue()
        self._done = False
        with room._lock:
            room._listeners.add(self)

    def __iter__(self) -> RoomEvents:
        return self

    def __next__(self) -> RoomEvent:
        if self._done:
            raise StopIteration
        client = self._room._client
        runner = None if client is None else client._runner
        check_caller("events", None if runner is None else runner.loop)
        item = self._get()
        if not isinstance(item, RoomEvent):
            self.close()
            raise StopIteration
        return item

    def _get(self) -> object:
        """The next item, or _STOP after ``timeout`` seconds. Waits in short
        steps, so that Ctrl-C is seen at once on every platform."""
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        while True:
            step = INTERRUPT_CHECK
            if deadline is not None:
                step = min(step, deadline - time.monotonic())
                if step <= 0:
                    return _STOP
            try:
                return self._queue.get(timeout=step)
            except queue.Empty:
                continue

    def close(self) -> None:
        """Stop listening; the iteration ends."""
        self._done = True
        with self._room._lock:
            self._room._listeners.discard(self)

    def __enter__(self) -> RoomEvents:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


async def _join(client: AsyncClient, room: _Bridge, wait: float | None) -> None:
    await room.join(client, wait)


async def _no_join(client: AsyncClient, room: _Bridge) -> None:
    await room.no_join(client)


async def _leave(client: AsyncClient, room: _Bridge) -> None:
    await room.leave()


async def _emit(
    client: AsyncClient,
    room: _Bridge,
    event: str,
    args: tuple[Any, ...],
    peers_only: bool,
) -> None:
    await room.emit(event, *args, peers_only=peers_only)
