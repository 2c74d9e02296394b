"""Telemetry turned on into the OpenTelemetry SDK's in-memory span exporter
and metric reader, for the tests that read spans and measurements back
(``tests/test_telemetry*.py``). The SDK is a test dependency only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from thingsdb.telemetry import instrument, uninstrument


@dataclass
class Recorded:
    """What telemetry recorded: spans as they ended, measurements on read."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, (name, [s.name for s in self.spans()])
        return found[0]

    def points(self, metric: str) -> list[Any]:
        """The data points of ``metric`` (counters: sums; the histogram:
        counts and sums), each with its attributes."""
        data = self.reader.get_metrics_data()
        if data is None:
            return []
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for m in scope.metrics
            if m.name == metric
            for point in m.data.data_points
        ]

    def total(self, metric: str) -> int:
        """A counter's sum over all its attribute sets."""
        return sum(int(p.value) for p in self.points(metric))


@pytest.fixture
def otel() -> Iterator[Recorded]:
    """Telemetry on, into memory; off again after the test."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        yield Recorded(exporter, reader, tracer_provider)
    finally:
        uninstrument()
        meter_provider.shutdown()
        tracer_provider.shutdown()
