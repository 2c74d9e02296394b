"""One fixture over the two clients, for the behaviour both promise
(failover, reconnects, not-ready answers, keepalive, rooms through moves):
such a test is written once, against the asyncio client's API, and runs
for ``thingsdb.client`` and for ``thingsdb.sync``.

``make_client(**settings)`` makes a client of the test's flavour. The
blocking one comes behind :class:`Blocking`, which runs each of its calls
in a thread (``asyncio.to_thread``), so that the test's event loop (a fake
node, a proxy, the test's own waits) keeps running meanwhile: awaiting a
call waits for the blocking call to return.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

import pytest

from thingsdb.client import Client
from thingsdb.sync import Client as SyncClient

FLAVOURS = ("asyncio", "blocking")

T = TypeVar("T")


class AnyClient(Protocol):
    """What the tests over both clients use of a client."""

    on_node_status: Callable[[str], object] | None

    def connect(
        self, host: str, port: int = ..., timeout: float | None = ...
    ) -> Awaitable[None]: ...

    def connect_pool(
        self, pool: Iterable[Any], *auth: str, timeout: float | None = ...
    ) -> Awaitable[None]: ...

    def authenticate(
        self, *auth: str, timeout: float | None = ...
    ) -> Awaitable[None]: ...

    def query(
        self,
        code: str,
        scope: str | None = ...,
        timeout: float | None = ...,
        **kwargs: Any,
    ) -> Awaitable[Any]: ...

    def run(
        self, procedure: str, *args: Any, scope: str | None = ..., **kwargs: Any
    ) -> Awaitable[Any]: ...

    @property
    def idempotent(self) -> Any: ...

    def reconnect(self) -> Awaitable[None] | None: ...

    def is_connected(self) -> bool: ...

    def connection_info(self) -> str: ...

    def close_and_wait(self) -> Awaitable[None]: ...


class Blocking:
    """A ``thingsdb.sync.Client`` behind the asyncio client's API. Its calls
    run in threads of its own (as many as a test's concurrent callers: one
    blocking client shared by threads), never more than 64 at once."""

    def __init__(self, **settings: Any) -> None:
        self.client = SyncClient(**settings)
        self._threads = ThreadPoolExecutor(64, thread_name_prefix="blocking-call")

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._threads, functools.partial(fn, *args, **kwargs)
        )

    @property
    def on_node_status(self) -> Callable[[str], object] | None:
        return self.client.on_node_status

    @on_node_status.setter
    def on_node_status(self, fn: Callable[[str], object] | None) -> None:
        self.client.on_node_status = fn

    async def connect(
        self, host: str, port: int = 9200, timeout: float | None = 5
    ) -> None:
        await self.call(self.client.connect, host, port, timeout)

    async def connect_pool(
        self, pool: Iterable[Any], *auth: str, timeout: float | None = None
    ) -> None:
        await self.call(self.client.connect_pool, list(pool), *auth, timeout=timeout)

    async def authenticate(self, *auth: str, timeout: float | None = 5) -> None:
        await self.call(self.client.authenticate, *auth, timeout=timeout)

    async def query(
        self,
        code: str,
        scope: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        return await self.call(self.client.query, code, scope, timeout, **kwargs)

    async def run(
        self, procedure: str, *args: Any, scope: str | None = None, **kwargs: Any
    ) -> Any:
        return await self.call(self.client.run, procedure, *args, scope=scope, **kwargs)

    @property
    def idempotent(self) -> BlockingIdempotent:
        return BlockingIdempotent(self)

    def reconnect(self) -> asyncio.Future[None]:
        """The blocking reconnect(), waited for in a thread."""
        return asyncio.ensure_future(self.call(self.client.reconnect, True, 20))

    def is_connected(self) -> bool:
        return self.client.is_connected()

    def connection_info(self) -> str:
        return self.client.connection_info()

    async def close_and_wait(self) -> None:
        await self.call(self.client.close_and_wait)
        self._threads.shutdown(wait=False)


class BlockingIdempotent:
    """``client.idempotent`` of :class:`Blocking`."""

    def __init__(self, blocking: Blocking) -> None:
        self._blocking = blocking

    async def query(
        self,
        code: str,
        scope: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        blocking = self._blocking
        idempotent = blocking.client.idempotent
        return await blocking.call(idempotent.query, code, scope, timeout, **kwargs)

    async def run(
        self, procedure: str, *args: Any, scope: str | None = None, **kwargs: Any
    ) -> Any:
        blocking = self._blocking
        idempotent = blocking.client.idempotent
        return await blocking.call(
            idempotent.run, procedure, *args, scope=scope, **kwargs
        )


MakeClient = Callable[..., AnyClient]


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``predicate()`` holds: the blocking client runs its
    callbacks (on_node_status...) in a thread of their own, in order but not
    before its next call returns."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() >= deadline:
            return  # the assertion after says what is missing
        await asyncio.sleep(0.005)


@pytest.fixture(params=FLAVOURS)
def make_client(request: pytest.FixtureRequest) -> MakeClient:
    """Makes a client of this test's flavour (see the module docstring)."""
    if request.param == "asyncio":
        return Client
    return Blocking
