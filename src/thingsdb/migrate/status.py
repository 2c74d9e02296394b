"""The record a collection keeps of its migrations, and how it compares
with the folder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

from .errors import RecordError
from .folder import MigrationFile

#: the property of the collection's root that holds the record
RECORD = "__migrations__"

State = Literal["applied", "edited", "missing", "pending"]


@dataclass(frozen=True)
class Applied:
    """One entry of the record: a migration as it was applied."""

    number: int
    name: str
    checksum: str
    #: when (ISO 8601, UTC) and by which user
    applied_at: str | None
    by: str | None


@dataclass(frozen=True)
class Record:
    """``.__migrations__``: the version (the number of the last migration
    applied; 0 for none) and one entry per applied migration."""

    version: int
    entries: tuple[Applied, ...]

    def entry(self, number: int) -> Applied | None:
        if 1 <= number <= len(self.entries):
            return self.entries[number - 1]
        return None


EMPTY = Record(0, ())


def _damaged(collection: str, what: str) -> RecordError:
    return RecordError(
        f"the record .{RECORD} of collection {collection!r} is damaged: {what}"
    )


def parse_record(value: Any, collection: str) -> Record:
    """The record from what the read query returned (see :mod:`.query`)."""
    if value is None:
        return EMPTY
    if not (isinstance(value, list) and len(value) == 2):
        raise (_damaged(collection, "it is not a thing"))
    version, entries = value
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise (_damaged(collection, f"its version is {version!r}"))
    if not isinstance(entries, list):
        raise (_damaged(collection, "'applied' is not a list"))
    parsed: list[Applied] = []
    for position, item in enumerate(entries, 1):
        if not (isinstance(item, list) and len(item) == 5):
            raise (_damaged(collection, f"entry {position} is not a thing"))
        number, name, digest, applied_at, by = item
        if number != position or not isinstance(number, int):
            raise (_damaged(collection, f"entry {position} has number {number!r}"))
        if not isinstance(name, str) or not isinstance(digest, str):
            raise (_damaged(collection, f"entry {position} lacks a name or checksum"))
        parsed.append(
            Applied(
                number=number,
                name=name,
                checksum=digest,
                applied_at=applied_at if isinstance(applied_at, str) else None,
                by=by if isinstance(by, str) else None,
            )
        )
    if len(parsed) != version:
        raise (
            _damaged(collection, f"its version is {version} with {len(parsed)} entries")
        )
    return Record(version, tuple(parsed))


@dataclass(frozen=True)
class MigrationStatus:
    """One migration, as the folder and the record see it.

    ``state``: ``applied`` (recorded, and the file is as it was), ``edited``
    (recorded, but the file changed since), ``missing`` (recorded, but no
    longer in the folder), ``pending`` (in the folder, not recorded).
    """

    number: int
    state: State
    file: MigrationFile | None
    applied: Applied | None

    @property
    def name(self) -> str:
        if self.file is not None:
            return self.file.name
        assert self.applied is not None
        return self.applied.name

    @property
    def renamed(self) -> bool:
        """Applied under another file name (same number and checksum)."""
        return (
            self.file is not None
            and self.applied is not None
            and self.file.name != self.applied.name
        )


class _InState:
    """``Status.pending`` and the like: the status's migrations in one
    state, in the order of ``migrations``."""

    def __init__(self, state: State) -> None:
        self._state = state

    @overload
    def __get__(self, status: None, owner: type) -> _InState: ...
    @overload
    def __get__(
        self, status: Status, owner: type | None = None
    ) -> tuple[MigrationStatus, ...]: ...
    def __get__(
        self, status: Status | None, owner: type | None = None
    ) -> _InState | tuple[MigrationStatus, ...]:
        if status is None:
            return self  # looked up on the class (help(), documentation)
        return tuple(m for m in status.migrations if m.state == self._state)


@dataclass(frozen=True)
class Status:
    """What ``status`` finds: the collection's version and every migration."""

    collection: str
    version: int
    migrations: tuple[MigrationStatus, ...]

    #: Applied and unchanged.
    applied = _InState("applied")
    pending = _InState("pending")
    edited = _InState("edited")
    missing = _InState("missing")

    @property
    def drift(self) -> bool:
        """An applied file was edited or is gone: ``up`` refuses to go on
        unless told (``allow_edited``)."""
        return bool(self.edited or self.missing)

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.drift


def compare(files: Sequence[MigrationFile], record: Record, collection: str) -> Status:
    """Set the folder's files against the record."""
    states: list[MigrationStatus] = []
    for number in range(1, max(len(files), record.version) + 1):
        file = files[number - 1] if number <= len(files) else None
        applied = record.entry(number)
        state: State
        if applied is None:
            state = "pending"
        elif file is None:
            state = "missing"
        elif file.checksum != applied.checksum:
            state = "edited"
        else:
            state = "applied"
        states.append(MigrationStatus(number, state, file, applied))
    return Status(collection, record.version, tuple(states))


def drift_message(status: Status) -> str:
    """One line: which applied files were edited or are gone."""
    parts: list[str] = []
    if status.edited:
        names = ", ".join(m.name for m in status.edited)
        parts.append(f"edited since applied: {names}")
    if status.missing:
        names = ", ".join(m.name for m in status.missing)
        parts.append(f"applied but not in the folder: {names}")
    return (
        f"the folder and collection {status.collection!r} disagree ("
        + "; ".join(parts)
        + "); nothing applied (allow it with --allow-edited)"
    )
