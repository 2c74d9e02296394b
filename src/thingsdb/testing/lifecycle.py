"""What a node and a cluster share: a ``with`` (or ``async with``) block
starts it unless it was started before, and closes it at the end."""

from __future__ import annotations

import abc
from typing import TypeVar

_L = TypeVar("_L", bound="Lifecycle")


class Lifecycle(abc.ABC):
    """Start, stop and close, blocking or async, and the context managers
    built on them."""

    @abc.abstractmethod
    def _never_started(self) -> bool:
        """Whether nothing of it was started yet."""

    @abc.abstractmethod
    def start(self) -> object:
        """Start, and wait until ready."""

    @abc.abstractmethod
    async def astart(self) -> object:
        """:meth:`start` without blocking the event loop."""

    @abc.abstractmethod
    def stop(self) -> object:
        """Stop the processes (SIGTERM by PID); stores and logs stay."""

    @abc.abstractmethod
    async def astop(self) -> object:
        """:meth:`stop` without blocking the event loop."""

    @abc.abstractmethod
    def _remove_own_folders(self) -> None:
        """Remove the folders it made itself (never one it was given)."""

    def close(self) -> None:
        """Stop, and remove the folders it made itself."""
        self.stop()
        self._remove_own_folders()

    async def aclose(self) -> None:
        """:meth:`close` without blocking the event loop."""
        await self.astop()
        self._remove_own_folders()

    def __enter__(self: _L) -> _L:
        if self._never_started():
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self: _L) -> _L:
        if self._never_started():
            await self.astart()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
