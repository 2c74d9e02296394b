"""Typed helpers for the built-in functions of the @thingsdb and @node scopes.

Values always go in as query variables, never pasted into the code.
"""

from __future__ import annotations

from typing import Any


class Builtins:
    """Mixed into Client: each helper is one query in the right scope."""

    async def query(
        self,
        code: str,
        scope: str | None = None,
        timeout: float | None = None,
        skip_strip_code: bool = False,
        **kwargs: Any,
    ) -> Any:
        raise NotImplementedError  # provided by Client
