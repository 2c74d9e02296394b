"""The errors of ``thingsdb.migrate``; each says in one line what is wrong.
(The ones that carry a migration or a status are in ``failures``.)

:class:`MigrateError` is the base. Errors of the node that ``up`` cannot
explain (no access, a node that is not ready) come through as the usual
``thingsdb.exceptions`` classes, and a lost connection outside a migration
as ``ConnectionError``.
"""

from __future__ import annotations


class MigrateError(Exception):
    """Base class of the errors of ``thingsdb.migrate``."""


class FolderError(MigrateError):
    """The migrations folder is missing or not in order: a file name out of
    pattern, a number used twice, a gap, a file that is not UTF-8."""


class CollectionError(MigrateError):
    """The scope names no collection, or the collection does not exist."""


class RecordError(MigrateError):
    """The collection's record (``.__migrations__``) is damaged, or cannot
    be written (a typed root without a field for it)."""


class ConflictError(MigrateError):
    """Others kept changing the record while ``up`` ran (the expected
    version did not hold many times in a row)."""
