"""Small helpers users import."""

from .access import Access, cnscope, collection_name
from .strip_code import strip_code

__all__ = ["Access", "cnscope", "collection_name", "strip_code"]
