"""What can be queried: the one statement of ``query()``'s signature.

The client and its idempotent view implement it; the built-in helpers and
rooms need only this of their client. It lives apart from both so that
``room`` needs nothing of ``client`` (no import circle).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol


class Querier(Protocol):
    """Anything with ``query()``: the async client, ``client.idempotent``."""

    def query(
        self,
        code: str,
        scope: str | None = None,
        timeout: float | None = None,
        skip_strip_code: bool = False,
        **kwargs: Any,
    ) -> Awaitable[Any]:
        """Run ``code`` in ``scope`` (default: the default scope); await the
        result for its value. Keyword arguments become variables in the
        code."""
        ...
