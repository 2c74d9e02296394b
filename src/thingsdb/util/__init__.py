"""Small helpers users import (python-thingsdb's ``thingsdb.util`` too)."""

from ..protocol.grammar import collection_name, is_name
from .access import Access
from .cnscope import cnscope
from .fcscope import fcscope
from .strip_code import strip_code

__all__ = ["Access", "cnscope", "collection_name", "fcscope", "is_name", "strip_code"]
