"""Helpers of the blocking client's threads.

``HandlerThread`` runs functions one at a time, in order, in a thread of its
own: a room's handlers, and the client's ``on_node_status``/``on_warning``
callbacks, so that they may block (and call the blocking client) without
holding up the connection's reader. It is a daemon thread: a non-daemon
thread would make the interpreter wait for it *before* ``atexit`` runs, and
``atexit`` is where clients that are still open get closed. No thread starts
while the interpreter shuts down (Python 3.12 refuses new threads in
``atexit`` functions).

A blocking call blocks the thread it is made in, whatever runs there (an
event loop too: a notebook cell runs on one), as every blocking library
does; nothing here checks for a loop.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ..exceptions import NotConnectedError

T = TypeVar("T")

#: How often (seconds) a waiting call wakes up to let Ctrl-C through.
INTERRUPT_CHECK = 0.25


_Item = tuple[Callable[[], Any], "concurrent.futures.Future[Any]"]


class HandlerThread:
    """Runs functions one at a time, in the order given, in a daemon thread.

    The thread starts with the first function. After ``park()`` it ends once
    it has nothing left to do, and the next function starts a new one (a
    room that was left holds no thread). ``stop()`` refuses new functions.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ending: threading.Thread | None = None  # parked, still returning
        self._stopped = False

    @property
    def thread(self) -> threading.Thread | None:
        """The thread that runs the functions, if one runs."""
        return self._thread

    @property
    def stopped(self) -> bool:
        return self._stopped

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            if self._stopped:
                future.set_exception(NotConnectedError("the client is closed"))
                return future
            if self._thread is None:
                # the thread carries the context of the call that starts it
                # (a room's join(): its handlers see the joiner's trace
                # context, as the asyncio client's room task does)
                thread = threading.Thread(
                    target=contextvars.copy_context().run,
                    args=(self._main,),
                    name=self._name,
                    daemon=True,
                )
                try:
                    thread.start()
                except RuntimeError as exc:  # the interpreter is shutting down
                    future.set_exception(NotConnectedError(str(exc)))
                    return future
                self._thread = thread
            self._queue.put((fn, future))
        return future

    def park(self) -> None:
        """Let the thread end once the functions given so far have run."""
        with self._lock:
            if self._thread is not None:
                self._queue.put(None)

    def stop(self, final: Callable[[], None]) -> list[threading.Thread]:
        """Refuse new functions and run ``final`` after those queued: in the
        handler thread, or at once in this one when none runs (so no thread
        starts). Returns the threads to join; does not wait for them."""
        with self._lock:
            if self._stopped:
                return []
            self._stopped = True
            thread = self._thread
            if thread is not None:
                self._queue.put((final, concurrent.futures.Future()))
                self._queue.put(None)
        if thread is None:
            final()
        return [t for t in (thread, self._ending) if t is not None]

    def _main(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                with self._lock:
                    if self._queue.empty():  # nothing came after the park
                        self._ending, self._thread = self._thread, None
                        return
                continue
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn()
            except Exception as exc:  # noqa: BLE001 - handed to the waiter
                future.set_exception(exc)
            except BaseException as exc:  # noqa: BLE001 - must not end the room
                future.set_exception(RuntimeError(f"room handler raised {exc!r}"))
            else:
                future.set_result(result)
