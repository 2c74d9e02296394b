"""A blocking room's inbox: where the client hands the room's events.

The client's side of the seam between client and room (the room's side is
``_rooms.RoomClient``). Whichever thread reads the connection only hands an
event to the inbox (:meth:`Inbox.deliver`, never blocks); the inbox runs
the room's handling of it in the room's own thread (a ``HandlerThread``),
one event at a time and in the order they came, and feeds the room's
``events()`` iterators. Until the room is ready for events (its on_init()
is queued), the inbox holds them.
"""

from __future__ import annotations

import concurrent.futures
import functools
import itertools
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any

from ._runner import HandlerThread

_numbers = itertools.count(1)

#: What a listener's queue gets when the room is done (left, deleted or its
#: client closed): its iteration ends.
STOP = object()

Handler = Callable[[int, Any], None]


class Inbox:
    """One room's events, handled in order in the room's thread.

    ``handle(tp, data)`` handles one event (in that thread). The lock of the
    inbox comes after the room registry's (the registry delivers under its
    own).
    """

    def __init__(self, handle: Handler) -> None:
        self._handle = handle
        self._lock = threading.Lock()
        # events that came before the room was ready for them, handed on in
        # order by start()
        self._held: list[tuple[int, Any]] = []
        self._ready = False
        self._handlers: HandlerThread | None = None
        # the events() iterators' queues, held weakly: an iterator left by
        # `break` goes away with its queue
        self._listeners: weakref.WeakSet[queue.Queue[object]] = weakref.WeakSet()
        #: Joined: set by the room once its JOIN is answered; cleared when the
        #: room ends (see :meth:`ended`) and when the client closes.
        self.joined = False

    @property
    def thread(self) -> threading.Thread | None:
        """The room's thread, if one runs."""
        handlers = self._handlers
        return None if handlers is None else handlers.thread

    @property
    def listening(self) -> int:
        """How many events() iterators listen."""
        with self._lock:
            return len(self._listeners)

    # -- the room's side --------------------------------------------------------------

    def hold(self) -> None:
        """A join is under way: hold the events until :meth:`start`, and have
        a handler thread ready (a new one if the last was stopped)."""
        with self._lock:
            if self._handlers is None or self._handlers.stopped:
                self._handlers = HandlerThread(f"thingsdb-sync-room-{next(_numbers)}")
            self._ready = False
            self._held = []

    def start(self) -> None:
        """Hand on the events held so far, and every later one at once."""
        with self._lock:
            held, self._held = self._held, []
            for tp, data in held:
                self._submit_locked(functools.partial(self._handle, tp, data))
            self._ready = True

    def submit(self, fn: Callable[[], None]) -> concurrent.futures.Future[None]:
        """Run ``fn`` in the room's thread, after the events queued so far."""
        with self._lock:
            return self._submit_locked(fn)

    def park(self) -> None:
        """(In the room's thread) Left or deleted: end the events()
        iterators, and let the thread end (a new join starts one)."""
        self._end_listeners()
        handlers = self._handlers
        if handlers is not None:
            handlers.park()

    def listen(self) -> queue.Queue[object]:
        """A queue that gets every :meth:`publish`-ed item from now on, then
        STOP when the room is done; kept while the caller holds it."""
        listener: queue.Queue[object] = queue.Queue()
        with self._lock:
            self._listeners.add(listener)
        return listener

    def unlisten(self, listener: queue.Queue[object]) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def publish(self, item: object) -> bool:
        """Put ``item`` on every listener's queue; False when none listens."""
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener.put(item)
        return bool(listeners)

    # -- the client's side ------------------------------------------------------------

    def deliver(self, tp: int, data: Any) -> None:
        """Queue an event for the room's thread (called by the reader, under
        the registry's lock; never blocks)."""
        with self._lock:
            if not self._ready:
                self._held.append((tp, data))
                return
            self._submit_locked(functools.partial(self._handle, tp, data))

    def ended(self) -> None:
        """Left, deleted, or gone after a reconnect: joined no more (the
        room's hooks follow in its thread)."""
        self.joined = False

    def stop(self) -> list[threading.Thread]:
        """At close: end every events() iterator (after the events already
        queued) and the room's thread. Returns the threads to join."""
        self.joined = False
        with self._lock:
            handlers = self._handlers
            self._ready = True
            self._held = []
        if handlers is None:
            self._end_listeners()
            return []
        return handlers.stop(self._end_listeners)

    # -- internals --------------------------------------------------------------------

    def _submit_locked(self, fn: Callable[[], None]) -> concurrent.futures.Future[None]:
        handlers = self._handlers
        if handlers is None:  # no_join() rooms get no events; be safe anyway
            handlers = self._handlers = HandlerThread(
                f"thingsdb-sync-room-{next(_numbers)}"
            )
        return handlers.submit(fn)

    def _end_listeners(self) -> None:
        self.publish(STOP)
