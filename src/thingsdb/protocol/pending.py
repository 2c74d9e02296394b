"""The table of requests waiting for an answer, keyed by package id.

An id stays reserved from the moment its request is written until its answer
arrives or the connection dies, even when the caller stopped waiting: a late
answer then finds its own (abandoned) entry and is dropped, and can never be
taken for the answer to a newer request that reused the id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from .package import MAX_REQUEST_PID

T = TypeVar("T")

_ID_COUNT = MAX_REQUEST_PID + 1  # 0 .. 0xFFFE; 0xFFFF belongs to events


class PendingRequests(Generic[T]):
    """Maps reserved package ids to whatever waits for their answer."""

    __slots__ = ("_hint", "_next", "table")

    def __init__(self) -> None:
        #: pid -> waiter, live; for reading only (``len(table)`` is the
        #: cheapest way to ask how many are in flight on a hot path)
        self.table: dict[int, T] = {}
        self._next = 0
        # The last id given back: checked first when the table is crowded, so
        # a full table hands a freed id on in O(1) instead of scanning.
        self._hint: int | None = None

    def __len__(self) -> int:
        return len(self.table)

    def __contains__(self, pid: int) -> bool:
        return pid in self.table

    def is_full(self) -> bool:
        return len(self.table) >= _ID_COUNT

    def reserve(self, waiter: T) -> int | None:
        """Reserve a free id for ``waiter``; None when all ids are taken."""
        table = self.table
        pid = self._next
        if pid in table:
            if len(table) >= _ID_COUNT:
                return None
            hint = self._hint
            if hint is not None and hint not in table:
                pid = hint
            else:
                while pid in table:
                    pid = pid + 1 if pid < MAX_REQUEST_PID else 0
        self._hint = None if pid == self._hint else self._hint
        self._next = pid + 1 if pid < MAX_REQUEST_PID else 0
        table[pid] = waiter
        return pid

    def pop(self, pid: int) -> T | None:
        """Release ``pid``; return what waited on it (None if nothing did)."""
        waiter = self.table.pop(pid, None)
        if waiter is not None:
            self._hint = pid
        return waiter

    def get(self, pid: int) -> T | None:
        return self.table.get(pid)

    def waiters(self) -> list[T]:
        """Everything waiting now (the table is left as it is)."""
        return list(self.table.values())

    def drain(self) -> Iterator[T]:
        """Release every id (the connection is gone); yield the waiters."""
        waiters = list(self.table.values())
        self.table.clear()
        self._hint = None
        yield from waiters
