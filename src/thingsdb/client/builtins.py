"""The typed helpers for the @thingsdb and @node built-ins, on both clients:
written once in :mod:`thingsdb.builtins` (this name is kept for imports)."""

from ..builtins import Builtins, NameOrPattern, When

__all__ = ["Builtins", "NameOrPattern", "When"]
