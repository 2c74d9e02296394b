"""What ``status``, ``up`` and ``baseline`` do, without I/O.

Each is a generator that yields steps (a query to send, a file to read or
write, progress to report) and gets each step's result back, or its error
thrown in. The async and the blocking API drive the same generators (see
:mod:`.api`), so the logic exists once.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from .. import exceptions as tx
from ..exceptions import ConnectionLostError, ProtocolError, ThingsDBError
from ..exceptions import TimeoutError as ClientTimeoutError
from .errors import (
    CollectionError,
    ConflictError,
    FolderError,
    MigrateError,
    RecordError,
)
from .failures import DriftError, MigrationFailed, MigrationInterrupted
from .folder import MigrationFile, checksum, file_name, normalize
from .query import (
    EXPORT_CODE,
    MARK_CODE,
    READ_RECORD,
    CodeRaised,
    Conflict,
    NotOurs,
    RecordNotWritable,
    Spans,
    apply_code,
    apply_variables,
    check_code,
    new_token,
    read_error,
    syntax_line,
)
from .statements import line_of
from .status import RECORD, Record, Status, compare, drift_message, parse_record

T = TypeVar("T")

#: how long reading the record may take after a lost connection (the
#: client reconnects meanwhile)
RESOLVE_TIMEOUT = 60.0


# -- steps ------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """Send ``code`` to the collection. A ``read`` changes nothing and may
    be sent again after a lost connection (``client.idempotent``)."""

    code: str
    variables: dict[str, Any] = field(default_factory=dict)
    read: bool = False
    timeout: float | None = None


@dataclass(frozen=True)
class LoadFolder:
    """Read and check the folder; a missing one is ``[]`` if ``missing_ok``."""

    path: Path
    missing_ok: bool = False


@dataclass(frozen=True)
class WriteNewFile:
    """Write a file that must not exist yet (folders made as needed)."""

    path: Path
    text: str


@dataclass(frozen=True)
class RemoveFile:
    """Remove a file if it is there (``baseline`` taking its file back when
    marking it applied failed)."""

    path: Path


@dataclass(frozen=True)
class Progress:
    """What ``up`` is doing, for ``on_progress``.

    ``event``: ``checked`` (the syntax of a pending file was checked),
    ``applying`` (about to send it), ``applied`` (applied, by this ``up``),
    ``skipped`` (applied meanwhile by another deployer).
    """

    event: Literal["checked", "applying", "applied", "skipped"]
    migration: MigrationFile
    note: str = ""


@dataclass(frozen=True)
class Notify:
    progress: Progress


Step = Query | LoadFolder | WriteNewFile | RemoveFile | Notify
Steps = Generator[Step, Any, T]

#: errors a step may end with; they are thrown into the generator
STEP_ERRORS: tuple[type[Exception], ...] = (ThingsDBError, OSError, MigrateError)

ProgressCallback = Callable[[Progress], object]


@dataclass(frozen=True)
class UpResult:
    """What ``up`` did: the migrations it applied (in order), the ones it
    found applied meanwhile by another deployer, and the collection's
    version at the end."""

    collection: str
    applied: tuple[MigrationFile, ...]
    skipped: tuple[MigrationFile, ...]
    version: int


# -- reading ----------------------------------------------------------------------


def read_record(collection: str, timeout: float | None = None) -> Steps[Record]:
    try:
        value = yield Query(READ_RECORD, read=True, timeout=timeout)
    except tx.LookupError as exc:
        # the read itself raises nothing: the collection is not there
        raise CollectionError(
            f"no collection {collection!r} on the node ({exc.error_msg})"
        ) from exc
    return parse_record(value, collection)


def status_steps(folder: Path, collection: str) -> Steps[Status]:
    files: list[MigrationFile] = yield LoadFolder(folder)
    record = yield from read_record(collection)
    return compare(files, record, collection)


# -- up ---------------------------------------------------------------------------


def _target(to: int | None, files: list[MigrationFile], version: int) -> int:
    if to is None:
        return len(files)
    if isinstance(to, bool) or not isinstance(to, int):
        raise TypeError(f"to must be a migration number, not {to!r}")
    if to < 1 or to > len(files):
        last = f"the last is {len(files):04d}" if files else "the folder has none"
        raise ValueError(f"no migration {to:04d} in the folder ({last})")
    if to < version:
        raise ValueError(
            f"the collection is at {version:04d}, past {to:04d} (migrations only go up)"
        )
    return to


def up_steps(
    folder: Path,
    collection: str,
    to: int | None = None,
    allow_edited: bool = False,
    resolve_timeout: float = RESOLVE_TIMEOUT,
) -> Steps[UpResult]:
    files: list[MigrationFile] = yield LoadFolder(folder)
    record = yield from read_record(collection)
    status = compare(files, record, collection)
    target = _target(to, files, record.version)
    if status.drift and not allow_edited:
        raise DriftError(drift_message(status), status)
    todo = _pending(status, target)

    # every pending file is parsed by the node before the first is applied,
    # so a syntax error anywhere stops `up` before it changed anything
    for migration in todo:
        yield from _check(migration)
        yield Notify(Progress("checked", migration))

    applied: list[MigrationFile] = []
    skipped: list[MigrationFile] = []
    conflicts = 0
    while todo:
        migration = todo[0]
        yield Notify(Progress("applying", migration))
        done, note = yield from _apply(migration, collection, resolve_timeout)
        if done:
            applied.append(migration)
            todo.pop(0)
            yield Notify(Progress("applied", migration, note))
            continue
        # another deployer changed the record first: read it again
        conflicts += 1
        if conflicts > len(files) + 10:
            raise ConflictError(
                f"the record of {collection!r} kept changing while up ran "
                f"({conflicts} times); nothing more applied"
            )
        record = yield from read_record(collection)
        status = compare(files, record, collection)
        if status.drift and not allow_edited:
            raise DriftError(drift_message(status), status)
        still = _pending(status, target)
        for gone in todo:
            if gone not in still:
                skipped.append(gone)
                yield Notify(Progress("skipped", gone, "applied by another deployer"))
        todo = still
    return UpResult(
        collection, tuple(applied), tuple(skipped), max(record.version, _last(applied))
    )


def _last(applied: list[MigrationFile]) -> int:
    return applied[-1].number if applied else 0


def _pending(status: Status, target: int) -> list[MigrationFile]:
    return [m.file for m in status.pending if m.file is not None and m.number <= target]


def _check(migration: MigrationFile) -> Steps[None]:
    token = new_token()
    try:
        yield Query(check_code(migration), {"mg_tok": token}, read=True)
    except ThingsDBError as exc:
        if exc.error_msg == token:
            return  # parsed; the raise at its start stopped it
        raise _not_ours(migration, exc) from exc
    raise MigrateError(f"{migration.name}: the syntax check ran the code")


def _statement(
    migration: MigrationFile, spans: Spans | None, n: int
) -> tuple[int | None, str | None]:
    """The line and the text (its first line, shortened) of the ``n``-th
    top-level statement of ``migration``."""
    if spans is None or not 1 <= n <= len(spans):
        return None, None
    start, end = spans[n - 1]
    text = migration.text[start:end].strip().split("\n", 1)[0].rstrip()
    if len(text) > 72:
        text = text[:69].rstrip() + "..."
    elif text != migration.text[start:end].strip():
        text += " ..."
    return line_of(migration.text, start), text


def _not_ours(migration: MigrationFile, exc: ThingsDBError) -> MigrationFailed:
    """An error from before the migration's code ran."""
    if isinstance(exc, tx.SyntaxError):
        line, message = syntax_line(exc, migration)
        error = tx.SyntaxError(
            errdata={"error_code": exc.error_code, "error_msg": message}
        )
        return MigrationFailed(migration, line or None, error, ran=False)
    return MigrationFailed(migration, None, exc, ran=False)


