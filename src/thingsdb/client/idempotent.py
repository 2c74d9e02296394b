"""``client.idempotent``: requests that may safely run more than once.

A request written to a connection that then dies may or may not have run,
so the client never sends it again by itself: a write must not be applied
twice. A read, or a write that sets a value rather than adds to one, may
run twice without harm; through ``client.idempotent`` such a request is sent
again on the next connection (within its timeout) when its connection dies
before the answer comes, instead of failing with ConnectionLostError.

This is a view rather than a keyword of ``query()``: keyword arguments of
``query()`` are the code's variables, so no name is free for a flag.
"""

from __future__ import annotations

from ..engine.requests import MAX_RESENDS
from .request_methods import ClientState, RequestMethods

__all__ = ["MAX_RESENDS", "IdempotentRequests"]


class IdempotentRequests(RequestMethods):
    """``query()`` and ``run()`` as on the client (its default scope at the
    call, its connection), sent again (up to :data:`MAX_RESENDS` times,
    within the timeout) when the connection is lost after the request was
    written. Only for code that may run twice."""

    __slots__ = ("_client",)

    _resends = MAX_RESENDS

    def __init__(self, client: ClientState) -> None:
        self._client = client
