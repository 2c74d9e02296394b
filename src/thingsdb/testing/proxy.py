"""A loopback TCP proxy for tests of connection loss: it forwards bytes to a
node (terminating TLS when given a server context) and :meth:`Proxy.drop`
cuts every connection through it at once, both ways."""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from .node import LOOPBACK


class Proxy:
    """Accept loopback connections (TLS when ``ssl_context`` is given) and forward
    the bytes to ``target``. :meth:`drop` cuts every current connection."""

    def __init__(
        self, target: tuple[str, int], *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.target = target
        self._ssl = ssl_context
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.accepted = 0

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the proxy first"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def address(self) -> tuple[str, int]:
        return LOOPBACK, self.port

    async def start(self) -> Proxy:
        self._server = await asyncio.start_server(
            self._handle, LOOPBACK, 0, ssl=self._ssl
        )
        return self

    async def __aenter__(self) -> Proxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def drop(self) -> None:
        """Abort every connection now (both sides)."""
        for writer in list(self._writers):
            writer.transport.abort()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.accepted += 1
        up_writer: asyncio.StreamWriter | None = None
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            self._writers.add(up_writer)
            await asyncio.gather(
                self._pump(reader, up_writer), self._pump(up_reader, writer)
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for w in (writer, up_writer):
                if w is None:
                    continue
                self._writers.discard(w)
                w.close()
                with contextlib.suppress(OSError):
                    await w.wait_closed()
            self._tasks.discard(task)

    @staticmethod
    async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        finally:
            # one side is done: end the other one too
            dst.transport.abort()
