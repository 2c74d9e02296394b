"""The state both clients keep of their nodes and connections, and the
decisions made on it, free of I/O: the pool's nodes and the one in use,
the connection in use, the ones on their way out, the bridge during a move
(the connection left behind, whose room events fill the seam until the
rooms are joined on the new one), what a lost connection starts, and
where the packages a node sends unasked go.

Both clients' pools are a :class:`Nodes`: the asyncio ``NodePool``
(``client/pool.py``) and the blocking ``Session`` (``sync/_session.py``)
subclass it and add their I/O (tasks and futures; threads and a lock).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from ..telemetry import _switch as telemetry
from ..transport import Address
from .credentials import Credentials
from .failover import Reconnect, first_node, leaves_on, switches_on_loss

_log = logging.getLogger("thingsdb.client")


class Link(Protocol):
    """What the decisions need of a connection (either client's)."""

    @property
    def address(self) -> Address: ...

    @property
    def usable(self) -> bool:
        """Open, and taking new requests (not retired)."""
        ...

    @property
    def ended(self) -> bool:
        """Nothing more is read or written."""
        ...


C = TypeVar("C", bound=Link)

#: where a room event goes: dropped, to the rooms, or to the rooms that are
#: still bridged (see :meth:`Nodes.room_events_from`)
DROP, ROOMS, BRIDGED = 0, 1, 2


class Nodes(Generic[C]):
    """The connections of one client to the nodes of its pool."""

    __slots__ = (
        "addresses",
        "bridge",
        "closing",
        "conn",
        "connected_once",
        "credentials",
        "idx",
        "leaving",
    )

    #: the nodes, and the index of the one in use (or tried next)
    addresses: list[Address]
    idx: int
    #: kept for every reconnect (never logged)
    credentials: Credentials | None
    #: the connection in use: read once per request, so a plain attribute;
    #: None while there is none
    conn: C | None
    #: connections on their way out (retired or closing)
    leaving: set[C]
    #: during a move: the connection left behind (see :meth:`use`)
    bridge: C | None
    #: close() was called (and no connect or reconnect since)
    closing: bool
    # a connection was made since connect()/connect_pool(): a failure that
    # no retry can fix ends connect_pool() only before that
    connected_once: bool

    def init_nodes(self) -> None:
        self.addresses = []
        self.idx = 0
        self.credentials = None
        self.conn = None
        self.leaving = set()
        self.bridge = None
        self.closing = False
        self.connected_once = False

    def begin(self) -> None:
        """A connect() or connect_pool() starts."""
        self.closing = False
        self.connected_once = False

    def one_node(self, address: Address) -> None:
        """connect(): the pool is this node."""
        self.addresses = [address]
        self.idx = 0

    def pool(self, addresses: list[Address], credentials: Credentials) -> None:
        """connect_pool(): a random node first, then the others in turn."""
        self.addresses = addresses
        self.idx = first_node(len(addresses))
        self.credentials = credentials

    def reconnect_plan(
        self, switch: bool, delay: float, max_delay: Callable[[], float]
    ) -> Reconnect:
        """A reconnect from the node in use (``switch``: from the next)."""
        return Reconnect(
            self.addresses,
            self.idx,
            switch=switch,
            # connect_pool()'s first connection: no retry fixes a certificate
            first=not self.connected_once,
            delay=delay,
            max_delay=max_delay,
        )

    def in_use(self) -> C | None:
        """The connection in use, when it takes requests."""
        conn = self.conn
        return conn if conn is not None and conn.usable else None

    def use(self, conn: C, idx: int | None = None) -> C | None:
        """``conn`` (to the node ``idx`` of the pool) is the connection in
        use from now on. The one before is on its way out; its room events
        bridge the move until the rooms are joined on ``conn`` (after a
        failed attempt the bridge stays the one from before: the failed
        one did not join every room). Returns the one before when it was in
        use until now (reconnect(), a move): it is to be retired."""
        if telemetry.SWITCH.on is not None:
            telemetry.in_use(
                conn.address,
                reconnect=self.connected_once,
                moved=idx is not None and idx != self.idx,
            )
        if idx is not None:
            self.idx = idx
        old, self.conn = self.conn, conn
        self.connected_once = True
        if old is None or old is conn or old.ended:
            return None
        self.leaving.add(old)
        if self.bridge is None or self.bridge.ended:
            self.bridge = old
        return old if old.usable else None

    def owing(self) -> list[C]:
        """The connections left behind that are still open (the one in use
        too, once retired): a move waits for the answers they owe before
        the next node takes requests (see
        :data:`~thingsdb.engine.failover.MOVE_SETTLE_LIMIT`)."""
        conns = [c for c in self.leaving if not c.ended]
        conn = self.conn
        if conn is not None and not conn.usable and not conn.ended:
            conns.append(conn)
        return conns

    def lost(self, conn: C, auto_reconnect: bool) -> bool | None:
        """``conn`` ended: whether a reconnect starts, and from the next
        node (True) or the same one (False); None: none starts."""
        self.leaving.discard(conn)
        if conn is self.bridge:
            self.bridge = None
        if conn is not self.conn:
            return None
        self.conn = None
        if self.closing or not auto_reconnect:
            return None
        return switches_on_loss(len(self.addresses))

    def moves_on(self, conn: C) -> bool:
        """``conn``'s node cannot take requests: whether the client leaves
        it (only the connection in use is left; one left behind already is
        not the client's concern)."""
        return conn is self.conn

    def room_events_from(self, conn: C) -> int:
        """Where room events from ``conn`` go: the connection in use
        delivers to every room (ROOMS); during a move, the one left behind
        only to the rooms not joined again yet (BRIDGED: once a room is
        joined on the new node, the old one's copies would double its
        events); any other's are dropped (DROP)."""
        if conn is self.conn:
            return ROOMS
        if conn is self.bridge:
            return BRIDGED
        return DROP

    def status_from(
        self, conn: C, data: Any, auto_reconnect: bool
    ) -> tuple[str | None, bool] | None:
        """A NODE_STATUS from ``conn`` (logged here). None when ``conn`` is
        not the connection in use (the user hears of the node in use only,
        not, say, the OFFLINE of a node already left behind); else the
        status to tell the user (None when malformed), and whether the
        client leaves the node (see
        :func:`~thingsdb.engine.failover.leaves_on`)."""
        status = data.get("status") if isinstance(data, dict) else None
        _log.info("node %s status: %s", conn.address, status)
        if conn is not self.conn:
            return None
        told = status if isinstance(status, str) else None
        return told, leaves_on(status, auto_reconnect, self.closing)


def warning_from(address: Address, data: Any) -> tuple[int, str] | None:
    """A WARN package: its code and message (logged here), or None when it
    is malformed."""
    if not isinstance(data, dict):
        return None
    code, msg = data.get("warn_code"), data.get("warn_msg")
    _log.warning("warning from %s (%s): %s", address, code, msg)
    return (
        code if isinstance(code, int) else 0,
        msg if isinstance(msg, str) else str(msg),
    )
