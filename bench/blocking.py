"""The blocking client (thingsdb.sync) against a bare blocking socket.

    python -m bench.blocking [--quick] [--repeat N]

Sequential ``nil`` on the caller's thread: the floor is
:class:`bench.floors.BlockingFloor` (``sendall``, ``recv_into``, nothing
else). Then 1 and 8 threads sharing one blocking client.
"""

from __future__ import annotations

import threading

from thingsdb.sync import Client

from . import harness
from .floors import SCOPE, BlockingFloor
from .harness import Row, Sample, best, measure


def open_client(node: harness.Node) -> Client:
    client = Client(ping_interval=None)
    client.connect(node.host, node.port)
    client.authenticate(node.user, node.password)
    client.set_default_scope(SCOPE)
    return client


def sequential_rows(node: harness.Node, n: int, rounds: int) -> list[Row]:
    floor = BlockingFloor(node.host, node.port)
    client = open_client(node)
    for _ in range(200):  # warm up
        floor.query("nil")
        client.query("nil")

    def floor_body() -> None:
        query = floor.query
        for _ in range(n):
            query("nil")

    def client_body() -> None:
        query = client.query
        for _ in range(n):
            query("nil")

    refs: list[Sample] = []
    conns: list[Sample] = []
    for _ in range(rounds):
        refs.append(measure(n, floor_body))
        conns.append(measure(n, client_body))
    floor.close()
    client.close_and_wait()
    harness.progress("blocking sequential nil")
    return [Row("blocking sequential nil", best(refs), best(conns))]


def threads_row(node: harness.Node, n: int, threads: int, rounds: int) -> Sample:
    """``n`` requests split over ``threads`` threads sharing one client."""
    client = open_client(node)
    samples = [_threads_round(client, n // threads, threads) for _ in range(rounds)]
    client.close_and_wait()
    return best(samples)


def _threads_round(client: Client, per_thread: int, threads: int) -> Sample:
    start = threading.Barrier(threads + 1)

    def work() -> None:
        start.wait()
        query = client.query
        for _ in range(per_thread):
            query("nil")

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()

    def body() -> None:
        start.wait()
        for t in pool:
            t.join()

    return measure(per_thread * threads, body)


def main(argv: list[str] | None = None) -> None:
    args = harness.parser(__doc__.split("\n")[0]).parse_args(argv)
    n = 2_000 if args.quick else 10_000
    rounds = harness.rounds(args)
    with harness.bench_node(args) as (node, _):
        rows = sequential_rows(node, n, rounds)
        one = threads_row(node, n, 1, rounds)
        eight = threads_row(node, n, 8, rounds)
        harness.progress("threads")
        print()
        print(harness.environment(node, args, "blocking"))
        print()
        print(harness.ratio_table(rows))
        print()
        print("One blocking client shared by threads (the same requests in all):")
        print(
            harness.table(
                ["threads", "req/s", "CPU us/req", "req/s vs 1 thread"],
                [
                    [
                        str(k),
                        f"{s.rps:,.0f}",
                        f"{s.cpu_us:.1f}",
                        f"{s.rps / one.rps:.2f}",
                    ]
                    for k, s in ((1, one), (8, eight))
                ],
            )
        )


if __name__ == "__main__":
    main()
