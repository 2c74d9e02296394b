"""Which node takes a request, and what a failed try means: the decisions of
both HTTP clients, made here once, without I/O. (Everything that decides
whether a request goes to another node, or again, lives in this file; the
blocking and the asyncio client each keep a loop of a dozen lines around
:class:`Attempts`.)

The rules, those of the socket clients:

* A request goes to the node that answered last. When a node cannot be
  reached (nothing was sent), or says it cannot take requests now (not
  ready, shutting down: nothing ran), the next node of the list is tried,
  each node once per call, within the caller's timeout; the node that
  answers is where the next call starts.
* Once a request was written, it is never sent again: a connection that
  closes before the answer is a ConnectionLostError (it may have run),
  unless the caller marked it idempotent (``client.idempotent``): then it
  goes again, to the next node, up to ``MAX_RESENDS`` times. Either way
  the next calls start at the next node.
* A timeout ends the call: ``timeout`` is one budget for all its tries.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator, Sequence

import httpx

from ..engine.requests import node_cannot_take
from ..exceptions import ConnectError, NodeError
from ..exceptions import TimeoutError as ClientTimeoutError
from ..telemetry import _switch as telemetry
from .errors import Outcome, translate
from .exchange import SHUTTING_DOWN
from .nodes import url_address

_log = logging.getLogger("thingsdb.http")


@functools.lru_cache(maxsize=8)
def _unlimited(connect_timeout: float) -> httpx.Timeout:
    """The limits of a try without the caller's timeout (made once)."""
    return httpx.Timeout(None, connect=connect_timeout)


class Nodes:
    """The node URLs of a client and the one in use (the one that answered
    last). Shared by every call, from any thread: a call reads the index
    once and writes it once, and either value is a fine place to start."""

    __slots__ = ("addresses", "current", "urls")

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = tuple(urls)
        #: each URL's host and port, for telemetry
        self.addresses = tuple(url_address(url) for url in self.urls)
        self.current = 0

    def order(self, start: int) -> list[int]:
        n = len(self.urls)
        return [(start + i) % n for i in range(n)]


class Attempts:
    """One call's way over the nodes.

    Iterating gives the index of the node to send to next; after a try
    that failed, :meth:`failed` (an httpx error) or :meth:`refused` (a
    NodeError answer) raises the error for the caller, or returns to let
    the loop go on to the next node. The loop ending means every node was
    tried: raise :meth:`exhausted`.
    """

    __slots__ = (
        "_connect_timeout",
        "_deadline",
        "_errors",
        "_nodes",
        "_order",
        "_resends",
        "_timeout",
    )

    def __init__(
        self,
        nodes: Nodes,
        timeout: float | None,
        connect_timeout: float,
        resends: int,
    ) -> None:
        self._nodes = nodes
        self._timeout = timeout
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._connect_timeout = connect_timeout
        self._resends = resends
        self._order = nodes.order(nodes.current)
        #: why each node failed, for the ConnectError when none answers
        self._errors: list[str] = []

    def __iter__(self) -> Iterator[int]:
        while self._order:
            index = self._order.pop(0)
            self.left()  # TimeoutError once the time is up
            if telemetry.SWITCH.on is not None:
                telemetry.sending(self._nodes.addresses[index])
            yield index

    def left(self) -> float | None:
        """Seconds left of the caller's timeout (None: no limit)."""
        if self._deadline is None:
            return None
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise ClientTimeoutError(f"timed out after {self._timeout:g} seconds")
        return left

    def httpx_timeout(self) -> httpx.Timeout:
        """The limits of one try: connecting at most ``connect_timeout``,
        and every step within what is left of the caller's timeout."""
        left = self.left()
        if left is None:
            return _unlimited(self._connect_timeout)
        return httpx.Timeout(left, connect=min(left, self._connect_timeout))

    def answered(self, index: int) -> None:
        """The node answered: the next calls start there."""
        self._nodes.current = index

    def failed(self, index: int, exc: httpx.HTTPError) -> None:
        """A try failed in httpx: raise what the caller gets, or return to
        try the next node."""
        url = self._nodes.urls[index]
        outcome, err = translate(exc, url)
        if outcome is Outcome.NOT_SENT:
            if self._deadline is not None and time.monotonic() >= self._deadline:
                raise ClientTimeoutError(
                    f"timed out after {self._timeout:g} seconds ({err})"
                ) from exc
            self._errors.append(str(err))
            self._move_on(index)
            if not self._order:
                if len(self._nodes.urls) == 1:
                    raise err from exc
                raise self.exhausted() from exc
            _log.info("%s; trying the next node", err)
            return
        if outcome is Outcome.LOST:
            # a connection that broke says the node may be going: the next
            # calls start at the next node (a node that is dying still
            # accepts connections for a moment, and would lose them too)
            self._move_on(index)
        if outcome is Outcome.LOST and self._resends > 0:
            self._resends -= 1
            # a new round over every node, the next one first
            self._order = self._nodes.order(self._nodes.current)
            _log.info("%s; sending the idempotent request again", err)
            telemetry.resent(self._nodes.addresses[index])
            return
        raise err from exc

    def refused(self, index: int, exc: NodeError) -> None:
        """The node answered that it cannot take the request (nothing ran):
        the next node may; else ``exc`` is raised."""
        if not (exc.error_msg == SHUTTING_DOWN or node_cannot_take(exc)):
            raise exc
        if len(self._nodes.urls) == 1 or not self._order:
            raise exc
        self._move_on(index)
        _log.info("%s: %s; trying the next node", self._nodes.urls[index], exc)
        telemetry.not_ready_retry(self._nodes.addresses[index])

    def exhausted(self) -> ConnectError:
        """The error when no node could be reached."""
        return ConnectError(
            "no node of the list could be reached: " + "; ".join(self._errors)
        )

    def _move_on(self, index: int) -> None:
        """The node at ``index`` failed: calls start at the next one."""
        if self._nodes.current == index:
            self._nodes.current = (index + 1) % len(self._nodes.urls)
