"""THE SWITCH: what the request path reads to know whether telemetry is on,
and the hooks the engine and both clients call. Nothing here imports
OpenTelemetry, so the package works without the ``telemetry`` extra.

Off (the default), :data:`SWITCH`'s ``on`` is None, and each hook costs the
request path one attribute read and a comparison with None: no span, no
clock read, no dictionary. On, ``on`` is a :class:`Hooks` (the one in
:mod:`._otel`), and each request's :class:`Operation` (its span and its
clock) is also the value of :data:`CURRENT` while the request is being
sent, so that what happens to it further down (a wait for a reconnect, a
resend, a not-ready retry) reaches its span without being passed along.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from types import TracebackType


class _Future(Protocol):
    def add_done_callback(self, fn: Callable[[Any], object], /) -> Any: ...


F = TypeVar("F", bound=_Future)


class Operation(Protocol):
    """One operation's span and clock (see :mod:`._otel`)."""

    def event(self, name: str, address: object = None) -> None:
        """Add an event to the span (``address``: the node it concerns,
        where the operation goes now); an empty ``name``: only the node."""

    def end(self, exc: BaseException | None) -> None:
        """End the span and record the duration; ``exc``: how it failed."""

    def done(self, fut: Any) -> None:
        """:meth:`end` as a future's done-callback."""

    def __enter__(self) -> Operation: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Hooks(Protocol):
    """What telemetry does when it is on (see :mod:`._otel`)."""

    def query(self, code: object, scope: str, address: object) -> Operation: ...

    def run(self, procedure: object, scope: str, address: object) -> Operation: ...

    def room(
        self,
        kind: str,
        scope: str,
        address: object,
        ids: tuple[object, ...] = (),
        event: str | None = None,
    ) -> Operation: ...

    def connection(self, kind: str, address: object) -> Operation: ...

    def reconnected(self, address: object, moved: bool) -> None: ...

    def not_ready_retry(self, address: object) -> None: ...

    def resent(self, address: object) -> None: ...

    def room_event(self, scope: str) -> None: ...


class Switch:
    """Holds the hooks while telemetry is on (``on``), else None."""

    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on: Hooks | None = None


#: Read once per request by both clients: ``if SWITCH.on is not None``.
SWITCH = Switch()

#: The operation being sent in this context (while on), for the hooks below.
CURRENT: ContextVar[Operation | None] = ContextVar(
    "thingsdb_telemetry_operation", default=None
)


class _Nothing:
    """What the ``with`` hooks give while telemetry is off."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


_NOTHING = _Nothing()


# the asyncio client's futures in flight and their operations, for a retry
# that starts from the connection's callback, outside the caller's context
_FUTURES: weakref.WeakKeyDictionary[Any, Operation] = weakref.WeakKeyDictionary()


def follow(op: Operation, submit: Callable[..., F], *args: Any) -> F:
    """Send a request of the asyncio client with ``op`` as :data:`CURRENT`
    (a task made meanwhile, to wait for a connection, keeps it); the span
    ends when the future returned is done."""
    token = CURRENT.set(op)
    try:
        fut = submit(*args)
    except BaseException as exc:
        op.end(exc)
        raise
    finally:
        CURRENT.reset(token)
    _FUTURES[fut] = op
    fut.add_done_callback(op.done)
    return fut


class _Resume:
    """``with``: the operation of a future is :data:`CURRENT` again."""

    __slots__ = ("_op", "_token")

    def __init__(self, op: Operation | None) -> None:
        self._op = op
        self._token: Token[Operation | None] | None = None

    def __enter__(self) -> None:
        if self._op is not None:
            self._token = CURRENT.set(self._op)

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            CURRENT.reset(self._token)


def resuming(fut: object) -> _Resume | _Nothing:
    """``with``: a retry of ``fut`` (the asyncio client's, started from its
    connection's callback) belongs to ``fut``'s operation, as the first
    try did; nothing while off."""
    if SWITCH.on is None:
        return _NOTHING
    return _Resume(_FUTURES.get(fut))


def connection(kind: str, address: object) -> Operation | _Nothing:
    """A span for connect() or authenticate() (``with``), or nothing."""
    hooks = SWITCH.on
    if hooks is None:
        return _NOTHING
    return hooks.connection(kind, address)


def room(
    kind: str,
    scope: str,
    ids: tuple[object, ...] = (),
    event: str | None = None,
) -> Operation | _Nothing:
    """A span for a room's join, leave or emit (``with``), or nothing; the
    node is said by :func:`sending`."""
    hooks = SWITCH.on
    if hooks is None:
        return _NOTHING
    return hooks.room(kind, scope, None, ids, event)


def address_of(conn: object) -> object:
    """The address of a connection, or None for no connection."""
    return None if conn is None else getattr(conn, "address", None)


# -- what the engine tells (each a no-op while off) ---------------------------


def waited_for_connection(address: object) -> None:
    """The request in :data:`CURRENT` waited for a connection (a reconnect)
    and goes out on ``address``: an event on its span."""
    if SWITCH.on is not None:
        op = CURRENT.get()
        if op is not None:
            op.event("thingsdb.waited_for_connection", address)


def sending(address: object) -> None:
    """The operation in :data:`CURRENT` goes to the node at ``address``."""
    if SWITCH.on is not None:
        op = CURRENT.get()
        if op is not None:
            op.event("", address)


def in_use(address: object, reconnect: bool, moved: bool) -> None:
    """A connection to ``address`` is the one in use from now on: a
    reconnect (``moved``: to another node than before), or the first
    connection of connect()/connect_pool(), whose span it completes."""
    hooks = SWITCH.on
    if hooks is None:
        return
    if reconnect:
        hooks.reconnected(address, moved)
    else:
        op = CURRENT.get()
        if op is not None:
            op.event("", address)


def not_ready_retry(address: object) -> None:
    """``address`` answered not ready: the request goes again."""
    hooks = SWITCH.on
    if hooks is not None:
        hooks.not_ready_retry(address)
        op = CURRENT.get()
        if op is not None:
            op.event("thingsdb.not_ready_retry", address)


def resent(address: object) -> None:
    """An idempotent request lost with its connection to ``address`` goes
    out again."""
    hooks = SWITCH.on
    if hooks is not None:
        hooks.resent(address)
        op = CURRENT.get()
        if op is not None:
            op.event("thingsdb.idempotent_resend", address)


def room_event(scope: str) -> None:
    """A room event in ``scope`` goes to its room."""
    hooks = SWITCH.on
    if hooks is not None:
        hooks.room_event(scope)
