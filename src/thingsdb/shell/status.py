"""What the person at the shell hears of the connection.

One calm line when the connection is lost, one when it is back, and the
node's warnings (such as a ``log()`` in ThingsDB code). The client's own log
(every reconnect attempt, at WARNING) stays out of sight: it is for
programs, and printed over a prompt it breaks the line being typed. Its
errors (a login refused on a reconnect) are shown; with ``verbose`` all of
it from INFO up.

The state is read from the client's public ``is_connected()``: at every
record the client logs (it logs a lost connection at INFO, so a loss shows
at once) and a few times a second besides. That needs nothing of the
client's insides nor of its wording; a blip shorter than that, unseen,
costs nothing (no line that would have been wrong).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from ..client import Client

#: how often the connection state is looked at, in seconds
POLL_INTERVAL = 0.2

#: ``say(text, kind)``: kind is "status", "warning" or "error"
Say = Callable[[str, str], None]


class _ClientLog(logging.Handler):
    """Every record of the client's log is a moment to look at the state;
    those at ``shown`` and up become lines for the person."""

    def __init__(self, status: ConnectionStatus, say: Say, shown: int) -> None:
        super().__init__(logging.INFO)
        self._status = status
        self._say = say
        self._shown = shown

    def emit(self, record: logging.LogRecord) -> None:
        self._status.check()
        if record.levelno < self._shown:
            return
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad record must not end the shell
            self.handleError(record)
            return
        self._say(text, "error" if record.levelno >= logging.ERROR else "status")


class ConnectionStatus:
    """Watches ``client`` while the shell runs; ``start()``, then ``stop()``."""

    def __init__(self, client: Client, where: str, say: Say, *, verbose: bool) -> None:
        self.client = client
        self.where = where
        self._say = say
        self._connected = client.is_connected()
        self._task: asyncio.Task[None] | None = None
        self._handler = _ClientLog(
            self, say, logging.INFO if verbose else logging.ERROR
        )
        self._logger = logging.getLogger("thingsdb")
        self._propagate = self._logger.propagate
        self._level = self._logger.level
        #: bumped each time the connection becomes usable (see sent_since)
        self.connects = 0

    @property
    def connected(self) -> bool:
        return self._connected

    def start(self) -> None:
        self._logger.addHandler(self._handler)
        # the person's terminal is the only place these go
        self._logger.propagate = False
        self._logger.setLevel(logging.INFO)
        self.client.on_warning = self._warning
        self._task = asyncio.ensure_future(self._watch())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.client.on_warning = None
        self._logger.removeHandler(self._handler)
        self._logger.propagate = self._propagate
        self._logger.setLevel(self._level)

    def check(self) -> None:
        """Look at the state now (also done every ``POLL_INTERVAL``)."""
        now = self.client.is_connected()
        if now == self._connected:
            return
        self._connected = now
        if now:
            self.connects += 1
            where = self.client.connection_info()
            self.where = where
            self._say(f"connected to {where} again", "status")
        else:
            self._say(
                f"lost the connection to {self.where}; reconnecting "
                "(queries wait for it)",
                "warning",
            )

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            self.check()

    def _warning(self, code: int, message: str) -> None:
        self._say(f"warning from the node ({code}): {message}", "warning")
