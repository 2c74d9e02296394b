"""Deadlines: one budget of loop time, carried through every step of a
call (connect, authenticate, wait for a connection, the request), so that
``timeout=5`` means five seconds in all."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable
from typing import TypeVar

from .exceptions import TimeoutError as ClientTimeoutError

T = TypeVar("T")


def check_timeout(timeout: object) -> float | None:
    """``timeout`` as seconds (None: no limit); TypeError/ValueError for
    anything else, said at the call."""
    return None if timeout is None else positive_timeout(timeout)


def positive_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"timeout must be a number or None, not {type(timeout).__name__}"
        )
    if not timeout > 0:
        raise ValueError(f"timeout must be above 0 seconds (or None), not {timeout}")
    return float(timeout)


def monotonic_deadline(timeout: float | None) -> float | None:
    """The ``time.monotonic()`` ``timeout`` seconds from now, for the
    blocking client's waits; None for no limit: None, or an infinite
    timeout (a deadline that never comes, which a lock or a condition cannot
    wait for)."""
    if timeout is None or timeout == INFINITE:
        return None
    return time.monotonic() + timeout


#: A timeout of ``math.inf``: no limit.
INFINITE = float("inf")


def deadline_after(
    loop: asyncio.AbstractEventLoop, timeout: float | None
) -> float | None:
    """The loop time ``timeout`` seconds from now (None: no deadline)."""
    return None if timeout is None else loop.time() + timeout


async def wait_until(aw: Awaitable[T], deadline: float | None, what: str) -> T:
    """Await ``aw`` until the loop time ``deadline`` (None: no deadline).

    A timer cancels the waiting task at the deadline and the cancellation is
    turned into a TimeoutError here. (``asyncio.wait_for`` before Python 3.12
    drops a cancellation that arrives as ``aw`` completes; this never does.)
    """
    if deadline is None:
        return await aw
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    handle = loop.call_at(deadline, expire)
    try:
        return await aw
    except asyncio.CancelledError:
        if not expired:
            raise
        if sys.version_info >= (3, 11):
            if task.uncancel() > 0:
                raise  # cancelled by its owner too: that wins
        raise ClientTimeoutError(f"timed out while {what}") from None
    finally:
        handle.cancel()
        if asyncio.iscoroutine(aw):
            aw.close()  # never started (expired at once): no warning


def wait_step(deadline: float | None, step: float, message: str) -> float:
    """For the blocking client's waits in steps: the next step towards
    ``deadline`` (``time.monotonic()`` time), at most ``step`` long;
    ClientTimeoutError(``message``) once the deadline has passed."""
    if deadline is None:
        return step
    left = deadline - time.monotonic()
    if left <= 0:
        raise ClientTimeoutError(message)
    return min(step, left)
