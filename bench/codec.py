"""msgspec (the connector's codec) against msgpack, on the payloads the
client encodes and decodes most.

    python -m bench.codec [--quick]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec

from . import harness


def per_call(fn: Callable[[], Any], loops: int) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter() - t0) / loops * 1e6)
    return best


def main(argv: list[str] | None = None) -> None:
    args = harness.parser(__doc__.split("\n")[0]).parse_args(argv)
    try:
        import msgpack  # type: ignore[import-untyped]
    except ImportError:
        print("no codec table: pip install msgpack (the 'bench' extra)")
        return
    enc, dec = msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder()
    packer = msgpack.Packer()
    request = ("@:stuff", "nil", {"a": 1, "name": "ada"})
    ints = enc.encode(list(range(100_000)))
    small = enc.encode({"#": 42, "name": "ada", "n": 7})
    blob = ("@t", "nil", {"b": bytes(1 << 20)})
    loops, big = (20_000, 20) if args.quick else (100_000, 50)
    rows = [
        (
            "encode a query payload",
            lambda: enc.encode(request),
            lambda: packer.pack(request),
            loops,
        ),
        (
            "decode a small thing",
            lambda: dec.decode(small),
            lambda: msgpack.unpackb(small),
            loops,
        ),
        (
            "decode 100,000 ints",
            lambda: dec.decode(ints),
            lambda: msgpack.unpackb(ints),
            big,
        ),
        (
            "encode 1 MiB bytes",
            lambda: enc.encode(blob),
            lambda: packer.pack(blob),
            big,
        ),
    ]
    table = []
    for name, a, b, n in rows:
        ta, tb = per_call(a, n), per_call(b, n)
        table.append([name, f"{ta:.2f}", f"{tb:.2f}", f"{tb / ta:.1f}"])
    print("Codec (microseconds per call, best of 3):")
    print(
        harness.table(["operation", "msgspec", "msgpack", "msgpack / msgspec"], table)
    )


if __name__ == "__main__":
    main()
