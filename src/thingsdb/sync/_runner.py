"""The background threads of the blocking client.

``LoopThread`` runs one asyncio loop in a daemon thread; blocking calls hand
coroutines to it with ``asyncio.run_coroutine_threadsafe`` and wait for the
answer. ``HandlerThread`` runs a room's handlers, one at a time and in order,
so that they may block (and call the blocking client) without stopping the
loop. Both are daemon threads: a non-daemon thread would make the
interpreter wait for it *before* ``atexit`` runs, and ``atexit`` is where
clients that are still open get closed. Neither starts a thread while
shutting down (Python 3.12 refuses new threads in ``atexit`` functions).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..exceptions import NotConnectedError

T = TypeVar("T")

_numbers = itertools.count(1)

#: How often (seconds) a waiting call wakes up to let Ctrl-C through.
INTERRUPT_CHECK = 0.25


def check_caller(what: str, own_loop: asyncio.AbstractEventLoop | None) -> None:
    """Raise RuntimeError when the calling thread runs an event loop: waiting
    there would block that loop (or, on the client's own loop, deadlock)."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        return
    if running is own_loop:
        raise RuntimeError(
            f"{what}() was called on the blocking client's own event-loop thread "
            "(from on_node_status or on_warning?): it would wait for itself. "
            "Keep such callbacks short and hand the work to another thread."
        )
    raise RuntimeError(
        f"{what}() would block the event loop running in this thread. In async "
        "code use thingsdb.client.Client and await its methods (or run the "
        "blocking call in a worker thread: await asyncio.to_thread(...))."
    )


class LoopThread:
    """An asyncio loop in its own daemon thread."""

    def __init__(self) -> None:
        name = f"thingsdb-sync-loop-{next(_numbers)}"
        self.loop = asyncio.new_event_loop()
        # the loop's own executor (host name look-ups), shut down in the loop
        # thread itself at the end: loop.shutdown_default_executor() would
        # start a helper thread for that
        self._executor = concurrent.futures.ThreadPoolExecutor(
            thread_name_prefix=f"{name}-executor"
        )
        self.loop.set_default_executor(self._executor)
        self._lock = threading.Lock()
        self._closed = False
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.thread.start()

    @property
    def closed(self) -> bool:
        return self._closed

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result.

        If the waiting thread is interrupted (KeyboardInterrupt), the
        coroutine is cancelled. The coroutine's own timeout applies; this
        waits as long as the coroutine runs. Exceptions keep their class;
        a coroutine cancelled by the loop's shutdown raises
        NotConnectedError.
        """
        with self._lock:
            if self._closed:
                coro.close()
                raise NotConnectedError("the client is closed")
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            while not future.done():
                # a bounded wait, so that Ctrl-C is seen at once on Windows
                # too, where Python (before 3.14) cannot interrupt a lock wait
                concurrent.futures.wait((future,), timeout=INTERRUPT_CHECK)
            return future.result()
        except concurrent.futures.CancelledError:
            raise NotConnectedError(
                "the client was closed while this call was waiting"
            ) from None
        except BaseException:
            future.cancel()  # a no-op when the coroutine itself raised
            raise

    def call_soon(self, fn: Callable[[], object]) -> bool:
        """Schedule ``fn`` on the loop without waiting; False once closed."""
        with self._lock:
            if self._closed:
                return False
            self.loop.call_soon_threadsafe(fn)
            return True

    def stop(self, timeout: float | None) -> None:
        """Stop the loop (every task left is cancelled) and join the thread;
        from the loop thread itself, only ask it to stop."""
        self.call_soon(self.loop.stop)
        if threading.current_thread() is not self.thread:
            self.thread.join(timeout)

    def _main(self) -> None:
        loop = self.loop
        try:
            loop.run_forever()
        finally:
            with self._lock:
                self._closed = True  # no new work from here on
            try:
                loop.run_until_complete(self._drain())
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                self._executor.shutdown(wait=True)
                loop.close()

    @staticmethod
    async def _drain() -> None:
        # Callbacks queued before the stop run first (they may make tasks);
        # then every task left is cancelled, so no caller waits forever.
        await asyncio.sleep(0)
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


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
                thread = threading.Thread(
                    target=self._main, name=self._name, daemon=True
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
