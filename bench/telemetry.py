"""Telemetry off and on, side by side in one run, against the floors.

    python -m bench.telemetry [--quick] [--repeat N]

The same workloads as ``bench.requests`` and ``bench.blocking`` (asyncio
sequential and pipelined ``nil``, blocking sequential ``nil``), each run in
turn by the floor and by the connector with telemetry off (the default),
on with the OpenTelemetry API alone (no SDK set up: the API's no-op tracer
and meter, what a library user gets who installed the extra but exports
nothing), on with the SDK (every span sampled, batched to an exporter
that drops them; the histogram and counters kept in an in-memory reader),
and on with the SDK sampling 1% of the traces: the ratios to the floor of
one run. Also timed: the one check the request
path makes while telemetry is off.
"""

from __future__ import annotations

import asyncio
import timeit
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

from thingsdb import sync, telemetry
from thingsdb.telemetry._switch import SWITCH

from . import harness
from .blocking import open_client as open_blocking
from .floors import BlockingFloor, open_async_floor
from .harness import Sample, ameasure, best, measure
from .requests import Body, open_client, pipelined, sequential

#: the settings compared, in the order of the table's columns
SETTINGS = ("off", "on, API only", "on, SDK", "on, SDK 1% sampled")


class _Drop(SpanExporter):
    """An exporter that takes the spans and drops them: what is measured is
    the client's side of the SDK, not a collector's."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class Settings:
    """Turns telemetry off, or on as each column says."""

    def __init__(self) -> None:
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(BatchSpanProcessor(_Drop()))
        self.sampled_provider = TracerProvider(sampler=TraceIdRatioBased(0.01))
        self.sampled_provider.add_span_processor(BatchSpanProcessor(_Drop()))
        self.meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])

    def use(self, setting: str) -> None:
        if setting == "off":
            telemetry.uninstrument()
        elif setting == "on, API only":
            telemetry.instrument()
        else:
            sampled = setting.endswith("sampled")
            telemetry.instrument(
                tracer_provider=self.sampled_provider
                if sampled
                else self.tracer_provider,
                meter_provider=self.meter_provider,
            )

    def close(self) -> None:
        telemetry.uninstrument()
        self.tracer_provider.shutdown()
        self.sampled_provider.shutdown()
        self.meter_provider.shutdown()


Line = tuple[str, Sample, dict[str, Sample]]


async def async_lines(
    node: harness.Node, settings: Settings, seq: int, pipe: int, rounds: int
) -> list[Line]:
    floor = await open_async_floor(node.host, node.port)
    client = await open_client(node.host, node.port)
    for setting in SETTINGS:  # warm up
        settings.use(setting)
        await client.query("nil")
        await asyncio.gather(*[client.query("nil") for _ in range(1000)])
    settings.use("off")
    await floor.query("nil")
    workloads: list[tuple[str, int, Body, Body]] = [
        (
            "asyncio sequential nil",
            seq,
            sequential(floor, seq, "nil"),
            sequential(client, seq, "nil"),
        ),
        (
            "asyncio pipelined nil",
            pipe,
            pipelined(pipe, lambda: floor.query("nil")),
            pipelined(pipe, lambda: client.query("nil")),
        ),
    ]
    lines: list[Line] = []
    for name, n, ref, conn in workloads:
        refs: list[Sample] = []
        conns: dict[str, list[Sample]] = {s: [] for s in SETTINGS}
        for _ in range(rounds):
            settings.use("off")
            refs.append(await ameasure(n, ref))
            for setting in SETTINGS:
                settings.use(setting)
                conns[setting].append(await ameasure(n, conn))
        settings.use("off")
        lines.append((name, best(refs), {s: best(v) for s, v in conns.items()}))
        harness.progress(name)
    await client.close_and_wait()
    return lines


def blocking_line(node: harness.Node, settings: Settings, n: int, rounds: int) -> Line:
    floor = BlockingFloor(node.host, node.port)
    client: sync.Client = open_blocking(node)
    for setting in SETTINGS:  # warm up
        settings.use(setting)
        for _ in range(200):
            client.query("nil")
    settings.use("off")

    def loop(query: Callable[[str], Any]) -> Callable[[], None]:
        def body() -> None:
            for _ in range(n):
                query("nil")

        return body

    refs: list[Sample] = []
    conns: dict[str, list[Sample]] = {s: [] for s in SETTINGS}
    for _ in range(rounds):
        settings.use("off")
        refs.append(measure(n, loop(floor.query)))
        for setting in SETTINGS:
            settings.use(setting)
            conns[setting].append(measure(n, loop(client.query)))
    settings.use("off")
    floor.close()
    client.close_and_wait()
    harness.progress("blocking sequential nil")
    return (
        "blocking sequential nil",
        best(refs),
        {s: best(v) for s, v in conns.items()},
    )


def switch_ns() -> float:
    """What the request path's check costs while telemetry is off, in
    nanoseconds (the check as the clients write it)."""
    telemetry.uninstrument()
    number = 2_000_000
    seconds = min(
        timeit.repeat(
            "SWITCH.on is not None", globals={"SWITCH": SWITCH}, number=number, repeat=5
        )
    )
    return seconds / number * 1e9


def print_lines(lines: list[Line]) -> None:
    headers = ["workload", "floor CPU us/req"]
    for s in SETTINGS:
        headers.append(f"{s}: CPU us/req")
    for s in SETTINGS:
        headers.append(f"{s}: CPU / time x floor")
    rows = []
    for name, floor, conns in lines:
        row = [name, f"{floor.cpu_us:.1f}"]
        row += [f"{conns[s].cpu_us:.1f}" for s in SETTINGS]
        row += [
            f"{conns[s].cpu_us / floor.cpu_us:.2f} / "
            f"{(conns[s].wall / conns[s].n) / (floor.wall / floor.n):.2f}"
            for s in SETTINGS
        ]
        rows.append(row)
    print(harness.table(headers, rows))
    print()
    for name, _, conns in lines:
        off = conns["off"].cpu_us
        print(
            f"{name}: on costs "
            + ", ".join(
                f"{conns[s].cpu_us - off:+.1f} us CPU per request ({s})"
                for s in SETTINGS[1:]
            )
        )


def main(argv: list[str] | None = None) -> None:
    args = harness.parser(__doc__.split("\n")[0]).parse_args(argv)
    quick = args.quick
    seq, pipe = (3_000, 20_000) if quick else (10_000, 100_000)
    rounds = harness.rounds(args)
    settings = Settings()
    try:
        with harness.bench_node(args) as (node, _):
            lines = asyncio.run(async_lines(node, settings, seq, pipe, rounds))
            lines.append(blocking_line(node, settings, seq, rounds))
            print()
            print(harness.environment(node, args))
            print()
            print_lines(lines)
    finally:
        settings.close()
    print(f"the check while off: {switch_ns():.1f} ns per request")


if __name__ == "__main__":
    main()