def _apply(
    migration: MigrationFile, collection: str, resolve_timeout: float
) -> Steps[tuple[bool, str]]:
    """Apply one migration: ``(True, note)`` when applied, ``(False, "")``
    when the record was not at the expected version."""
    token = new_token()
    code, spans = apply_code(migration)
    while True:
        try:
            yield Query(code, apply_variables(migration, token))
            return True, ""
        except ThingsDBError as exc:
            outcome = read_error(exc, token)
            if isinstance(outcome, Conflict):
                return False, ""
            if isinstance(outcome, RecordNotWritable):
                raise RecordError(_record_hint(collection, outcome.message)) from exc
            if isinstance(outcome, CodeRaised):
                line, statement = _statement(migration, spans, outcome.statement)
                raise MigrationFailed(
                    migration, line, outcome.error, ran=True, statement=statement
                ) from outcome.error
            assert isinstance(outcome, NotOurs)
            if isinstance(exc, tx.SyntaxError) and spans is not None:
                # the marks broke the code (it parsed without them): nothing
                # ran; send it without marks
                code, spans = apply_code(migration, marked=False)
                continue
            raise _not_ours(migration, exc) from exc
        except (ConnectionLostError, ProtocolError, ClientTimeoutError) as exc:
            return (yield from _resolve(migration, collection, exc, resolve_timeout))


