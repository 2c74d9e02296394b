"""``thingsdb.util.cleancode``: python-thingsdb's module of ``strip_code``."""

from .strip_code import strip_code

__all__ = ["strip_code"]
