"""Start and stop real ThingsDB nodes (and a loopback proxy) for tests.

Everything here is independent of the connector under test: readiness is
checked with a few hand-written protocol packages over a blocking socket, so
a broken client cannot make the fixture lie.

One node::

    node = start_node(workdir)          # thingsdb -c <conf> --init
    node.query("collections_info();")   # blocking, for set-up code
    node.stop()

A cluster (later): start the first node with ``init=True``, the others with
``secret=...`` and ``wait="node_port"``, then run ``new_node(...)`` on the
first one and poll ``nodes_info()`` with :meth:`Node.query`.

Nodes are only ever stopped by their own PID, and only listen on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import msgspec

BIN_ENV = "THINGSDB_BIN"
LOOPBACK = "127.0.0.1"
DEFAULT_USER = "admin"
DEFAULT_PASSWORD = "pass"

#: unix socket paths longer than this do not fit in ``sockaddr_un``
_MAX_SOCKET_PATH = 100

_HEADER = struct.Struct("<IHBB")
_PROTO_OK = 0x11
_PROTO_DATA = 0x12
_PROTO_ERROR = 0x13
_REQ_AUTH = 0x21
_REQ_QUERY = 0x22
_EVENT_PID = 0xFFFF

#: started and not stopped yet
_live: list[Node] = []
#: found dead (not by our hand) when stopped, not reported yet
_casualties: list[Node] = []


class NodeStartError(RuntimeError):
    """The node exited or did not become ready in time."""


class NodeQueryError(RuntimeError):
    """The node answered a set-up query with an error."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{msg} ({code})")
        self.code = code
        self.msg = msg


# -- finding the binary ---------------------------------------------------------


