"""Small helpers shared by the adversity tests."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bothclients import Blocking
from thingsdb.client import Client


async def until(
    predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"{what}: not met within {timeout} s"
        await asyncio.sleep(0.005)


def connection(client: Client | Blocking) -> Any:
    """The connection in use of either client (see bothclients.py)."""
    if isinstance(client, Blocking):
        return client.client._session.conn
    return client._pool.conn


def pending(client: Client | Blocking) -> int:
    """Entries in the pending-request table of the client's connection."""
    conn = connection(client)
    return 0 if conn is None else len(conn._pending)


async def settled(client: Client | Blocking, timeout: float = 5.0) -> None:
    """Wait until the client has a connection with no pending request."""
    await until(
        lambda: connection(client) is not None and pending(client) == 0,
        timeout,
        "an idle connection with an empty pending table",
    )


def new_token(prefix: str, i: int) -> str:
    """A recognisable, lowercase, unique token (letters first, so that
    flipping bit 0x20 of its 2nd character makes an uppercase letter that no
    token ever has)."""
    return f"tok{prefix}x{i}x{secrets.token_hex(6)}"


@dataclass
class Outcome:
    token: str
    timeout: float
    elapsed: float
    value: object = None
    error: BaseException | None = None
    hung: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.hung


async def ask(
    client: Client | Blocking, token: str, timeout: float, slack: float
) -> Outcome:
    """``query('x', x=token)`` with ``timeout``; a guard of ``timeout + slack``
    around it tells a hang apart from a clean timeout."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    out = Outcome(token, timeout, 0.0)
    try:
        out.value = await asyncio.wait_for(
            client.query("x", x=token, timeout=timeout), timeout + slack
        )
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - classified by the caller
        out.error = exc
        # the client's own TimeoutError is a subclass of asyncio.TimeoutError:
        # only the guard's bare one is a hang
        out.hung = type(exc) is asyncio.TimeoutError
    out.elapsed = loop.time() - start
    return out
