"""Keepalive verdicts, the same for both clients: each PINGs every
``ping_interval`` seconds on its own clock (timer handles on the event
loop; the blocking client's watcher thread) and asks here what a PING
without its PONG means.

A node runs one thing at a time and answers no PING during a long query:
while requests of ours wait, the PING's deadline moves on (those requests
have deadlines of their own), and the socket's TCP keepalive, set to the
same figures, looks after the link meanwhile. A node that sends nothing at
all within ``ping_timeout`` of a PING while nothing of ours waits is taken
for gone (a half-open connection), and the connection is dropped.
"""

from __future__ import annotations

import logging

_log = logging.getLogger("thingsdb.connection")

#: Why a connection dropped for silence ended (its ConnectionLostError).
SILENT = "closed: the node stopped answering keepalive pings"


def gone(heard: bool, waiting: bool) -> bool:
    """A PING's deadline passed without its PONG: whether the node is taken
    for gone. ``heard``: anything arrived since the PING (or the last
    look); ``waiting``: a request of ours waits for its answer. When not,
    the caller looks again ``ping_timeout`` seconds later."""
    return not heard and not waiting


def tell_gone(address: object, timeout: float) -> str:
    """Log that ``address`` is dropped for silence; the reason to close with."""
    _log.warning(
        "no answer to a keepalive ping from %s within %g seconds; closing",
        address,
        timeout,
    )
    return SILENT
