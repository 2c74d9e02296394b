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

    __slots__ = ("_hint", "_next", "_table")

    def __init__(self) -> None:
        self._table: dict[int, T] = {}
        self._next = 0
        # The last id given back: checked first when the table is crowded, so
        # a full table hands a freed id on in O(1) instead of scanning.
        self._hint: int | None = None

    def __len__(self) -> int:
        return len(self._table)

    def __contains__(self, pid: int) -> bool:
        return pid in self._table

    def is_full(self) -> bool:
        return len(self._table) >= _ID_COUNT

    def reserve(self, waiter: T) -> int | None:
        """Reserve a free id for ``waiter``; None when all ids are taken."""
        table = self._table
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
        waiter = self._table.pop(pid, None)
        if waiter is not None:
            self._hint = pid
        return waiter

    def get(self, pid: int) -> T | None:
        return self._table.get(pid)

    def waiters(self) -> list[T]:
        """Everything waiting now (the table is left as it is)."""
        return list(self._table.values())

    def drain(self) -> Iterator[T]:
        """Release every id (the connection is gone); yield the waiters."""
        table, self._table = self._table, {}
        self._hint = None
        yield from table.values()
