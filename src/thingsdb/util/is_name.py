"""``is_name(s)``: whether ``s`` is a valid ThingsDB name."""

from ..protocol.grammar import is_name

__all__ = ["is_name"]
