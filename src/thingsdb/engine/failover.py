"""Failover, decided once for both clients, free of I/O: which node a
client tries first and next, the rounds over the pool with their back-off,
connect_pool()'s first-connection rules, how a failed attempt is told, what
a lost login says, and which node statuses make a client leave its node.

A client's reconnect is a short loop around a :class:`Reconnect`: try
:attr:`Reconnect.address` (open, log in, re-join the rooms); on success call
:meth:`Reconnect.connected`; on failure :meth:`Reconnect.failed` says how
long to pause before the next attempt (or raises when no retry helps). The
asyncio client runs that loop in a task (``client/pool.py``), the blocking
client in a thread (``sync/_session.py``); a rule of failover is changed
here, in this file, for both.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Callable, Iterator, Sequence

from ..exceptions import (
    AuthError,
    CertificateError,
    ConnectionLostError,
    NotConnectedError,
)
from ..transport import Address
from .requests import NotSent

_log = logging.getLogger("thingsdb.client")

#: The node status that makes a client move to another node. A node in
#: AWAY_SOON or AWAY mode (storing its data, which every node of a busy
#: cluster does every so often) still takes requests, forwarding queries to
#: a ready node, and still delivers room events: the client stays. Only a
#: node that shuts down asks its clients to change connection.
LEAVING_STATUSES = frozenset({"SHUTTING_DOWN"})

#: A move off a node waits this many seconds at most for the answers that
#: node still owes before the next node takes requests. The others stop
#: sending their changes to a node in SHUTTING_DOWN, so a write made on the
#: next node at once would leave the writes still queued on the old one
#: waiting for a change the old node asks for only every few seconds (seen:
#: unanswered for its whole shutdown period), while the next node waits in
#: turn for the change ids the old one holds (seen: 20 s timeouts there).
#: Answered, they take milliseconds; the limit bounds a pause when the old
#: node is stuck anyway (a long query, other clients' writes).
MOVE_SETTLE_LIMIT = 2.0


def leaves_on(status: object, auto_reconnect: bool, closing: bool) -> bool:
    """Whether the status the node in use said makes the client move on
    (new requests wait for the next node at once; the connection stays
    until its answers are in and the rooms are joined on the next node)."""
    return status in LEAVING_STATUSES and auto_reconnect and not closing


def first_node(nodes: int) -> int:
    """connect_pool(): the index of the node tried first (a random one, so
    that the clients of a cluster spread over its nodes)."""
    return random.randrange(nodes)


def switches_on_loss(nodes: int) -> bool:
    """A lost connection: whether the reconnect starts at the next node
    (with a pool) rather than the same one."""
    return nodes > 1


def no_connection(
    closing: bool, nodes: int, auto_reconnect: bool
) -> NotConnectedError | None:
    """A request finds no connection and no reconnect running: the error
    it fails with, or None when a reconnect is to start (and be waited
    for)."""
    if closing:
        return NotConnectedError("the client is closed")
    if not nodes:
        return NotConnectedError("not connected; call connect() first")
    if not auto_reconnect:
        return NotConnectedError(
            "not connected (auto_reconnect is off; call reconnect())"
        )
    return None


def pool_timeout_message(timeout: float | None, last_error: str) -> str:
    return (
        f"no node of the pool accepted within {timeout} seconds "
        f"(last error: {last_error or 'none'})"
    )


class Reconnect:
    """One reconnect: the pool's nodes in turn (from the one in use, or the
    next one with ``switch``), backing off (with jitter) after every round,
    until an attempt connects, logs in and has joined the rooms again.

    Wrong credentials end it (every node of a cluster knows the same
    users); so does a certificate that does not verify on connect_pool()'s
    first connection (``first``: no retry can fix it); any other failure
    goes on to the next node.
    """

    __slots__ = (
        "_delay",
        "_max_delay",
        "_nodes",
        "_told_certificate",
        "_tried",
        "first",
        "idx",
        "last_error",
    )

    def __init__(
        self,
        nodes: Sequence[Address],
        idx: int,
        *,
        switch: bool,
        first: bool,
        delay: float,
        max_delay: Callable[[], float],
    ) -> None:
        self._nodes = nodes
        if switch and len(nodes) > 1:
            idx = (idx + 1) % len(nodes)
        #: the node of the next attempt
        self.idx = idx
        self.first = first
        self._max_delay = max_delay
        self._delay = min(delay, max_delay())
        self._tried = 0
        self._told_certificate = False
        #: where and why the last attempt failed ("" before any)
        self.last_error = ""

    @property
    def address(self) -> Address:
        """The node to try now."""
        return self._nodes[self.idx]

    def failed(self, exc: Exception) -> float:
        """The attempt on :attr:`address` failed with ``exc``: told in the
        log; raised when no retry helps. Returns the pause before the next
        attempt (0 within a round, jittered back-off after one)."""
        address = self.address
        if isinstance(exc, AuthError):
            self.last_error = f"{address}: {exc}"
            _log.error("cannot authenticate on %s; not reconnecting", address)
            raise exc
        self.last_error = attempt_error(address, exc)
        self._told_certificate = tell_failed_attempt(
            self.last_error, exc, self.first, self._told_certificate
        )
        self._tried += 1
        nodes = len(self._nodes)
        self.idx = (self.idx + 1) % nodes
        if self._tried % nodes:
            return 0.0
        pause = round_pause(self._delay)
        self._delay = min(self._delay * 2, self._max_delay())
        return pause


def round_pause(delay: float) -> float:
    """The pause after a round over the pool's nodes failed (``delay`` with
    jitter), told in the log."""
    pause = random.uniform(delay / 2, delay)
    _log.info("next connection attempt in %.1f seconds", pause)
    return pause


def attempt_error(address: object, exc: BaseException) -> str:
    """What one failed attempt on ``address`` says, naming the node once:
    a ``ConnectError`` already reads "cannot connect to <address>: ...",
    anything else gets that prefix."""
    text = str(exc) or type(exc).__name__
    prefix = f"cannot connect to {address}"
    return text if text.startswith(prefix) else f"{prefix}: {text}"


def tell_failed_attempt(
    last_error: str, exc: Exception, first: bool, told_certificate: bool
) -> bool:
    """Log one failed attempt of a reconnect round (``last_error``: where
    and why). A certificate that did not verify is raised on the first
    round (no retry can fix it) and told once after; returns whether it was
    told."""
    if not isinstance(exc, CertificateError):
        _log.warning("%s", last_error)
        return told_certificate
    if first:
        _log.error("%s; not connecting", exc)
        raise exc
    # every attempt would say the same: once is enough
    _log.log(
        logging.DEBUG if told_certificate else logging.ERROR,
        "%s; still trying the nodes of the pool",
        exc,
    )
    return True


@contextlib.contextmanager
def login_errors(address: Address) -> Iterator[None]:
    """Around the client's own login request: a connection that ended
    before it is said as such, never as "the request may or may not have
    run" (it was no request of the caller's)."""
    try:
        yield
    except NotSent:
        raise NotConnectedError(
            f"connection to {address} closed before authenticating"
        ) from None
    except ConnectionLostError as exc:
        cause = exc.__cause__
        why = f" ({cause})" if cause is not None and str(cause) else ""
        raise ConnectionLostError(
            f"connection to {address} closed before the login was answered{why}"
        ) from cause