def _resolve(
    migration: MigrationFile,
    collection: str,
    lost: Exception,
    resolve_timeout: float,
) -> Steps[tuple[bool, str]]:
    """The answer to an apply query was lost: the record tells whether the
    migration was applied (the check and the record write are in the same
    query as the code, so the record cannot be wrong about it)."""
    try:
        record = yield from read_record(collection, resolve_timeout)
    except (ThingsDBError, OSError, MigrateError) as exc:
        raise MigrationInterrupted(
            f"lost the connection while applying {migration.name} ({lost}) "
            f"and could not read the record after it ({exc}); it may or may "
            "not be applied: run status to see",
            migration,
            None,
        ) from exc
    entry = record.entry(migration.number)
    if entry is not None and entry.checksum == migration.checksum:
        return True, "confirmed from the record after the connection was lost"
    if entry is not None:
        return False, ""  # applied by someone else, from another file
    raise MigrationInterrupted(
        f"lost the connection while applying {migration.name} ({lost}); the "
        "record shows it was not applied (it did not reach the node, or it "
        "failed there): run up again",
        migration,
        False,
    ) from lost


def _record_hint(collection: str, message: str) -> str:
    return (
        f"cannot write the record .{RECORD} of {collection!r}: {message}; a "
        f"typed root needs a field for it: mod_type('<type>', 'add', "
        f"'{RECORD}', 'thing?')"
    )


# -- baseline ---------------------------------------------------------------------


def baseline_header(migration_name: str, collection: str) -> str:
    return (
        f"// {migration_name}: the schema of collection '{collection}' (its\n"
        "// export()) as `thingsdb-cli migrate baseline` found it; marked as\n"
        "// applied there, and run by `up` on a new collection.\n"
        "\n"
    )


def baseline_steps(
    folder: Path,
    collection: str,
    description: str = "baseline",
    resolve_timeout: float = RESOLVE_TIMEOUT,
) -> Steps[MigrationFile]:
    files: list[MigrationFile] = yield LoadFolder(folder, missing_ok=True)
    if files:
        raise FolderError(
            f"{folder} holds migrations already ({files[0].name}...); "
            "baseline starts a new folder"
        )
    record = yield from read_record(collection)
    if record.version:
        raise RecordError(
            f"collection {collection!r} has a record already (at "
            f"{record.version:04d}); baseline is for a collection without one"
        )
    schema = yield Query(EXPORT_CODE, read=True)
    if not isinstance(schema, str):
        raise MigrateError(f"export() gave {type(schema).__name__}, not text")
    name = file_name(1, description)
    text = normalize((baseline_header(name, collection) + schema).encode(), name)
    migration = MigrationFile(
        number=1,
        description=description,
        path=folder / name,
        text=text,
        checksum=checksum(text),
    )
    yield WriteNewFile(migration.path, text)
    try:
        yield from _mark(migration, collection, resolve_timeout)
    except Exception:
        yield RemoveFile(migration.path)
        raise
    return migration


def _mark(
    migration: MigrationFile, collection: str, resolve_timeout: float
) -> Steps[None]:
    """Record ``migration`` as applied without running it."""
    token = new_token()
    try:
        yield Query(MARK_CODE, apply_variables(migration, token))
        return
    except ThingsDBError as exc:
        outcome = read_error(exc, token)
        if isinstance(outcome, Conflict):
            raise RecordError(
                f"collection {collection!r} got a record meanwhile; nothing marked"
            ) from exc
        if isinstance(outcome, RecordNotWritable):
            raise RecordError(_record_hint(collection, outcome.message)) from exc
        raise
    except (ConnectionLostError, ProtocolError, ClientTimeoutError) as exc:
        done, _note = yield from _resolve(migration, collection, exc, resolve_timeout)
        if not done:
            raise RecordError(
                f"collection {collection!r} got another record meanwhile"
            ) from exc
