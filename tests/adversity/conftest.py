"""Fixtures and hooks of the adversity tier (``-m adversity``).

It inherits ``tests/conftest.py`` (the session ``node`` and ``collection``
fixtures, and the skip without a node binary). A fault proxy of our own sits
between the client and the node; see ``faultproxy.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, Protocol, TypeVar

import pytest

from bothclients import Blocking, MakeClient
from thingsdb.client import Client

from . import tally
from .faultproxy import FaultProxy


class NodeLike(Protocol):
    """What these tests use of ``realnode.Node`` (kept structural, so that
    ``mypy tests/adversity`` needs no path to ``tests/realnode.py``)."""

    @property
    def address(self) -> tuple[str, int]: ...

    user: str
    password: str

    def query(
        self, code: str, scope: str = ..., *, timeout: float = ..., **variables: Any
    ) -> Any: ...


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if any(tally.tried.values()) or tally.held or tally.broken:
        terminalreporter.write_line(tally.summary())


def fast_client() -> Client:
    """A client that reconnects fast (faults are short)."""
    return Client(reconnect_delay=0.01, reconnect_max_delay=0.2, connect_timeout=2.0)


@pytest.fixture
async def proxy(node: NodeLike) -> AsyncIterator[FaultProxy]:
    p = await FaultProxy(node.address).start()
    try:
        yield p
    finally:
        await p.close()


C = TypeVar("C", Client, Blocking, Client | Blocking)


@contextlib.asynccontextmanager
async def through_proxy(
    client: C, node: NodeLike, proxy: FaultProxy
) -> AsyncIterator[C]:
    """``client``, authenticated, its connection through ``proxy``."""
    await client.connect(*proxy.address, timeout=10)
    try:
        await client.authenticate(node.user, node.password, timeout=10)
        yield client
    finally:
        proxy.heal()
        await client.close_and_wait()


@pytest.fixture
async def proxied(node: NodeLike, proxy: FaultProxy) -> AsyncIterator[Client]:
    """An authenticated client whose connection goes through ``proxy``."""
    async with through_proxy(fast_client(), node, proxy) as client:
        yield client


@pytest.fixture
async def proxied_any(
    node: NodeLike, proxy: FaultProxy, make_client: MakeClient
) -> AsyncIterator[Client | Blocking]:
    """``proxied``, for each client (see bothclients.py)."""
    client = make_client(
        reconnect_delay=0.01, reconnect_max_delay=0.2, connect_timeout=2.0
    )
    assert isinstance(client, (Client, Blocking))
    async with through_proxy(client, node, proxy) as either:
        yield either


@pytest.fixture
async def direct(node: NodeLike) -> AsyncIterator[Client]:
    """An authenticated client straight to the node."""
    client = fast_client()
    await client.connect(*node.address, timeout=10)
    try:
        await client.authenticate(node.user, node.password, timeout=10)
        yield client
    finally:
        await client.close_and_wait()
