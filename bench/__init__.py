"""The benchmark: this connector against the least a client could do, on a
real node (see bench/README.md). One program per workload family:

    python -m bench.requests   # asyncio requests, large values, room events
    python -m bench.inflight   # 100,000 requests in flight at once
    python -m bench.blocking   # the blocking client against a bare socket
    python -m bench.httpapi    # the HTTP API against the socket clients
    python -m bench.telemetry  # telemetry off and on, side by side
    python -m bench.longrun    # 1,000,000 requests with reconnects: memory
    python -m bench.codec      # msgspec against msgpack
    python -m bench            # all of them
"""
