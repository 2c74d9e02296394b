"""``fcscope(scope)``: a collection scope in its full form,
``'@collection:<name>'`` (ValueError for a scope that names no collection)."""

from __future__ import annotations

from ..protocol.grammar import collection_name


def fcscope(scope: str) -> str:
    return f"@collection:{collection_name(scope)}"


__all__ = ["fcscope"]
