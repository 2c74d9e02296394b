"""What can be queried: what the built-in helpers and rooms need of
``query()`` (its whole signature and documentation are in
:mod:`thingsdb.client.request_methods`).

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
        **kwargs: Any,
    ) -> Awaitable[Any]:
        """See :meth:`thingsdb.client.Client.query`."""
        ...
