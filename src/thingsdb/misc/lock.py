"""A distributed lock on ThingsDB: mutual exclusion across processes and hosts.

    from thingsdb.misc.lock import lock

    async with lock(client, "invoices", timeout=30):
        ...  # no other holder of the lock "invoices" runs this meanwhile

How it works. The lock lives in a collection of its own (``@:__lock__`` by
default), which :func:`setup` fills once: four procedures and a thing
``.locks`` that maps each lock (as ``'lock:<name>'``: some one-character
keys are reserved) to a FIFO queue of tickets. A ticket is a thing with a
room (whose id is the ticket number), the holder's ``timeout`` and, for the
ticket at the head of the queue, a ThingsDB task.

- ``lock_acquire(name, timeout)`` appends a ticket. When the queue was empty,
  the caller holds the lock at once, and a task is scheduled ``timeout``
  seconds ahead that releases the ticket if it is still there then (its
  holder died or hangs).
- Otherwise the caller joins the ticket's room and waits. When the ticket in
  front is released, ``lock_release`` removes it, deletes its task, schedules
  the task for the next ticket and emits ``go`` in that ticket's room.
- ``lock_ticket(name, ticket)`` tells a waiter its place (0: it holds the
  lock). A waiter asks right after joining its room (so a ``go`` emitted
  before the join is not missed), after every re-join and every few seconds.

ThingsDB runs every query that changes data atomically, one after the other,
so the queue is never seen half-changed: tickets are served in the order the
node received the requests, and only the head of the queue holds the lock.
Removing a ticket removes its room, so no room outlives its ticket.

Limits: ``timeout`` is whole seconds, ThingsDB's clock counts whole seconds
and tasks run on a one-second timer, so a lock whose holder died is free
again after more than ``timeout`` and at most ``timeout + 2`` seconds. A
waiter that dies keeps its place; when its turn comes it holds the lock for
its ``timeout`` unless it is released. A holder that runs past ``timeout``
loses the lock to the next in line; leaving the ``async with`` block then logs
a warning on ``thingsdb.lock``. A waiter that gives up (``wait``, or its task
is cancelled) takes its ticket back, also when the ticket's answer was still
on its way; when the connection is lost while ``lock_acquire`` is under way,
the client cannot know whether a ticket was made, and one that was is freed
by its timeout once its turn comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import weakref
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from .. import exceptions
from ..protocol import collection_name
from ..room import Room, event

if TYPE_CHECKING:
    from ..client import Client

_log = logging.getLogger("thingsdb.lock")

#: The collection the lock uses unless told otherwise.
DEFAULT_SCOPE = "@:__lock__"

#: Bump when the procedures change: setup() then replaces them.
VERSION = 1

#: A waiter asks for its place this often even without events (seconds).
POLL_INTERVAL = 5.0

_PROCEDURES = ("lock_acquire", "lock_release", "lock_ticket", "lock_locked")

# The task that frees a ticket whose holder did not release it in time; the
# same code in lock_acquire (an idle lock) and lock_release (the next one).
# datetime() counts whole seconds: one more second makes sure the task never
# runs before `timeout` seconds have passed.
_START_TASK = """task(
            datetime().move('seconds', {t}.timeout + 1),
            |_, name, ticket| wse(run('lock_release', name, ticket)),
            [name, {t}.room.id()],
        )"""

_SETUP = f"""
if (.get('lock_version') != version) {{
    procedures = {list(_PROCEDURES)!r};
    procedures.each(|p| has_procedure(p) && del_procedure(p));

    new_procedure('lock_acquire', |name, timeout| {{
        key = 'lock:' + name;
        lk = .locks.get(key);
        if (is_nil(lk)) {{
            .locks[key] = {{queue: []}};
            lk = .locks[key];
        }};
        t = {{room: room(), timeout: timeout, task: nil}};
        lk.queue.push(t);
        held = lk.queue.len() == 1;
        if (held) {{
            t.task = {_START_TASK.format(t="t")};
        }};
        [held, t.room.id()];
    }});

    new_procedure('lock_release', |name, ticket| {{
        key = 'lock:' + name;
        lk = .locks.get(key);
        if (is_nil(lk)) {{
            return false;
        }};
        i = lk.queue.find_index(|t| t.room.id() == ticket);
        if (is_nil(i)) {{
            return false;
        }};
        t = lk.queue.splice(i, 1)[0];
        if (is_task(t.task) && !is_nil(t.task.id())) {{
            t.task.del();
        }};
        if (i == 0) {{
            if (lk.queue.len() > 0) {{
                nxt = lk.queue[0];
                nxt.task = {_START_TASK.format(t="nxt")};
                nxt.room.emit('go');
            }} else {{
                .locks.del(key);
            }};
        }};
        true;
    }});

    new_procedure('lock_ticket', |name, ticket| {{
        lk = .locks.get('lock:' + name);
        is_nil(lk) ? nil : lk.queue.find_index(|t| t.room.id() == ticket);
    }});

    new_procedure('lock_locked', |name| .locks.has('lock:' + name));

    if (!.has('locks')) {{
        .locks = {{}};
    }};
    .lock_version = version;
}};
nil;
"""

#: (client, scope) pairs set up in this process
_ready: weakref.WeakKeyDictionary[Client, set[str]] = weakref.WeakKeyDictionary()


def _collection_scope(scope: str) -> tuple[str, str]:
    """``(scope, collection name)`` for a collection scope or a bare name."""
    if not isinstance(scope, str):
        raise TypeError(f"scope must be a str, not {type(scope).__name__}")
    if not scope.startswith(("@", "/")):
        scope = f"@:{scope}"
    return scope, collection_name(scope)


async def setup(
    client: Client, scope: str = DEFAULT_SCOPE, *, collection: str | None = None
) -> None:
    """Create the lock's collection (when the user may and it is missing),
    its procedures and data. Safe to run any number of times, from any
    number of clients at once; :func:`lock` calls it on first use.

    ``scope`` is a collection scope (``'@:locks'``) or a collection name;
    ``collection`` (a name, python-thingsdb's keyword) takes its place."""
    if collection is not None:
        scope = collection
    scope, name = _collection_scope(scope)
    try:
        version = await client.query(".get('lock_version');", scope=scope)
    except exceptions.LookupError:
        # no such collection: make it (one atomic query, so racing set-ups
        # agree), then fill it
        await client.query(
            "has_collection(name) || new_collection(name); nil;",
            name=name,
            scope="@thingsdb",
        )
        version = None
    if version != VERSION:
        await client.query(_SETUP, version=VERSION, scope=scope)
    _ready.setdefault(client, set()).add(scope)


async def _ensure_setup(client: Client, scope: str) -> str:
    scope, _ = _collection_scope(scope)
    if scope not in _ready.get(client, ()):
        await setup(client, scope)
    return scope


def _seconds(timeout: float) -> int:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number, not {type(timeout).__name__}")
    if not timeout > 0 or math.isinf(timeout):
        raise ValueError(f"timeout must be a positive number of seconds: {timeout}")
    return max(1, math.ceil(timeout))


class _Turn(Room):
    """The room of one waiting ticket: wakes its waiter on ``go``, on every
    (re-)join and when the room is deleted."""

    def __init__(self, ticket: int, scope: str) -> None:
        super().__init__(ticket, scope=scope)
        self.granted = False
        self.wakeup = asyncio.Event()

    async def on_join(self) -> None:
        self.wakeup.set()

    @event("go")
    def on_go(self, *args: Any) -> None:
        self.granted = True
        self.wakeup.set()

    def on_delete(self) -> None:
        self.wakeup.set()


async def _take_ticket(
    client: Client, name: str, scope: str, seconds: int
) -> tuple[bool, int]:
    request = asyncio.ensure_future(
        client.run("lock_acquire", name, seconds, scope=scope)
    )
    try:
        held, ticket = await asyncio.shield(request)
    except asyncio.CancelledError:
        # the node makes the ticket all the same: give it back when it comes
        request.add_done_callback(functools.partial(_give_back, client, name, scope))
        raise
    return bool(held), int(ticket)


#: releases under way in the background (a reference keeps them alive)
_background: set[asyncio.Task[None]] = set()


def _give_back(
    client: Client, name: str, scope: str, request: asyncio.Future[Any]
) -> None:
    if request.cancelled() or request.exception() is not None:
        return
    _, ticket = request.result()
    task = asyncio.ensure_future(_release_quietly(client, name, scope, int(ticket)))
    _background.add(task)
    task.add_done_callback(_background.discard)


async def _release_quietly(client: Client, name: str, scope: str, ticket: int) -> None:
    try:
        await _release(client, name, scope, ticket, False)
    except Exception:  # noqa: BLE001 - nobody awaits this; its timeout frees it
        _log.warning(
            "could not give ticket %d for lock %r in %s back; its timeout will free it",
            ticket,
            name,
            scope,
            exc_info=True,
        )


async def _acquire(client: Client, name: str, scope: str, seconds: int) -> int:
    """Take a ticket and return it once it holds the lock."""
    set_up_again = False
    while True:
        try:
            held, ticket = await _take_ticket(client, name, scope, seconds)
        except exceptions.LookupError:
            # the collection or a procedure went away since set-up
            if set_up_again:
                raise
            set_up_again = True
            await setup(client, scope)
            continue
        if held:
            return ticket
        try:
            if await _wait_turn(client, name, scope, ticket):
                return ticket
        except BaseException:
            # cancelled or timed out: give the place up (or the lock, if it
            # came meanwhile); shielded so a second cancel cannot stop it
            await asyncio.shield(_release(client, name, scope, ticket, False))
            raise
        _log.warning(
            "ticket %d for lock %r in %s vanished while waiting; asking again",
            ticket,
            name,
            scope,
        )


async def _wait_turn(client: Client, name: str, scope: str, ticket: int) -> bool:
    """Wait until ``ticket`` heads the queue (True) or is gone (False)."""
    turn = _Turn(ticket, scope)
    try:
        await turn.join(client, wait=None)
    except exceptions.LookupError:
        return False  # the ticket's room is gone, and so is the ticket
    while not turn.granted:
        turn.wakeup.clear()
        place = await client.run("lock_ticket", name, ticket, scope=scope)
        if place is None:
            return False
        if place == 0 or turn.granted:
            break
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(turn.wakeup.wait(), POLL_INTERVAL)
    # no leave(): releasing the ticket deletes its room, which ends the
    # room on this client too
    return True


async def _release(
    client: Client, name: str, scope: str, ticket: int, held: bool
) -> None:
    released = await client.run("lock_release", name, ticket, scope=scope)
    if held and not released:
        _log.warning(
            "lock %r in %s was held longer than its timeout and had been "
            "released already (ticket %d)",
            name,
            scope,
            ticket,
        )


@contextlib.asynccontextmanager
async def lock(
    client: Client,
    name: str,
    scope: str = DEFAULT_SCOPE,
    timeout: float = 60,
    *,
    wait: float | None = None,
) -> AsyncIterator[int]:
    """Hold the lock ``name`` for the ``async with`` block.

    ``scope`` is the lock's collection, as a scope or a name (created on
    first use when missing; the user then needs CHANGE on ``@thingsdb``).
    ``timeout`` (seconds, rounded up to whole seconds) is how long the lock
    stays held at most when its holder dies or hangs. ``wait`` limits the
    time to get the lock (None: wait as long as it takes); when it passes,
    the place in the queue is given up and ``thingsdb.exceptions.TimeoutError``
    is raised. The block gets the ticket number.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    seconds = _seconds(timeout)
    if wait is not None and (isinstance(wait, bool) or not wait > 0):
        raise ValueError(f"wait must be above 0 seconds, or None: {wait}")
    scope = await _ensure_setup(client, scope)
    try:
        ticket = await asyncio.wait_for(_acquire(client, name, scope, seconds), wait)
    except asyncio.TimeoutError:
        raise exceptions.TimeoutError(
            f"lock {name!r} in {scope} not acquired within {wait} seconds"
        ) from None
    try:
        yield ticket
    except BaseException:
        try:
            await asyncio.shield(_release(client, name, scope, ticket, True))
        except Exception:  # noqa: BLE001 - the block's own error matters more
            _log.exception("releasing lock %r in %s failed", name, scope)
        raise
    await asyncio.shield(_release(client, name, scope, ticket, True))


async def locked(client: Client, name: str, scope: str = DEFAULT_SCOPE) -> bool:
    """Whether someone holds the lock ``name`` right now."""
    scope = await _ensure_setup(client, scope)
    try:
        found: bool = await client.run("lock_locked", name, scope=scope)
    except exceptions.LookupError:
        await setup(client, scope)  # the collection went away since set-up
        found = await client.run("lock_locked", name, scope=scope)
    return found
