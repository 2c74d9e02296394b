"""The watcher: the client's background thread, for the time between calls.

Callers read their own answers (see ``_connection``); the watcher reads
what arrives while no caller does (room events, node statuses, the answers
of callers that gave up), sends the keepalive's PINGs, and releases the
sockets of ended connections that an interrupted caller could not. It
leaves a
connection alone while callers use it: it reads one only when no caller
took or gave up the read role for a whole ``TICK``. So a busy client pays
nothing for it but a look every ``TICK``, and an idle one hears its events
at once. It sleeps in ``poll()`` on the idle connections and on a socket
pair, through which the client wakes it when something changes.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable

from ._connection import Connection
from ._links import readable

_log = logging.getLogger("thingsdb.client")

#: How long a connection must go unread by callers before the watcher
#: reads it (seconds): the most a room event waits, right after a call.
TICK = 0.02


class Watcher:
    """Reads the idle connections of a client and keeps them alive."""

    def __init__(
        self,
        name: str,
        connections: Callable[[], list[Connection]],
        sweep: Callable[[], bool],
    ) -> None:
        self._connections = connections
        self._sweep = sweep
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stopping = False
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        """Look at the connections again (one was added, closed...)."""
        with contextlib.suppress(OSError):  # full (a wake-up is pending) or closed
            self._wake_w.send(b"\0")

    def stop(self) -> None:
        self._stopping = True
        self.wake()

    def _main(self) -> None:
        try:
            self._watch()
        except Exception:  # noqa: BLE001 - logged: the client goes on without it
            _log.exception("the client's watcher thread failed")
        finally:
            self._wake_r.close()
            self._wake_w.close()

    def _watch(self) -> None:
        wake_fd = self._wake_r.fileno()
        # per connection, its count of read roles given up at the last look
        seen: dict[Connection, int] = {}
        while not self._stopping:
            left = self._sweep()
            conns = self._connections()
            now = time.monotonic()
            soonest: float | None = now + TICK if left else None
            idle: dict[int, Connection] = {}
            for conn in conns:
                due = conn.keepalive(now)
                if due is not None and (soonest is None or due < soonest):
                    soonest = due
                if conn.ended:
                    continue
                releases = conn.releases
                if not conn.reading and seen.get(conn) == releases:
                    idle[conn.fd] = conn
                else:
                    # in use: look again in a while
                    seen[conn] = releases
                    if soonest is None or now + TICK < soonest:
                        soonest = now + TICK
            for gone in [c for c in seen if c not in conns]:
                del seen[gone]
            timeout = None if soonest is None else max(0.0, soonest - time.monotonic())
            ready = readable([wake_fd, *idle], timeout)
            for fd in ready:
                if fd == wake_fd:
                    with contextlib.suppress(OSError):
                        while self._wake_r.recv(4096):
                            pass
                else:
                    conn = idle[fd]
                    conn.idle_read()
