"""``client.typed(T)`` of the blocking client: ``query()`` and ``run()``
whose result is read as ``T`` (see :mod:`thingsdb.protocol.typed`)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from ..protocol import PackageType, query_payload, run_payload
from ..protocol.typed import ResultDecoder, TypedPayload
from ..telemetry._switch import SWITCH, address_of
from ..util.strip_code import strip_code
from ._session import Session

T = TypeVar("T")

_QUERY = int(PackageType.QUERY)
_RUN = int(PackageType.RUN)


class TypedRequests(Generic[T]):
    """``client.typed(T)``: ``query()`` and ``run()`` as on the blocking
    client (or on ``client.idempotent``, whose ``typed()`` this is), with
    the result read as ``T``."""

    __slots__ = ("_client", "_decoder", "_resends", "_session")

    def __init__(
        self, client: object, session: Session, resends: int, decoder: ResultDecoder[T]
    ) -> None:
        # the client is held so that it is not collected (and closed) while
        # this view of it is in use; requests go through its session
        self._client = client
        self._session = session
        self._resends = resends
        self._decoder = decoder

    @property
    def result_type(self) -> Any:
        """The type results are read as."""
        return self._decoder.result_type

    def __repr__(self) -> str:
        return f"<typed requests: {self._decoder.result_type!r}>"

    def query(
        self,
        code: str,
        scope: str | None = None,
        timeout: float | None = None,
        skip_strip_code: bool = False,
        **kwargs: Any,
    ) -> T:
        """As the client's ``query()``; the result is read as the type."""
        if not skip_strip_code:
            code = strip_code(code)
        session = self._session
        payload = query_payload(session.scope if scope is None else scope, code, kwargs)
        typed = TypedPayload.of(payload, self._decoder)
        tel = SWITCH.on
        if tel is not None:  # telemetry: a span around the request
            with tel.query(code, scope or session.scope, address_of(session.conn)):
                answer: T = session.request(_QUERY, typed, timeout, self._resends)
            return answer
        result: T = session.request(_QUERY, typed, timeout, self._resends)
        return result

    def run(
        self,
        procedure: str,
        *args: Any,
        scope: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> T:
        """As the client's ``run()``; the result is read as the type."""
        session = self._session
        payload = run_payload(
            session.scope if scope is None else scope, procedure, args, kwargs
        )
        typed = TypedPayload.of(payload, self._decoder)
        tel = SWITCH.on
        if tel is not None:
            with tel.run(procedure, scope or session.scope, address_of(session.conn)):
                answer: T = session.request(_RUN, typed, timeout, self._resends)
            return answer
        result: T = session.request(_RUN, typed, timeout, self._resends)
        return result
