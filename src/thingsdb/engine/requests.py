"""One request's tries, decided once for both clients: a request goes out
again only when it was never written (:class:`NotSent`), when the node ran
nothing (a not-ready answer, with ``retry_not_ready``), or when it was
written, its connection was lost and the caller marked it idempotent (up to
``MAX_RESENDS`` times). Where it goes next and how long it waits first are
said here too (:func:`after_not_ready`); each client carries that out."""

from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass

from ..exceptions import ConnectionLostError, NodeError
from ..telemetry import _switch as telemetry

_log = logging.getLogger("thingsdb.client")

#: How many times one request is sent again after a lost connection: enough
#: for a failover or two, and a bound for code that brings nodes down.
MAX_RESENDS = 3


class NotSent(Exception):
    """Internal: the connection closed before the request was written, so it
    can safely go out on another connection (one marker for both clients)."""


# NODE_ERROR answers given before anything ran: the node is not ready, has
# no ready node to forward to, or lacks the quorum to create a change.
_NOT_READY = re.compile(
    r"is not ready to handle|cannot find a node for handling|"
    r"does not have the required quorum"
)

# Of those, the answers of a node that cannot take the request itself (it is
# starting, synchronizing or shutting down); the others speak for the whole
# cluster (no ready node to forward to, no quorum).
_NODE_NOT_READY = re.compile(r"is not ready to handle")

#: The pause before trying a not-ready request again starts here and
#: doubles up to the cap: a node's away mode or synchronization takes
#: seconds, and a try costs the node next to nothing.
_NOT_READY_PAUSE = 0.1
_NOT_READY_MAX_PAUSE = 2.0


def ran_nothing(exc: NodeError) -> bool:
    """Whether the node's answer says the request did not run (not ready,
    no node to forward to, no quorum): it may go again."""
    return _NOT_READY.search(exc.error_msg) is not None


def node_cannot_take(exc: NodeError) -> bool:
    """Whether the answer speaks for the node in use only (another node of
    the pool may take the request)."""
    return _NODE_NOT_READY.search(exc.error_msg) is not None


def not_ready_pause(count: int) -> float:
    """The pause before the ``count``-th try again: doubling up to the cap,
    with jitter."""
    pause = min(_NOT_READY_PAUSE * 2 ** min(count - 1, 8), _NOT_READY_MAX_PAUSE)
    return random.uniform(pause / 2, pause)


def retries_not_ready(
    exc: NodeError, retry_not_ready: int, auto_reconnect: bool
) -> bool:
    """Whether a NodeError answer is tried again (see :func:`after_not_ready`)."""
    return retry_not_ready > 0 and auto_reconnect and ran_nothing(exc)


def may_resend(exc: ConnectionLostError, resends: int, auto_reconnect: bool) -> bool:
    """Whether a request lost with its connection after it was written goes
    out again: only an idempotent one with resends left, on a client that
    reconnects."""
    return resends > 0 and auto_reconnect


def told_resend(address: object) -> None:
    _log.info(
        "connection to %s lost before the answer; sending the idempotent request again",
        address,
    )


class Tries:
    """The tries of one request (both clients' request loops): what each
    failed try allows, counted."""

    __slots__ = ("_auto_reconnect", "_retry_not_ready", "not_ready", "resends")

    def __init__(self, resends: int, retry_not_ready: int, auto_reconnect: bool):
        #: how many more times it may go out after a lost connection
        self.resends = resends
        #: not-ready answers so far
        self.not_ready = 0
        self._retry_not_ready = retry_not_ready
        self._auto_reconnect = auto_reconnect

    def failed(self, address: object, exc: BaseException | None) -> int:
        """A try on ``address`` failed with ``exc`` (None or NotSent: never
        written). Raises ``exc`` when the request may not go again; returns
        the count of not-ready answers when ``exc`` is one (the request goes
        again as :func:`after_not_ready` says), else 0 (it goes again on
        the connection in use, or the next one)."""
        if isinstance(exc, ConnectionLostError):
            if not may_resend(exc, self.resends, self._auto_reconnect):
                raise exc
            self.resends -= 1
            told_resend(address)
            telemetry.resent(address)
        elif isinstance(exc, NodeError):
            if not retries_not_ready(exc, self._retry_not_ready, self._auto_reconnect):
                raise exc
            self.not_ready += 1
            telemetry.not_ready_retry(address)
            return self.not_ready
        return 0


@dataclass(frozen=True, slots=True)
class NotReadyStep:
    """What to do after the ``count``-th not-ready answer to a request."""

    #: leave the node in use for the next node of the pool first
    move_on: bool
    #: how long to wait (or until the node in use says a status) before the
    #: next try; 0: go again as soon as the client is connected
    pause: float
    #: the next try would come after the deadline: raise the answer now
    #: (after leaving the node, when ``move_on`` says so)
    give_up: bool = False


def after_not_ready(
    address: object,
    exc: NodeError,
    count: int,
    nodes: int,
    now: float,
    deadline: float | None,
) -> NotReadyStep:
    """The ``count``-th not-ready answer to a request (nothing ran): when
    and where it goes again.

    A node that cannot take requests itself (starting, synchronizing,
    shutting down) is left for the next node of the pool (``nodes`` is the
    pool's size), and the first such answer goes again as soon as the client
    is there. Any other not-ready answer speaks for the cluster (no ready
    node to forward to, no quorum), which moving would not change: the
    request stays. Any further try waits first, with back-off (and jitter),
    or until the node in use announces a status; when the next try would
    come after the request's deadline (on the clock of ``now``), the node's
    answer is raised now (``give_up``). Without a deadline the request waits as long as
    the client keeps trying.
    """
    moving = node_cannot_take(exc) and nodes > 1
    if moving and count == 1:
        _log.info("%s cannot take the request (%s); trying the next node", address, exc)
        return NotReadyStep(True, 0.0)
    pause = not_ready_pause(count)
    if deadline is not None and now + pause >= deadline:
        return NotReadyStep(moving, pause, give_up=True)
    _log.info(
        "%s cannot take the request (%s); trying again within %.2f seconds",
        address,
        exc,
        pause,
    )
    return NotReadyStep(moving, pause)
