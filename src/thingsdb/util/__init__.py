"""Small helpers users import (python-thingsdb's ``thingsdb.util`` too)."""

# each name that is also a module of this package comes through its module,
# so that importing the module later cannot rebind the name to it
from ..protocol.grammar import collection_name
from .access import Access
from .cnscope import cnscope
from .fcscope import fcscope
from .is_name import is_name
from .strip_code import strip_code

__all__ = ["Access", "cnscope", "collection_name", "fcscope", "is_name", "strip_code"]
