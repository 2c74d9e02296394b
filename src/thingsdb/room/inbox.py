"""A room's inbox: the events the client hands a room, worked off in order.

The client's side of the seam between client and room: the connection's
reader only appends to a room's inbox (:meth:`Inbox.deliver`), and the
inbox's own task hands the events to the room's handlers one at a time,
so a slow handler holds up its own room and nothing else.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from .identity import describe

_log = logging.getLogger("thingsdb.room")

#: The queue's marker of a stop (no package type is negative).
_STOP = -1

Handler = Callable[[int, Any], Awaitable[None]]


class Inbox:
    """Events for one room, in order, handled by one task.

    ``handle(tp, data)`` handles one event; ``ended()`` is called once the
    events before a :meth:`stop` are handled and no :meth:`open` came since.
    ``owner`` (the room) names the inbox in the log.
    """

    def __init__(
        self, owner: object, handle: Handler, ended: Callable[[], None]
    ) -> None:
        self._owner = owner
        self._handle = handle
        self._ended = ended
        self._queue: deque[tuple[int, Any]] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._worker: asyncio.Task[None] | None = None
        #: True from open() until stop(): the room is joined
        self.is_open = False

    @property
    def worker(self) -> asyncio.Task[None] | None:
        """The task working off the events (None before the first open())."""
        return self._worker

    @property
    def idle(self) -> bool:
        """No task is working: never opened, or ended."""
        return self._worker is None or self._worker.done()

    def open(self) -> None:
        """The room is joined: a stop() queued before this no longer ends
        the task."""
        self.is_open = True

    def start(self) -> None:
        """Start handling events (a task starts when none is running)."""
        if self.idle:
            self._worker = asyncio.get_running_loop().create_task(self._work())

    def deliver(self, tp: int, data: Any) -> None:
        """Queue an event; called by the connection's reader: never blocks."""
        self._queue.append((tp, data))
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            if not wakeup.done():
                wakeup.set_result(None)

    def stop(self) -> None:
        """The room is left, deleted or its client closed: end the task once
        the events queued so far are handled."""
        self.is_open = False
        self.deliver(_STOP, None)

    async def _work(self) -> None:
        queue = self._queue
        while True:
            if not queue:
                self._wakeup = asyncio.get_running_loop().create_future()
                await self._wakeup
                continue
            tp, data = queue.popleft()
            if tp == _STOP:
                if not self.is_open:  # not joined again since
                    self._ended()
                    return
                continue
            try:
                await self._handle(tp, data)
            except Exception:  # noqa: BLE001 - one bad event must not end the room
                _log.exception(
                    "%r: handler failed on %s", self._owner, describe(tp, data)
                )
