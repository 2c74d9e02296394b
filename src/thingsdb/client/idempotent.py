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

from collections.abc import Callable
from typing import Any

from ..protocol import PackageType, query_payload, run_payload
from ..util.strip_code import strip_code
from .connection import RequestFuture

#: How the view sends: (package type, payload, timeout, resends) -> future.
Submit = Callable[[int, bytes, "float | None", int], RequestFuture[Any]]

#: How many times one request is sent again after a lost connection: enough
#: for a failover or two, and a bound for code that brings nodes down.
MAX_RESENDS = 3


class IdempotentRequests:
    """``query()`` and ``run()`` as on the client, sent again (up to
    :data:`MAX_RESENDS` times, within the timeout) when the connection is
    lost after the request was written. Only for code that may run twice."""

    __slots__ = ("_default_scope", "_submit")

    def __init__(self, submit: Submit, default_scope: Callable[[], str]) -> None:
        self._submit = submit
        self._default_scope = default_scope

    def query(
        self,
        code: str,
        scope: str | None = None,
        timeout: float | None = None,
        skip_strip_code: bool = False,
        **kwargs: Any,
    ) -> RequestFuture[Any]:
        """As :meth:`Client.query`; sent again after a lost connection."""
        if not skip_strip_code:
            code = strip_code(code)
        scope = self._default_scope() if scope is None else scope
        payload = query_payload(scope, code, kwargs)
        return self._submit(PackageType.QUERY, payload, timeout, MAX_RESENDS)

    def run(
        self,
        procedure: str,
        *args: Any,
        scope: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> RequestFuture[Any]:
        """As :meth:`Client.run`; sent again after a lost connection."""
        scope = self._default_scope() if scope is None else scope
        payload = run_payload(scope, procedure, args, kwargs)
        return self._submit(PackageType.RUN, payload, timeout, MAX_RESENDS)
