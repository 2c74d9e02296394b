"""Counters the adversity tests record, for the one-line summary at the end."""

from __future__ import annotations

from collections import Counter

#: what was tried: "faults", "cancellations", "requests", "fuzz inputs", ...
tried: Counter[str] = Counter()
#: the properties that held, each with how many times it was checked
held: Counter[str] = Counter()
#: properties that did not hold (a failing test also fails on its own)
broken: Counter[str] = Counter()


def check(prop: str, ok: bool) -> bool:
    """Record one check of ``prop``; return ``ok``."""
    (held if ok else broken)[prop] += 1
    return ok


def summary() -> str:
    parts = [
        f"{tried['faults']} faults",
        f"{tried['cancellations']} cancellations",
        f"{tried['requests']} requests",
        f"{tried['fuzz inputs']} fuzz inputs",
        f"{tried['hostile arguments']} hostile arguments",
    ]
    line = "adversity: tried " + ", ".join(parts)
    line += "; held: " + (
        ", ".join(f"{k} ({n}x)" for k, n in sorted(held.items())) or "nothing checked"
    )
    if broken:
        line += "; BROKEN: " + ", ".join(
            f"{k} ({n}x)" for k, n in sorted(broken.items())
        )
    return line
