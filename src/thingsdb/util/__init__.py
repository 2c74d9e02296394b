"""Small helpers users import."""

from .strip_code import strip_code

__all__ = ["strip_code"]
