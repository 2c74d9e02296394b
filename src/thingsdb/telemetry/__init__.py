"""OpenTelemetry traces and metrics of both socket clients (the
``telemetry`` extra: ``pip install thingsdb-connector[telemetry]``, which
brings the OpenTelemetry API only; the application sets up the SDK and its
exporters).

Off by default. :func:`instrument` turns it on for every client of the
process (``thingsdb.client.Client`` and ``thingsdb.sync.Client``): each
``query()``, ``run()``, room join, leave and emit, ``connect()``,
``connect_pool()`` and ``authenticate()`` then makes a client span with the
database conventions' attributes, and the duration histogram
``db.client.operation.duration`` and the ``thingsdb.client.*`` counters
are recorded. See the guide, "Telemetry".
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ._switch import SWITCH

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["carry_context", "instrument", "is_instrumented", "uninstrument"]

T = TypeVar("T")

_MISSING = (
    "thingsdb.telemetry needs the OpenTelemetry API: "
    "pip install 'thingsdb-connector[telemetry]'"
)


def instrument(
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    query_text: bool = False,
) -> None:
    """Turn telemetry on for every client of this process, from their next
    call on (calling it again replaces the settings).

    :param tracer_provider: where spans go; by default OpenTelemetry's
        global one (``trace.set_tracer_provider()``).
    :param meter_provider: where measurements go; by default the global one.
    :param query_text: also record each query's code as ``db.query.text``.
        Off by default: code may hold data (names, values written into it).
        The operation's name, the code's first line, is always recorded.
    :raises ImportError: without the ``telemetry`` extra.
    """
    try:
        from ._otel import Telemetry
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise ImportError(_MISSING) from exc
    SWITCH.on = Telemetry(tracer_provider, meter_provider, query_text)


def uninstrument() -> None:
    """Turn telemetry off again (the default): requests made from now on
    make no spans and no measurements."""
    SWITCH.on = None


def is_instrumented() -> bool:
    """Whether :func:`instrument` turned telemetry on."""
    return SWITCH.on is not None


def carry_context(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` made to run in the context of this call (the current span
    included) wherever it is called, for instance as a thread's target or
    in an executor: a span started in it, or a query made in it, is a
    child of the caller's span. Each call runs in its own copy of the
    context, so ``fn`` may run in several threads at once."""
    context = contextvars.copy_context()

    def carried(*args: Any, **kwargs: Any) -> T:
        return context.copy().run(fn, *args, **kwargs)

    return carried
