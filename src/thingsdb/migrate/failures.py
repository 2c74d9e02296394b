"""The errors of ``thingsdb.migrate`` that carry a migration file or a
status (the others, which the folder and the status raise, are in
``errors``)."""

from __future__ import annotations

from ..exceptions import ThingsDBError
from .errors import MigrateError
from .folder import MigrationFile
from .status import Status


class DriftError(MigrateError):
    """The folder and the collection disagree: an applied file was edited or
    is no longer in the folder. ``up`` applied nothing."""

    def __init__(self, message: str, status: Status) -> None:
        super().__init__(message)
        self.status = status


class MigrationFailed(MigrateError):
    """ThingsDB raised an error in a migration.

    ``migration`` is the file; ``line`` the line (in the file) where the
    top-level statement that raised begins, or of the syntax error
    (``None`` when it could not be told); ``statement`` the start of that
    statement's text; ``error`` the node's error (a ``thingsdb.exceptions``
    instance, also the ``__cause__``).

    The migration is not recorded as applied. ThingsDB has no rollback: the
    statements before the failing one ran, and what they changed stays, as
    does what the failing one changed before it raised (``ran`` is True). A
    syntax error, or an error found before the code started (no access, say),
    stops the query before anything of it runs (``ran`` is False).
    """

    def __init__(
        self,
        migration: MigrationFile,
        line: int | None,
        error: ThingsDBError,
        *,
        ran: bool,
        statement: str | None = None,
    ) -> None:
        where = f"{migration.name} line {line}" if line else migration.name
        message = f"{where}: {type(error).__name__} ({error.error_code}): {error}"
        super().__init__(message)
        self.migration = migration
        self.line = line
        self.error = error
        self.statement = statement
        self.ran = ran


class MigrationInterrupted(MigrateError):
    """The connection was lost while a migration was on its way, and the
    record showed that it was not applied (it did not reach the node, or it
    failed there; nothing was recorded): ``applied`` is False, and running
    ``up`` again applies it. When the record could not be read either,
    ``applied`` is None: run ``status`` to see."""

    def __init__(
        self, message: str, migration: MigrationFile, applied: bool | None
    ) -> None:
        super().__init__(message)
        self.migration = migration
        self.applied = applied
