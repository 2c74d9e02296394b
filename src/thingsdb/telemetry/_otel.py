"""Telemetry turned on: the tracer, the meter and its instruments, each
request's span (:class:`Operation`), through the OpenTelemetry API only.
Imported by :func:`thingsdb.telemetry.instrument`, never before: without
the ``telemetry`` extra the rest of the package does not need it."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..version import __version__
from . import names
from ._switch import CURRENT

if TYPE_CHECKING:
    from contextvars import Token
    from types import TracebackType

#: The histogram's bucket boundaries the conventions advise for
#: ``db.client.operation.duration`` (seconds).
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)

_perf = time.perf_counter


class Telemetry:
    """The hooks of :mod:`._switch` while telemetry is on."""

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None,
        meter_provider: metrics.MeterProvider | None,
        query_text: bool,
    ) -> None:
        self.tracer = trace.get_tracer("thingsdb", __version__, tracer_provider)
        meter = metrics.get_meter("thingsdb", __version__, meter_provider)
        self.query_text = query_text
        self.duration = meter.create_histogram(
            "db.client.operation.duration",
            unit="s",
            description="Duration of database client operations.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.reconnects = meter.create_counter(
            "thingsdb.client.reconnects",
            unit="{reconnect}",
            description="Connections made the one in use after the first.",
        )
        self.moves = meter.create_counter(
            "thingsdb.client.node_moves",
            unit="{move}",
            description="Reconnects that went to another node of the pool.",
        )
        self.not_ready = meter.create_counter(
            "thingsdb.client.not_ready_retries",
            unit="{retry}",
            description="Requests tried again after a not-ready answer.",
        )
        self.resends = meter.create_counter(
            "thingsdb.client.idempotent_resends",
            unit="{request}",
            description="Idempotent requests sent again after a lost connection.",
        )
        self.room_events = meter.create_counter(
            "thingsdb.client.room_events",
            unit="{event}",
            description="Room events delivered to joined rooms.",
        )

    # -- spans ---------------------------------------------------------------------

    def _start(
        self, operation: str, scope: str | None, address: object, extra: dict[str, Any]
    ) -> Operation:
        attrs: dict[str, Any] = {
            names.DB_SYSTEM: names.SYSTEM,
            names.DB_OPERATION: operation,
        }
        if scope:
            attrs[names.DB_NAMESPACE] = scope
        attrs.update(names.server_attributes(address))
        span = self.tracer.start_span(
            names.span_name(operation, scope),
            kind=SpanKind.CLIENT,
            attributes={**attrs, **extra},
        )
        return Operation(self, span, attrs)

    def query(self, code: object, scope: str, address: object) -> Operation:
        extra: dict[str, Any] = {}
        if self.query_text and isinstance(code, str):
            extra[names.DB_QUERY_TEXT] = code
        return self._start(names.query_operation(code), scope, address, extra)

    def run(self, procedure: object, scope: str, address: object) -> Operation:
        name = procedure if isinstance(procedure, str) else "run"
        return self._start(name, scope, address, {names.DB_PROCEDURE: name})

    def room(
        self,
        kind: str,
        scope: str,
        address: object,
        ids: tuple[object, ...] = (),
        event: str | None = None,
    ) -> Operation:
        extra: dict[str, Any] = {}
        if ids:
            extra[names.ROOM_IDS] = [str(i) for i in ids]
        if event is not None:
            extra[names.ROOM_EVENT] = event
        return self._start(kind, scope, address, extra)

    def connection(self, kind: str, address: object) -> Operation:
        return self._start(kind, None, address, {})

    # -- counters ------------------------------------------------------------------

    def _node(self, address: object) -> dict[str, Any]:
        attrs: dict[str, Any] = {names.DB_SYSTEM: names.SYSTEM}
        attrs.update(names.server_attributes(address))
        return attrs

    def reconnected(self, address: object, moved: bool) -> None:
        attrs = self._node(address)
        self.reconnects.add(1, attrs)
        if moved:
            self.moves.add(1, attrs)

    def not_ready_retry(self, address: object) -> None:
        self.not_ready.add(1, self._node(address))

    def resent(self, address: object) -> None:
        self.resends.add(1, self._node(address))

    def room_event(self, scope: str) -> None:
        self.room_events.add(
            1, {names.DB_SYSTEM: names.SYSTEM, names.DB_NAMESPACE: scope}
        )


class Operation:
    """One operation: its span (started in the caller's context, never
    made the current span there), its clock, and the attributes its
    duration is recorded with."""

    __slots__ = ("_attrs", "_ended", "_span", "_start", "_tel", "_token")

    def __init__(self, tel: Telemetry, span: trace.Span, attrs: dict[str, Any]):
        self._tel = tel
        self._span = span
        self._attrs = attrs
        self._start = _perf()
        self._ended = False
        self._token: Token[Any] | None = None

    def event(self, name: str, address: object = None) -> None:
        if self._ended:
            return
        server = names.server_attributes(address)
        if name:
            self._span.add_event(name, server)
        if server:
            # the request goes to this node now: the span says where it ended
            self._span.set_attributes(server)
            self._attrs.update(server)

    def end(self, exc: BaseException | None) -> None:
        if self._ended:
            return
        self._ended = True
        seconds = _perf() - self._start
        attrs = self._attrs
        span = self._span
        if exc is not None:
            error = names.error_attributes(exc)
            attrs = {**attrs, **error}
            span.set_attributes(error)
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, str(exc) or type(exc).__name__))
        self._tel.duration.record(seconds, attrs)
        span.end()

    def done(self, fut: Any) -> None:
        if fut.cancelled():
            self.end(asyncio.CancelledError())
        else:
            self.end(fut.exception())

    def __enter__(self) -> Operation:
        self._token = CURRENT.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            CURRENT.reset(self._token)
            self._token = None
        self.end(exc)