def find_binary() -> tuple[str | None, str]:
    """Return ``(path, "")`` or ``(None, reason)``.

    ``THINGSDB_BIN`` wins when set, even when it names a missing file (then
    there is no binary: a wrong setting must not silently test another one).
    """
    hint = "set THINGSDB_BIN or put `thingsdb` on PATH"
    configured = os.environ.get(BIN_ENV)
    if configured:
        path = Path(configured)
        if path.is_file() and os.access(path, os.X_OK):
            return str(path), ""
        return None, (
            f"no ThingsDB node binary: {BIN_ENV}={configured} is not an "
            f"executable file; {hint}"
        )
    found = shutil.which("thingsdb")
    if found is not None:
        return found, ""
    return None, f"no ThingsDB node binary: {hint}"


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """``count`` distinct ports that were free on ``host`` a moment ago."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def live_nodes() -> list[Node]:
    """Nodes started here and not stopped yet."""
    return list(_live)


def dead_nodes() -> list[Node]:
    """Nodes that exited although nobody stopped or killed them."""
    found = [n for n in _live if n.died_unexpectedly()]
    return found + [n for n in _casualties if n not in found]


def take_new_deaths() -> list[Node]:
    """Like :func:`dead_nodes`, but each death is returned only once."""
    found = [n for n in dead_nodes() if not n.death_reported]
    for n in found:
        n.death_reported = True
    _casualties.clear()
    return found


# -- a blocking mini client for set-up code -------------------------------------


class _RawConnection:
    """Just enough protocol for AUTH and QUERY, over a blocking socket."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._pid = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> _RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, tp: int, payload: Any, expect: int) -> Any:
        self._pid = (self._pid + 1) % _EVENT_PID
        data = msgspec.msgpack.encode(payload)
        self._sock.sendall(_HEADER.pack(len(data), self._pid, tp, tp ^ 0xFF) + data)
        while True:
            size, pid, rtp, check = _HEADER.unpack(self._recv(_HEADER.size))
            if check != rtp ^ 0xFF:
                raise ConnectionError(f"bad check byte in a package of type {rtp}")
            body = self._recv(size)
            if pid != self._pid:
                continue  # an event (NODE_STATUS...) or a stale answer
            value: Any = msgspec.msgpack.decode(body) if size else None
            if rtp == _PROTO_ERROR:
                raise NodeQueryError(int(value["error_code"]), str(value["error_msg"]))
            if rtp != expect:
                raise ConnectionError(f"expected package type {expect}, got {rtp}")
            return value

    def _recv(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self._sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("the node closed the connection")
            buf += chunk
        return bytes(buf)


# -- a node ----------------------------------------------------------------------


class Node:
    """One ``thingsdb`` process, its config, store, log and unix socket."""

    def __init__(
        self,
        *,
        name: str,
        binary: str,
        workdir: Path,
        client_port: int,
        node_port: int,
        ws_port: int,
        pipe_path: Path,
        own_socket_dir: Path | None,
    ) -> None:
        self.name = name
        self.binary = binary
        self.workdir = workdir
        self.client_port = client_port
        self.node_port = node_port
        self.ws_port = ws_port
        self.pipe_path = pipe_path
        self.conf_path = workdir / f"{name}.conf"
        self.storage_path = workdir / f"{name}-store"
        self.log_path = workdir / f"{name}.log"
        self.host = LOOPBACK
        self.user = DEFAULT_USER
        self.password = DEFAULT_PASSWORD
        self.proc: subprocess.Popen[bytes] | None = None
        self._own_socket_dir = own_socket_dir
        self._stopped = False
        #: set by kill()/stop(): an exit now is no accident
        self.exit_expected = False
        self.death_reported = False

    def __repr__(self) -> str:
        pid = self.proc.pid if self.proc is not None else None
        return f"<Node {self.name} pid={pid} {self.host}:{self.client_port}>"

    # addresses, as the connector takes them
    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.client_port

    @property
    def ws_address(self) -> str:
        """The WebSocket URI (the node listens on every interface; the tests
        only ever connect through loopback)."""
        return f"ws://{self.host}:{self.ws_port}"

    @property
    def unix_address(self) -> str:
        return f"unix:{self.pipe_path}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "the node was not started"
        return self.proc.pid

    def write_config(self, extra: Mapping[str, object] | None = None) -> None:
        settings: dict[str, object] = {
            "listen_client_port": self.client_port,
            "bind_client_addr": LOOPBACK,
            "listen_node_port": self.node_port,
            "bind_node_addr": LOOPBACK,
            "http_status_port": 0,
            "http_api_port": 0,
            "ws_port": self.ws_port,
            "storage_path": f"{self.storage_path}/",
            "pipe_client_name": str(self.pipe_path),
            "shutdown_period": 0,
        }
        settings.update(extra or {})
        lines = ["[thingsdb]", *(f"{k} = {v}" for k, v in settings.items()), ""]
        self.conf_path.write_text("\n".join(lines))

    def launch(self, *args: str) -> None:
        """Start the process (config written, output to the log file)."""
        assert self.proc is None or self._stopped, "already running"
        self.proc = None
        self._stopped = False
        self.exit_expected = False
        self.death_reported = False
        if self._own_socket_dir is not None:
            self._own_socket_dir.mkdir(parents=True, exist_ok=True)
        self.storage_path.mkdir(parents=True, exist_ok=True)
        # a stale socket file stops the node at start-up
        with contextlib.suppress(FileNotFoundError):
            self.pipe_path.unlink()
        # THINGSDB_* variables would override the config file
        env = {k: v for k, v in os.environ.items() if not k.startswith("THINGSDB_")}
        cmd = [self.binary, "-c", str(self.conf_path), "-l", "info", *args]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=env,
            )
        _live.append(self)

    # state and log
    def is_alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def died_unexpectedly(self) -> bool:
        return self.proc is not None and not self.exit_expected and not self.is_alive()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def death_report(self) -> str:
        rc = self.proc.returncode if self.proc is not None else None
        how = f"exit code {rc}"
        if rc is not None and rc < 0:
            with contextlib.suppress(ValueError):
                how = f"killed by {signal.Signals(-rc).name}"
        return (
            f"ThingsDB node {self.name!r} (pid {self.pid}) died ({how}); "
            f"last lines of {self.log_path}:\n{self.log_tail()}"
        )

    def check_alive(self) -> None:
        if not self.is_alive():
            raise NodeStartError(self.death_report())

    # blocking queries, for set-up code
    def query(
        self,
        code: str,
        scope: str = "@thingsdb",
        *,
        timeout: float = 10.0,
        **variables: Any,
    ) -> Any:
        with _RawConnection(self.host, self.client_port, timeout) as conn:
            conn.request(_REQ_AUTH, [self.user, self.password], _PROTO_OK)
            payload: list[Any] = [scope, code]
            if variables:
                payload.append(variables)
            return conn.request(_REQ_QUERY, payload, _PROTO_DATA)

    def wait_ready(
        self,
        timeout: float = 30.0,
        wait: Literal["query", "node_port", "client_port"] = "query",
    ) -> None:
        """Poll until the node answers a query (or a port accepts)."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        port = self.node_port if wait == "node_port" else self.client_port
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if wait == "query":
                    if self.query("1 + 1;", timeout=2.0) == 2:
                        return
                else:
                    with socket.create_connection((self.host, port), timeout=1.0):
                        return
            except (OSError, NodeQueryError) as exc:
                last = exc
            time.sleep(0.05)
        raise NodeStartError(
            f"ThingsDB node {self.name!r} (pid {self.pid}) not ready after "
            f"{timeout} s (last error: {last!r}); last lines of "
            f"{self.log_path}:\n{self.log_tail()}"
        )

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig`` to this node's PID (a deliberate exit: not reported)."""
        self.exit_expected = True
        if self.is_alive():
            assert self.proc is not None
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM by PID, wait, then SIGKILL; returns the exit code.

        A node found dead here (not killed with :meth:`kill`) is kept for
        :func:`take_new_deaths`, so a test cannot hide a crash by stopping.
        """
        proc = self.proc
        if self in _live:
            _live.remove(self)
        if proc is None or self._stopped:
            return None if proc is None else proc.returncode
        self._stopped = True
        if self.died_unexpectedly() and not self.death_reported:
            _casualties.append(self)
        self.exit_expected = True
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._own_socket_dir is not None:
            shutil.rmtree(self._own_socket_dir, ignore_errors=True)
        return proc.returncode

    def restart(
        self,
        *args: str,
        wait: Literal["query", "node_port", "client_port"] | None = "query",
        ready_timeout: float = 30.0,
    ) -> None:
        """Stop (SIGTERM) and start again on the same store, ports and socket
        (without ``--init``)."""
        self.stop()
        self.launch(*args)
        if wait is not None:
            self.wait_ready(ready_timeout, wait)

    def __enter__(self) -> Node:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_node(
    workdir: Path,
    *,
    name: str = "node0",
    binary: str | None = None,
    init: bool = True,
    secret: str | None = None,
    wait: Literal["query", "node_port", "client_port"] | None = "query",
    ready_timeout: float = 30.0,
    extra_config: Mapping[str, object] | None = None,
    attempts: int = 3,
) -> Node:
    """Start ``thingsdb -c <conf> --init`` (or ``--secret``) in ``workdir``.

    Ports are picked free on 127.0.0.1; if another process grabs one before
    the node binds it, the start is retried with new ports. Raises
    :class:`NodeStartError` with the tail of the node log on failure.
    """
    if binary is None:
        binary, reason = find_binary()
        if binary is None:
            raise NodeStartError(reason)
    workdir.mkdir(parents=True, exist_ok=True)
    args: list[str] = []
    if init:
        args.append("--init")
    if secret is not None:
        args += ["--secret", secret]

    for attempt in range(1, attempts + 1):
        node_dir = workdir / (name if attempt == 1 else f"{name}-try{attempt}")
        node_dir.mkdir(parents=True, exist_ok=True)
        pipe_path = node_dir / f"{name}.sock"
        own_socket_dir: Path | None = None
        if len(os.fsencode(pipe_path)) > _MAX_SOCKET_PATH:
            own_socket_dir = Path(tempfile.mkdtemp(prefix="tdb", dir="/tmp"))
            pipe_path = own_socket_dir / f"{name}.sock"
        client_port, node_port, ws_port = free_ports(3)
        node = Node(
            name=name,
            binary=binary,
            workdir=node_dir,
            client_port=client_port,
            node_port=node_port,
            ws_port=ws_port,
            pipe_path=pipe_path,
            own_socket_dir=own_socket_dir,
        )
        node.write_config(extra_config)
        node.launch(*args)
        try:
            if wait is not None:
                node.wait_ready(ready_timeout, wait)
        except NodeStartError:
            node.death_reported = True  # told by the error, not by the hook
            node.stop()
            if attempt < attempts and "address already in use" in node.log_tail():
                continue
            raise
        except BaseException:
            node.death_reported = True
            node.stop()
            raise
        return node
    raise AssertionError("unreachable")


# -- a loopback proxy (TLS termination, dropping connections) ---------------------


class Proxy:
    """Accept loopback connections (TLS when ``ssl_context`` is given) and forward
    the bytes to ``target``. :meth:`drop` cuts every current connection."""

    def __init__(
        self, target: tuple[str, int], *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.target = target
        self._ssl = ssl_context
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.accepted = 0

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the proxy first"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def address(self) -> tuple[str, int]:
        return LOOPBACK, self.port

    async def start(self) -> Proxy:
        self._server = await asyncio.start_server(
            self._handle, LOOPBACK, 0, ssl=self._ssl
        )
        return self

    async def __aenter__(self) -> Proxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def drop(self) -> None:
        """Abort every connection now (both sides)."""
        for writer in list(self._writers):
            writer.transport.abort()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.accepted += 1
        up_writer: asyncio.StreamWriter | None = None
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            self._writers.add(up_writer)
            await asyncio.gather(
                self._pump(reader, up_writer), self._pump(up_reader, writer)
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for w in (writer, up_writer):
                if w is None:
                    continue
                self._writers.discard(w)
                w.close()
                with contextlib.suppress(OSError):
                    await w.wait_closed()
            self._tasks.discard(task)

    @staticmethod
    async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        finally:
            # one side is done: end the other one too
            dst.transport.abort()
