"""Schema as code: migrations for a ThingsDB collection.

Migrations are ``NNNN_description.ti`` files of ThingsDB code in a folder,
applied in number order to one collection, each once, each in one query
together with its entry in the collection's record (``.__migrations__`` on
the collection's root). See the README, section *Migrations*.

* :class:`Migrator` (async client) and :class:`BlockingMigrator`
  (``thingsdb.sync.Client``): ``status()``, ``up(to=None)``, ``baseline()``.
* :func:`new_migration`: create the next file of a folder.
* :func:`main`: the ``thingsdb-cli migrate`` command (also ``python -m
  thingsdb.migrate``).
"""

import thingsdb._installation  # noqa: F401 - first: python-thingsdb beside it is an ImportError

from .api import BlockingMigrator, Migrator, collection_of
from .cli import main
from .engine import Progress, UpResult
from .errors import (
    CollectionError,
    ConflictError,
    FolderError,
    MigrateError,
    RecordError,
)
from .failures import DriftError, MigrationFailed, MigrationInterrupted
from .folder import MigrationFile, load_folder, new_migration
from .status import RECORD, Applied, MigrationStatus, Status

__all__ = [
    "RECORD",
    "Applied",
    "BlockingMigrator",
    "CollectionError",
    "ConflictError",
    "DriftError",
    "FolderError",
    "MigrateError",
    "MigrationFailed",
    "MigrationFile",
    "MigrationInterrupted",
    "MigrationStatus",
    "Migrator",
    "Progress",
    "RecordError",
    "Status",
    "UpResult",
    "collection_of",
    "load_folder",
    "main",
    "new_migration",
]
