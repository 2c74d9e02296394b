"""``Migrator`` (async) and ``BlockingMigrator``: the steps of
:mod:`.engine` driven through a connected client."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from ..util import collection_name
from .engine import (
    RESOLVE_TIMEOUT,
    STEP_ERRORS,
    LoadFolder,
    Notify,
    ProgressCallback,
    Query,
    RemoveFile,
    Step,
    Steps,
    UpResult,
    WriteNewFile,
    baseline_steps,
    status_steps,
    up_steps,
)
from .errors import CollectionError, FolderError
from .folder import MigrationFile, load_folder, new_migration, write_new_file
from .status import Status

if TYPE_CHECKING:
    from ..client import Client
    from ..sync import Client as BlockingClient

T = TypeVar("T")
#: the client of an API: async or blocking
C = TypeVar("C")

_NAME_RE = re.compile(r"[A-Za-z_][0-9A-Za-z_]{0,254}")


def collection_of(scope: str) -> str:
    """The collection name of ``scope``: ``'//stuff'``, ``'@:stuff'``,
    ``'@collection:stuff'`` or just ``'stuff'``."""
    if not isinstance(scope, str):
        raise TypeError(f"the collection must be a str, not {type(scope).__name__}")
    if scope[:1] in ("@", "/"):
        try:
            return collection_name(scope)
        except ValueError:
            raise CollectionError(
                f"{scope} is not a collection scope; migrations need one: "
                "//NAME, @:NAME or the collection's name"
            ) from None
    if not _NAME_RE.fullmatch(scope):
        raise CollectionError(f"{scope!r} is not a valid collection name")
    return scope


def _file_step(step: Step) -> Any:
    """Run a step that touches files (blocking)."""
    if isinstance(step, LoadFolder):
        if step.missing_ok and not step.path.exists():
            return []
        return load_folder(step.path)
    if isinstance(step, WriteNewFile):
        try:
            step.path.parent.mkdir(parents=True, exist_ok=True)
            write_new_file(step.path, step.text)
        except FileExistsError:
            raise FolderError(f"{step.path} exists already") from None
        except OSError as exc:
            raise FolderError(f"cannot write {step.path}: {exc.strerror}") from None
        return None
    if isinstance(step, RemoveFile):
        step.path.unlink(missing_ok=True)
        return None
    raise AssertionError(f"not a file step: {step!r}")


class _Run(Generic[T]):
    """One run of an operation's steps: each step's outcome (its value, or
    one of STEP_ERRORS) goes back in, and the next step comes out. Used as
    a context manager, it closes the steps however the run ends."""

    def __init__(self, steps: Steps[T]) -> None:
        self._steps = steps
        #: The outcome of the step in hand: a value, or an error.
        self.value: Any = None
        self.error: Exception | None = None

    def __enter__(self) -> _Run[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._steps.close()

    def next_step(self) -> Step | None:
        """The next step; None once the operation is done, its outcome in
        :attr:`result`."""
        value, error = self.value, self.error
        self.value, self.error = None, None
        try:
            if error is None:
                return self._steps.send(value)
            return self._steps.throw(error)
        except StopIteration as stop:
            self.result = cast(T, stop.value)
            return None


class _Base(Generic[C]):
    """What both APIs share: the settings, and the steps of each operation
    (driven by the subclass, through its client)."""

    def __init__(
        self,
        client: C,
        folder: str | os.PathLike[str],
        collection: str,
        *,
        timeout: float | None = None,
        resolve_timeout: float = RESOLVE_TIMEOUT,
    ) -> None:
        self.client = client
        #: the collection's name (``collection`` may also be a scope)
        self.collection = collection_of(collection)
        self.scope = f"@:{self.collection}"
        self.folder = Path(folder)
        self.timeout = timeout
        self.resolve_timeout = resolve_timeout

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.folder} -> //{self.collection}>"

    def new(self, name: str) -> Path:
        """Create the next migration file (``NNNN_name.ti``); see
        :func:`thingsdb.migrate.new_migration`."""
        return new_migration(self.folder, name)

    def _status(self) -> Steps[Status]:
        return status_steps(self.folder, self.collection)

    def _up(self, to: int | None, allow_edited: bool) -> Steps[UpResult]:
        return up_steps(
            self.folder, self.collection, to, allow_edited, self.resolve_timeout
        )

    def _baseline(self, description: str) -> Steps[MigrationFile]:
        return baseline_steps(
            self.folder, self.collection, description, self.resolve_timeout
        )

    def _query_args(self, step: Query) -> dict[str, Any]:
        timeout = step.timeout if step.timeout is not None else self.timeout
        # skip_strip_code: the code is ours, and stripping would move lines
        return {"scope": self.scope, "timeout": timeout, "skip_strip_code": True}


class Migrator(_Base["Client"]):
    """Migrations of one collection, through an async client.

    ``folder`` holds the ``NNNN_description.ti`` files; ``collection`` is a
    collection's name or scope. ``timeout`` applies to each query (``None``:
    migrations may take as long as they take); ``resolve_timeout`` bounds
    reading the record after a lost connection (the client reconnects
    meanwhile).
    """

    #: the client the queries go through
    client: Client

    async def status(self) -> Status:
        """Compare the folder with the collection's record."""
        return await self._drive(self._status(), None)

    async def up(
        self,
        to: int | None = None,
        *,
        allow_edited: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> UpResult:
        """Apply the pending migrations in order (up to and including number
        ``to``), each in one query with its record entry."""
        return await self._drive(self._up(to, allow_edited), on_progress)

    async def baseline(self, description: str = "baseline") -> MigrationFile:
        """Write the collection's schema (``export()``) as migration 0001 of
        a new folder and record it as applied."""
        return await self._drive(self._baseline(description), None)

    async def _drive(self, steps: Steps[T], on_progress: ProgressCallback | None) -> T:
        with _Run(steps) as run:
            while (step := run.next_step()) is not None:
                try:
                    run.value = await self._step(step, on_progress)
                except STEP_ERRORS as exc:
                    run.error = exc
            return run.result

    async def _step(self, step: Step, on_progress: ProgressCallback | None) -> Any:
        if isinstance(step, Query):
            sender = self.client.idempotent if step.read else self.client
            return await sender.query(
                step.code, **self._query_args(step), **step.variables
            )
        if isinstance(step, Notify):
            if on_progress is not None:
                on_progress(step.progress)
            return None
        return await asyncio.to_thread(_file_step, step)


class BlockingMigrator(_Base["BlockingClient"]):
    """:class:`Migrator` for the blocking client (``thingsdb.sync.Client``):
    the same methods, without ``await``."""

    #: the client the queries go through
    client: BlockingClient

    def status(self) -> Status:
        """Compare the folder with the collection's record."""
        return self._drive(self._status(), None)

    def up(
        self,
        to: int | None = None,
        *,
        allow_edited: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> UpResult:
        """Apply the pending migrations; see :meth:`Migrator.up`."""
        return self._drive(self._up(to, allow_edited), on_progress)

    def baseline(self, description: str = "baseline") -> MigrationFile:
        """See :meth:`Migrator.baseline`."""
        return self._drive(self._baseline(description), None)

    def _drive(self, steps: Steps[T], on_progress: ProgressCallback | None) -> T:
        with _Run(steps) as run:
            while (step := run.next_step()) is not None:
                try:
                    run.value = self._step(step, on_progress)
                except STEP_ERRORS as exc:
                    run.error = exc
            return run.result

    def _step(self, step: Step, on_progress: ProgressCallback | None) -> Any:
        if isinstance(step, Query):
            sender = self.client.idempotent if step.read else self.client
            return sender.query(step.code, **self._query_args(step), **step.variables)
        if isinstance(step, Notify):
            if on_progress is not None:
                on_progress(step.progress)
            return None
        return _file_step(step)
