"""The HTTP API (thingsdb.http) against the socket clients, in one run.

    python -m bench.httpapi [--quick] [--repeat N] [--no-pin]

The reference here is not a floor but this connector's own socket client
over TCP (thingsdb.sync for the blocking rows, thingsdb.client for the
asyncio ones): what choosing HTTP costs per request, in the client's CPU
and in time. Rows:

- sequential ``nil`` and ``run('add', 1, 2)``, one connection kept open
  (HTTP keep-alive; the socket client's one connection), token login;
- the same with basic auth (user and password checked by the node on
  every request, where the socket client logs in once);
- 1,000 at a time under ``asyncio.gather`` (the HTTP client opens up to
  httpx's 100 connections; the socket client pipelines on one);
- a new client per request, as a short-lived script or a serverless
  function makes it: connect, log in, one query, close (the socket client:
  connect, AUTH, QUERY, close; HTTP: a TCP connection and one POST).

A second table puts the HTTP clients against bare httpx (a POST of a body
encoded once, the answer decoded, nothing else): how much of the cost is
httpx's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import msgspec

import thingsdb.client
import thingsdb.http
import thingsdb.sync

from . import harness
from .floors import SCOPE
from .harness import Sample, ameasure, best, measure

Body = Callable[[], Awaitable[None]]


class Row:
    """One workload: the socket client's sample and the HTTP client's."""

    def __init__(self, name: str, socket: Sample, http: Sample) -> None:
        self.name = name
        self.socket = socket
        self.http = http

    def cells(self) -> list[str]:
        s, h = self.socket, self.http
        return [
            self.name,
            f"{s.rps:,.0f}",
            f"{h.rps:,.0f}",
            f"{s.cpu_us:.1f}",
            f"{h.cpu_us:.1f}",
            f"{h.cpu_us / s.cpu_us:.2f} x socket",
            f"{(h.wall / h.n) / (s.wall / s.n):.2f} x socket",
        ]


HEADERS = [
    "workload",
    "socket req/s",
    "HTTP req/s",
    "socket CPU us/req",
    "HTTP CPU us/req",
    "CPU per request",
    "time per request",
]


def rounds_of(
    rounds: int, n: int, socket: Callable[[], object], http: Callable[[], object]
) -> tuple[Sample, Sample]:
    socks, https = [], []
    for _ in range(rounds):
        socks.append(measure(n, socket))
        https.append(measure(n, http))
    return best(socks), best(https)


# -- blocking ------------------------------------------------------------------------


def blocking_rows(node: harness.Node, token: str, n: int, rounds: int) -> list[Row]:
    sock = thingsdb.sync.Client(ping_interval=None)
    sock.connect(node.host, node.port)
    sock.authenticate(token)
    sock.set_default_scope(SCOPE)
    by_token = thingsdb.http.Client(node.http_url, auth=token, scope=SCOPE)
    by_password = thingsdb.http.Client(
        node.http_url, auth=(node.user, node.password), scope=SCOPE
    )
    for _ in range(200):  # warm up (and open the kept connections)
        sock.query("nil")
        by_token.query("nil")
        by_password.query("nil")

    def nil(client: thingsdb.sync.Client | thingsdb.http.Client) -> Callable[[], None]:
        def body() -> None:
            query = client.query
            for _ in range(n):
                query("nil")

        return body

    def add(client: thingsdb.sync.Client | thingsdb.http.Client) -> Callable[[], None]:
        def body() -> None:
            run = client.run
            for _ in range(n):
                run("add", 1, 2)

        return body

    rows = [
        Row("blocking sequential nil", *rounds_of(rounds, n, nil(sock), nil(by_token))),
        Row(
            "blocking sequential run('add', 1, 2)",
            *rounds_of(rounds, n, add(sock), add(by_token)),
        ),
        Row(
            "blocking sequential nil, basic auth",
            *rounds_of(rounds, n, nil(sock), nil(by_password)),
        ),
    ]
    harness.progress("blocking")
    rows.append(
        Row(
            "blocking: new client per request",
            *new_client_samples(node, token, max(n // 20, 50), rounds),
        )
    )
    harness.progress("new client per request")
    sock.close_and_wait()
    by_token.close()
    by_password.close()
    return rows


def new_client_samples(
    node: harness.Node, token: str, n: int, rounds: int
) -> tuple[Sample, Sample]:
    def socket_body() -> None:
        for _ in range(n):
            client = thingsdb.sync.Client(ping_interval=None, auto_reconnect=False)
            client.connect(node.host, node.port)
            client.authenticate(token)
            client.query("nil", scope=SCOPE)
            client.close_and_wait()

    def http_body() -> None:
        for _ in range(n):
            with thingsdb.http.Client(node.http_url, auth=token) as client:
                client.query("nil", scope=SCOPE)

    return rounds_of(rounds, n, socket_body, http_body)


# -- asyncio -------------------------------------------------------------------------


async def async_rows(node: harness.Node, token: str, n: int, rounds: int) -> list[Row]:
    sock = thingsdb.client.Client(ping_interval=None)
    await sock.connect(node.host, node.port)
    await sock.authenticate(token)
    sock.set_default_scope(SCOPE)
    http = thingsdb.http.AsyncClient(node.http_url, auth=token, scope=SCOPE)
    for _ in range(200):
        await sock.query("nil")
        await http.query("nil")

    def sequential(client: thingsdb.client.Client | thingsdb.http.AsyncClient) -> Body:
        async def body() -> None:
            query = client.query
            for _ in range(n):
                await query("nil")

        return body

    def gathered(client: thingsdb.client.Client | thingsdb.http.AsyncClient) -> Body:
        depth = 1000

        async def body() -> None:
            query = client.query
            for _ in range(n // depth):
                await asyncio.gather(*[query("nil") for _ in range(depth)])

        return body

    rows = []
    for name, make, count in (
        ("asyncio sequential nil", sequential, n),
        ("asyncio 1,000 at a time nil", gathered, n - n % 1000),
    ):
        socks, https = [], []
        for _ in range(rounds):
            socks.append(await ameasure(count, make(sock)))
            https.append(await ameasure(count, make(http)))
        rows.append(Row(name, best(socks), best(https)))
        harness.progress(name)
    await sock.close_and_wait()
    await http.close_and_wait()
    return rows


def bare_httpx_rows(node: harness.Node, token: str, n: int, rounds: int) -> list[Row]:
    """thingsdb.http against bare httpx (the "socket" columns here)."""
    body = msgspec.msgpack.encode({"type": "query", "code": "nil"})
    headers = {
        "Content-Type": "application/msgpack",
        "Authorization": f"Bearer {token}",
    }
    url = f"{node.http_url}/collection/{SCOPE[2:]}"
    bare = httpx.Client(headers=headers, verify=False)
    client = thingsdb.http.Client(node.http_url, auth=token, scope=SCOPE)
    decode = msgspec.msgpack.decode
    for _ in range(200):
        decode(bare.post(url, content=body).content)
        client.query("nil")

    def bare_body() -> None:
        post = bare.post
        for _ in range(n):
            decode(post(url, content=body).content)

    def client_body() -> None:
        query = client.query
        for _ in range(n):
            query("nil")

    row = Row("blocking sequential nil", *rounds_of(rounds, n, bare_body, client_body))
    bare.close()
    client.close()
    harness.progress("bare httpx")
    return [row]


def main(argv: list[str] | None = None) -> None:
    args = harness.parser(__doc__.split("\n")[0]).parse_args(argv)
    n = 1_000 if args.quick else 5_000
    rounds = harness.rounds(args)
    with harness.bench_node(args, http_api=True) as (node, _):
        token: str = node.query("new_token('admin');")
        rows = blocking_rows(node, token, n, rounds)
        rows += asyncio.run(async_rows(node, token, n, rounds))
        floor_rows = bare_httpx_rows(node, token, n, rounds)
        print()
        print(harness.environment(node, args, "asyncio"))
        print(f"httpx {httpx.__version__}")
        print()
        print(harness.table(HEADERS, [row.cells() for row in rows]))
        print()
        print("thingsdb.http against bare httpx:")
        print(
            harness.table(
                [h.replace("socket", "bare httpx") for h in HEADERS],
                [
                    [c.replace("socket", "httpx") for c in row.cells()]
                    for row in floor_rows
                ],
            )
        )


if __name__ == "__main__":
    main()
