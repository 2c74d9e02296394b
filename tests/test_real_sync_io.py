"""The blocking client's own I/O against a real node: TLS (on memory BIOs),
``wss://``, the unix socket, large values over WebSocket, rooms while the
client makes no call, Ctrl-C at random points of many calls, many threads
with abandoned requests, and reconnects in the middle of the load."""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

import realnode
import tlsnode
from interrupts import Storm
from loopthread import LoopThread
from thingsdb import exceptions
from thingsdb.sync import Client, Room, RoomEvent, event

pytestmark = [pytest.mark.node, pytest.mark.timeout(120)]

MAIN_ONLY = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signals go to the main thread",
)


def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def connect(node: realnode.Node, **settings: Any) -> Client:
    client = Client(**settings)
    client.connect(*node.address, timeout=10)
    client.authenticate(node.user, node.password, timeout=10)
    return client


# -- TLS, wss://, the unix socket ------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def tls_proxy(
    node: realnode.Node, ca: trustme.CA, loop: LoopThread
) -> Iterator[realnode.Proxy]:
    """ThingsDB's client port speaks no TLS: a local proxy ends TLS (with a
    trustme certificate) in front of it."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server)
    proxy = realnode.Proxy(node.address, ssl_context=server)
    loop.run(proxy.start())
    try:
        yield proxy
    finally:
        loop.run(proxy.close())


def test_tls(tls_proxy: realnode.Proxy, ca: trustme.CA) -> None:
    with Client(ssl=trusting(ca)) as c:
        c.connect("localhost", tls_proxy.port, timeout=10)
        c.authenticate("admin", "pass")
        assert c.connection_info() == f"localhost:{tls_proxy.port}"
        assert c.query("[1 + 1, 'two'];") == [2, "two"]
        blob = bytes(range(256)) * 4096  # 1 MiB each way, many TLS records
        assert c.query("b;", b=blob, timeout=30) == blob
        with pytest.raises(exceptions.LookupError):
            c.query("raise(lookup_err('over tls'));")
        # many threads: one reads, others write, on one TLS object
        results: list[Any] = []

        def work(t: int) -> None:
            results.extend(c.query("[t, i];", t=t, i=i) == [t, i] for i in range(50))

        threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert results == [True] * 300
        c.reconnect(timeout=10)  # a new handshake
        assert c.query("'again';") == "again"
    assert tls_proxy.accepted == 2


def test_tls_refuses_a_certificate_it_does_not_trust(
    tls_proxy: realnode.Proxy,
) -> None:
    with Client(ssl=True) as c, pytest.raises(exceptions.CertificateError) as info:
        c.connect("localhost", tls_proxy.port, timeout=10)
    # the async client's error, still what an `except` written for ssl catches
    assert isinstance(info.value, ssl.SSLCertVerificationError)
    assert f"localhost:{tls_proxy.port}" in str(info.value)
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)


def test_a_refused_connection_is_a_connect_error(node: realnode.Node) -> None:
    """The same boundary as the async client's: ConnectError that is still
    the ConnectionRefusedError it stands for, the original as its cause."""
    [port] = realnode.free_ports(1)
    with Client() as c, pytest.raises(exceptions.ConnectError) as info:
        c.connect("127.0.0.1", port, timeout=10)
    assert isinstance(info.value, ConnectionRefusedError)
    assert f"cannot connect to 127.0.0.1:{port}" in str(info.value)
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


@pytest.fixture(scope="module")
def wss_node(
    tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA
) -> Iterator[realnode.Node]:
    node = tlsnode.start_wss_node(tmp_path_factory.mktemp("sync-wss"), ca)
    try:
        yield node
    finally:
        node.stop()


def test_wss(wss_node: realnode.Node, ca: trustme.CA) -> None:
    uri = f"wss://localhost:{wss_node.ws_port}"
    with Client(ssl=trusting(ca)) as c:
        c.connect(uri, timeout=10)
        c.authenticate("admin", "pass")
        assert c.is_websocket()
        assert c.connection_info() == uri
        assert c.query("'over wss';") == "over wss"
        blob = b"\x07" * 3_000_000  # a message of many frames
        assert c.query("b;", b=blob, timeout=30) == blob
    with Client() as c, pytest.raises(ssl.SSLCertVerificationError):
        c.connect(uri, timeout=10)


def test_websocket_large_values_and_a_message_over_the_cap(
    node: realnode.Node,
) -> None:
    with Client() as c:
        c.connect(node.ws_address, timeout=10)
        c.authenticate("admin", "pass")
        blob = bytes(range(256)) * 20_000  # about 5 MiB, in many frames
        assert c.query("b;", b=blob, timeout=30) == blob
    with Client(max_package_size=1000) as c:
        c.connect(node.ws_address, timeout=10)
        c.authenticate("admin", "pass")
        with pytest.raises(exceptions.ProtocolError, match="WebSocket"):
            c.query("range(2000);", timeout=10)


#: What glibc prints when it finds the node's heap corrupted.
_HEAP_CORRUPTION = re.compile(r"glibc|malloc|free\(\)|corrupted|tcache")


def test_unix_socket(tmp_path: Path) -> None:
    binary, reason = realnode.find_binary()
    if binary is None:
        pytest.skip(reason)
    node = realnode.start_node(tmp_path, binary=binary)
    try:
        with Client() as c:
            c.connect(node.unix_address, timeout=10)
            c.authenticate("admin", "pass")
            assert c.connection_info() == node.unix_address
            assert c.query("[1 + 1, nodes_info().len()];", scope="@n") == [2, 1]
            blob = b"\x01" * 300_000
            assert c.query("b;", b=blob, timeout=30) == blob
            c.reconnect(timeout=10)
            assert c.query("'again';") == "again"
        assert node.query("1 + 1;") == 2  # the node is still well
    finally:
        time.sleep(0.2)  # time for a delayed abort to happen
        if not node.is_alive() and _HEAP_CORRUPTION.search(node.log_tail(20)):
            # ThingsDB <= 1.9.3 allocates too little for a unix-socket
            # client (see the README); the node died, not the connector
            node.exit_expected = True
            pytest.xfail("this thingsdb binary corrupts its heap with unix sockets")
        node.stop()


# -- rooms while the client makes no call ------------------------------------------


class Ticks(Room):
    def __init__(self, room: int, scope: str) -> None:
        super().__init__(room, scope)
        self.ticks: list[int] = []
        self.threads: set[str] = set()

    @event("tick")
    def on_tick(self, i: int) -> None:
        self.threads.add(threading.current_thread().name)
        self.ticks.append(i)


@pytest.mark.parametrize("kind", ["tcp", "ws"])
def test_rooms_hear_events_while_the_client_is_idle(
    node: realnode.Node, collection: str, kind: str
) -> None:
    scope = f"//{collection}"
    with Client() as c, connect(node) as sender_client:
        if kind == "ws":
            c.connect(node.ws_address, timeout=10)
        else:
            c.connect(*node.address, timeout=10)
        c.authenticate("admin", "pass")
        room_id = sender_client.query(".r = room(); .r.id();", scope=scope)
        room = Ticks(room_id, scope)
        room.join(c)
        sender = Room(room_id, scope)
        sender.no_join(sender_client)
        # this client makes no call from here on: its watcher reads
        for i in range(50):
            sender.emit("tick", i)
        until(lambda: len(room.ticks) == 50)
        assert room.ticks == list(range(50))
        assert all(n.startswith("thingsdb-sync-room") for n in room.threads)


def test_events_iterator_while_idle(node: realnode.Node, collection: str) -> None:
    scope = f"//{collection}"
    with connect(node) as c, connect(node) as other:
        room_id = other.query(".r = room(); .r.id();", scope=scope)
        room = Room(room_id, scope)
        room.join(c)
        sender = Room(room_id, scope)
        sender.no_join(other)
        got: list[RoomEvent] = []
        with room.events(timeout=20) as events:

            def emit_ten() -> None:
                for i in range(10):
                    sender.emit("e", i)

            emitter = threading.Thread(target=emit_ten)
            emitter.start()
            for ev in events:
                got.append(ev)
                if len(got) == 10:
                    break
            emitter.join(20)
        assert got == [RoomEvent("e", [i]) for i in range(10)]


# -- Ctrl-C, threads, reconnects under load ----------------------------------------


@MAIN_ONLY
def test_a_storm_of_ctrl_c_on_a_real_node(node: realnode.Node) -> None:
    """Interrupts at any point of many calls, while other threads use the
    same client: no answer ever reaches the wrong caller, and the client
    answers afterwards."""
    client = connect(node, ping_interval=None)
    stop = threading.Event()
    wrong: list[Any] = []

    def worker(t: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                got = client.query("x;", x=[t, i], timeout=30)
            except ConnectionError:
                continue  # an interrupt in the main thread dropped the link
            if got != [t, i]:
                wrong.append((t, i, got))

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(3)]
    interrupted = answered = 0
    try:
        for thread in workers:
            thread.start()
        with Storm(5) as storm:
            deadline = time.monotonic() + 4
            i = 0
            while time.monotonic() < deadline:
                i += 1
                try:
                    got = storm.call(client.query, "x;", x=i, timeout=30)
                except KeyboardInterrupt:
                    interrupted += 1
                    continue
                except ConnectionError:
                    continue
                answered += 1
                if got != i:
                    wrong.append(("main", i, got))
    finally:
        stop.set()
        for thread in workers:
            thread.join(30)
    try:
        assert wrong == []
        assert interrupted > 10, (interrupted, answered)
        assert answered > 10, (interrupted, answered)
        assert client.query("'calm';", timeout=10) == "calm"
    finally:
        client.close()


def test_many_threads_with_abandoned_requests(node: realnode.Node) -> None:
    """32 threads on one client; some requests time out before their answer
    (which is then dropped): every answer that comes is the caller's own."""
    heavy = "x = 0; range(3000).each(|i| range(100).each(|j| x += j)); y;"
    with connect(node) as client:
        wrong: list[Any] = []
        timed_out = [0]

        def work(t: int) -> None:
            for i in range(60):
                try:
                    if i % 7 == 0:  # slow: its answer comes after the deadline
                        got = client.query(heavy, y=[t, i], timeout=0.001)
                    else:
                        got = client.query("y;", y=[t, i], timeout=30)
                except exceptions.TimeoutError:
                    timed_out[0] += 1
                    continue
                if got != [t, i]:
                    wrong.append((t, i, got))

        threads = [threading.Thread(target=work, args=(t,)) for t in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(100)
            assert not thread.is_alive()
        assert wrong == []
        assert timed_out[0] > 0
        assert client.query("'after';", timeout=10) == "after"
        conn = client._session.conn
        assert conn is not None
        until(lambda: len(conn._pending) == 0)  # the late answers came in


def test_reconnects_in_the_middle_of_the_load(
    node: realnode.Node, loop: LoopThread
) -> None:
    """Eight threads read (idempotent) and write through a pool of two
    proxies, while connections are cut and moved: no read fails, no answer
    reaches the wrong caller, writes only fail as 'may or may not have run'."""
    proxies = [realnode.Proxy(node.address) for _ in range(2)]
    for proxy in proxies:
        loop.run(proxy.start())
    client = Client(reconnect_delay=0.01, reconnect_max_delay=0.1)
    stop = threading.Event()
    wrong: list[Any] = []
    lost_writes = [0]
    reads = [0]
    try:
        client.connect_pool([p.address for p in proxies], "admin", "pass", timeout=10)

        def work(t: int) -> None:
            i = 0
            while not stop.is_set():
                i += 1
                got = client.idempotent.query("x;", x=[t, i], timeout=30)
                if got != [t, i]:
                    wrong.append((t, i, got))
                reads[0] += 1
                try:
                    client.query("x;", x=i, timeout=30)
                except exceptions.ConnectionLostError:
                    lost_writes[0] += 1

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for n in range(10):
            time.sleep(0.1)
            if n % 2:
                client.reconnect(timeout=20)
            else:
                for proxy in proxies:
                    loop.call_soon(proxy.drop)
        stop.set()
        for thread in threads:
            thread.join(60)
            assert not thread.is_alive()
        assert wrong == []
        assert reads[0] > 100
        assert client.query("'still here';", timeout=10) == "still here"
    finally:
        stop.set()
        client.close()
        for proxy in proxies:
            loop.run(proxy.close())


def test_a_node_shutting_down_moves_the_client_between_calls(tmp_path: Path) -> None:
    """SIGTERM to the node in use: the node says SHUTTING_DOWN, and the
    client, making no call, moves to the next node of its pool; a call in
    flight at the signal is answered by the node that shuts down."""
    binary, reason = realnode.find_binary()
    if binary is None:
        pytest.skip(reason)
    config = {"shutdown_period": 2}
    nodes = [
        realnode.start_node(tmp_path, name=name, binary=binary, extra_config=config)
        for name in ("a", "b")
    ]
    client = Client(reconnect_delay=0.05)
    statuses: list[str] = []
    try:
        client.connect_pool([n.address for n in nodes], "admin", "pass", timeout=20)
        client.on_node_status = statuses.append
        used = next(
            n for n in nodes if client.connection_info().endswith(f":{n.client_port}")
        )
        other = next(n for n in nodes if n is not used)
        answers: list[Any] = []
        slow = threading.Thread(
            target=lambda: answers.append(
                client.query(
                    "x = 0; range(3000).each(|i| range(300).each(|j| x += j)); 'slow';",
                    timeout=30,
                )
            )
        )
        slow.start()
        time.sleep(0.1)
        stopping = threading.Thread(target=used.stop)
        stopping.start()
        until(lambda: client.connection_info() == f"127.0.0.1:{other.client_port}", 30)
        slow.join(30)
        assert answers == ["slow"]
        assert "SHUTTING_DOWN" in statuses
        assert client.query("'moved';", timeout=10) == "moved"
        stopping.join(30)
    finally:
        client.close()
        for node in nodes:
            node.stop()
