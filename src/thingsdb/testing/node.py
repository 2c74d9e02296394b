"""One ``thingsdb`` process for tests: its config, store, log, ports and PID.

A node listens on free ports (client and node ports on 127.0.0.1; the
WebSocket and status ports on every interface, as ThingsDB has no bind
setting for them) and keeps everything in one folder: ``<name>.conf``,
``<name>-store/``, ``<name>.log`` and usually its unix socket. It is stopped
by its own PID, never by name.

Readiness never relies on the connector under test: :meth:`Node.ready` waits
until the status port says the node takes queries, then runs one query over
a hand-written AUTH + QUERY exchange (:mod:`thingsdb.testing.wire`), which
also proves the client port and the credentials the tests will use.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from . import wire
from .binary import check_binary, find_binary, node_environment
from .errors import NodeQueryError, NodeStartError, PortRangeError
from .lifecycle import Lifecycle

LOOPBACK = "127.0.0.1"
#: the environment variable with the range test nodes take their ports from,
#: as ``LOW-HIGH`` (both included), for machines where only some ports may
#: be used (shared CI machines, firewalls); unset: any free port
PORTS_ENV = "THINGSDB_PORTS"
#: the credentials ``thingsdb --init`` creates
DEFAULT_USER = "admin"
DEFAULT_PASSWORD = "pass"
#: seconds a node gets to become ready (a busy 2-core machine needs the margin)
READY_TIMEOUT = 30.0
#: seconds a node gets to exit after SIGTERM before SIGKILL
STOP_TIMEOUT = 15.0

#: what "started" means: ``ready``: the status port says READY and a query
#: answers; ``query``: a query answers; ``healthy``: the process is up (a
#: node waiting for its secret to join a cluster); ``node_port`` and
#: ``client_port``: that port accepts connections
Wait = Literal["ready", "query", "healthy", "node_port", "client_port"]

_WAITED_FOR: dict[str, str] = {
    "ready": "ready",
    "query": "answering queries",
    "healthy": "up (its status port did not answer)",
    "node_port": "listening on its node port",
    "client_port": "listening on its client port",
}

#: unix socket paths longer than this do not fit in ``sockaddr_un``
_MAX_SOCKET_PATH = 100
_POLL = 0.05
#: a single probe of a starting node (it answers at once or not at all)
_PROBE_TIMEOUT = 2.0
#: how often a start is tried with new ports when one was taken meanwhile
_ATTEMPTS = 3

_T = TypeVar("_T")
_NodeT = TypeVar("_NodeT", bound="Node")

_registry = threading.Lock()
#: started and not stopped yet
_live: list[Node] = []
#: found dead (not by our hand) when stopped, not reported yet
_casualties: list[Node] = []


class _Aborted(Exception):
    """An async start was cancelled; the blocking work in its thread ends."""


_NEVER = threading.Event()  # the abort flag of blocking calls: never set


#: the range set by :func:`set_port_range` (pytest's ``--thingsdb-ports``),
#: which comes before ``THINGSDB_PORTS``
_port_range: tuple[int, int] | None = None
#: ports of the range handed out already: a node picks its ports some time
#: before it binds them, and the next node must not pick the same (they are
#: handed out again only when the range has no others left)
_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def parse_port_range(text: str, source: str = PORTS_ENV) -> tuple[int, int]:
    """``"20000-20999"`` as ``(20000, 20999)``; anything else is a
    :class:`PortRangeError` that names ``source``."""
    low, dash, high = text.strip().partition("-")
    try:
        if not dash:
            raise ValueError(text)
        first, last = int(low), int(high)
    except ValueError:
        raise PortRangeError(
            f"{source}: {text!r} is no port range; write LOW-HIGH, such as "
            "20000-20999 (both included)"
        ) from None
    if not 1 <= first <= last <= 65535:
        raise PortRangeError(
            f"{source}: {text!r}: the ports must be from 1 to 65535, the "
            "first no higher than the last"
        )
    return first, last


def set_port_range(ports: tuple[int, int] | None) -> None:
    """Where test nodes take their ports from in this process (``None``:
    ``THINGSDB_PORTS``, else anywhere); what ``--thingsdb-ports`` sets."""
    global _port_range
    _port_range = ports


def port_range() -> tuple[int, int] | None:
    """The range test nodes take their ports from, if one is set:
    :func:`set_port_range`, else ``THINGSDB_PORTS``; a bad value of the
    variable is a :class:`PortRangeError`."""
    if _port_range is not None:
        return _port_range
    text = os.environ.get(PORTS_ENV, "")
    return parse_port_range(text) if text.strip() else None


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """``count`` distinct ports that were free on ``host`` a moment ago:
    any, or within :func:`port_range` when one is set (tried from a random
    start, so that runs side by side rarely collide); a range with too few
    free ports is a :class:`PortRangeError`."""
    ports = port_range()
    socks: list[socket.socket] = []
    try:
        if ports is None:
            for _ in range(count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(sock)
                sock.bind((host, 0))
            return [s.getsockname()[1] for s in socks]
        first, last = ports
        size = last - first + 1
        start = random.randrange(size)
        with _handed_out_lock:
            for fresh_only in (True, False):
                for offset in range(size):
                    port = first + (start + offset) % size
                    if fresh_only and port in _handed_out:
                        continue
                    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    try:
                        sock.bind((host, port))
                    except OSError:
                        sock.close()
                        continue
                    socks.append(sock)
                    if len(socks) == count:
                        picked = [s.getsockname()[1] for s in socks]
                        _handed_out.update(picked)
                        return picked
                free = len(socks)
                for sock in socks:
                    sock.close()
                socks.clear()
        raise PortRangeError(
            f"{count} free ports are needed, and {PORTS_ENV} (or --thingsdb-ports) "
            f"{first}-{last} has {free} free on {host}; widen the range"
        )
    finally:
        for sock in socks:
            sock.close()


def live_nodes() -> list[Node]:
    """Nodes started here and not stopped yet."""
    with _registry:
        return list(_live)


def dead_nodes() -> list[Node]:
    """Nodes that exited although nobody stopped or killed them."""
    with _registry:
        found = [n for n in _live if n.died_unexpectedly()]
        return found + [n for n in _casualties if n not in found]


def take_new_deaths() -> list[Node]:
    """Like :func:`dead_nodes`, but each death is returned only once."""
    found = [n for n in dead_nodes() if not n.death_reported]
    for n in found:
        n.death_reported = True
    with _registry:
        _casualties.clear()
    return found


@atexit.register
def _stop_all() -> None:
    """A script that forgot to stop its nodes does not leave them running."""
    for node in live_nodes():
        with contextlib.suppress(Exception):
            node.stop(timeout=5)


class Node(Lifecycle):
    """One ThingsDB node process, started on free loopback ports.

    ``binary``: the ``thingsdb`` program (else ``THINGSDB_BIN``, else
    ``PATH``). ``workdir``: where config, store and log go (a new temporary
    folder when not given, removed by :meth:`close`). ``init``: start a new
    store with ``--init`` (``None``: only when the store is still empty, so a
    kept ``workdir`` is started again on its data). ``secret``: wait for a
    ``new_node()`` from a cluster instead. Ports not given are picked free.
    ``extra_config``: more ``[thingsdb]`` settings (not the ports or paths).
    ``http_api``: turn the node's HTTP API on, at a free port (every
    interface, as ThingsDB binds it) picked with the others: its
    ``http_api_port`` and ``http_url`` (off: port 0, no URL).

    Usable as a context manager, blocking (``with Node() as node:``) and
    async (``async with Node() as node:``): it is started on entry when it
    was not yet, and stopped (:meth:`close`) on exit.
    """

    def __init__(
        self,
        binary: str | os.PathLike[str] | None = None,
        *,
        workdir: str | os.PathLike[str] | None = None,
        name: str = "node0",
        init: bool | None = None,
        secret: str | None = None,
        client_port: int | None = None,
        node_port: int | None = None,
        ws_port: int | None = None,
        status_port: int | None = None,
        extra_config: Mapping[str, object] | None = None,
        log_level: str = "info",
        ready_timeout: float = READY_TIMEOUT,
        http_api: bool = False,
    ) -> None:
        self.binary = find_binary(binary)
        self.http_api = http_api
        self.http_api_port = 0
        self.name = name
        self.init = init
        self.secret = secret
        self.extra_config = dict(extra_config or {})
        self.log_level = log_level
        self.ready_timeout = ready_timeout
        self.host = LOOPBACK
        self.user = DEFAULT_USER
        self.password = DEFAULT_PASSWORD
        #: the ThingsDB version the binary reported (set by start())
        self.version: str | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        #: set by kill()/stop(): an exit now is no accident
        self.exit_expected = False
        self.death_reported = False
        self._workdir = Path(workdir) if workdir is not None else None
        self._own_workdir = workdir is None
        self._pipe_path: Path | None = None
        self._own_socket_dir: Path | None = None
        self._stopped = False
        self._log_offset = 0
        self._wanted_ports = (client_port, node_port, ws_port, status_port)
        self._fixed_ports = any(p is not None for p in self._wanted_ports)
        self.client_port = self.node_port = self.ws_port = self.status_port = 0
        self._pick_ports()

    def __repr__(self) -> str:
        pid = self.proc.pid if self.proc is not None else None
        return f"<Node {self.name} pid={pid} {self.host}:{self.client_port}>"

    # -- where things are ------------------------------------------------------

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix=f"thingsdb-{self.name}-"))
        return self._workdir

    @property
    def conf_path(self) -> Path:
        return self.workdir / f"{self.name}.conf"

    @property
    def storage_path(self) -> Path:
        return self.workdir / f"{self.name}-store"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def pipe_path(self) -> Path:
        """The unix socket (in a short folder of its own when the workdir's
        path is too long for one)."""
        if self._pipe_path is None:
            path = self.workdir / f"{self.name}.sock"
            if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
                self._own_socket_dir = Path(tempfile.mkdtemp(prefix="tdb", dir="/tmp"))
                path = self._own_socket_dir / f"{self.name}.sock"
            self._pipe_path = path
        return self._pipe_path

    # addresses, as the connector takes them
    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.client_port

    @property
    def ws_address(self) -> str:
        """The WebSocket URI (the node listens on every interface; connect
        through loopback)."""
        return f"ws://{self.host}:{self.ws_port}"

    @property
    def http_url(self) -> str:
        """The HTTP API's URL (``Node(http_api=True)`` only)."""
        if not self.http_api:
            raise RuntimeError("this node's HTTP API is off: Node(http_api=True)")
        return f"http://{self.host}:{self.http_api_port}"

    @property
    def unix_address(self) -> str:
        return f"unix:{self.pipe_path}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "the node was not started"
        return self.proc.pid

    # -- config and process ----------------------------------------------------

    def _pick_ports(self) -> None:
        # free on every interface, so also on loopback: the WebSocket and
        # status ports bind every interface
        picked = iter(free_ports(4, host="0.0.0.0"))
        self.client_port, self.node_port, self.ws_port, self.status_port = (
            wanted if wanted is not None else next(picked)
            for wanted in self._wanted_ports
        )
        if self.http_api:  # a fifth port, none of the four
            others = (self.client_port, self.node_port, self.ws_port, self.status_port)
            self.http_api_port = 0
            while self.http_api_port in (0, *others):
                (self.http_api_port,) = free_ports(1, host="0.0.0.0")

    def write_config(self, extra: Mapping[str, object] | None = None) -> None:
        settings: dict[str, object] = {
            "listen_client_port": self.client_port,
            "bind_client_addr": LOOPBACK,
            "listen_node_port": self.node_port,
            "bind_node_addr": LOOPBACK,
            "http_status_port": self.status_port,
            "http_api_port": self.http_api_port,
            "ws_port": self.ws_port,
            "storage_path": f"{self.storage_path}/",
            "pipe_client_name": str(self.pipe_path),
            "shutdown_period": 0,
        }
        settings.update(self.extra_config)
        settings.update(extra or {})
        lines = ["[thingsdb]", *(f"{k} = {v}" for k, v in settings.items()), ""]
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text("\n".join(lines))

    def launch(self, *args: str) -> None:
        """Start the process on the written config; output goes to the log.

        It runs in a session of its own: a Ctrl-C in the terminal reaches
        the test run, which then stops the node in order.
        """
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
        cmd = [self.binary, "-c", str(self.conf_path), "-l", self.log_level, *args]
        with open(self.log_path, "ab") as log:
            self._log_offset = log.tell()
            log.write(f"-- thingsdb.testing: {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=node_environment(),
                start_new_session=True,
            )
        with _registry:
            _live.append(self)

    def _ports(self) -> str:
        return (
            f"client port {self.client_port}, node port {self.node_port}, "
            f"WebSocket port {self.ws_port}, status port {self.status_port}"
        )

    def _store_is_empty(self) -> bool:
        try:
            return not any(self.storage_path.iterdir())
        except FileNotFoundError:
            return True

    # -- state and log ---------------------------------------------------------

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

    def _log_since_launch(self) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def _port_was_taken(self) -> bool:
        # the node's words, and those of its WebSocket library
        log = self._log_since_launch()
        return "address already in use" in log or "EADDRINUSE" in log

    def _how_it_ended(self) -> str:
        rc = self.proc.returncode if self.proc is not None else None
        if rc is not None and rc < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-rc).name}"
        return f"exit code {rc}"

    def death_report(self) -> str:
        return (
            f"ThingsDB node {self.name!r} (pid {self.pid}) died "
            f"({self._how_it_ended()}); last lines of {self.log_path}:\n"
            f"{self.log_tail()}"
        )

    def check_alive(self) -> None:
        if not self.is_alive():
            raise NodeStartError(self.death_report())

    def status(self, timeout: float = _PROBE_TIMEOUT) -> str:
        """The node's status as its status port tells it (``READY``...)."""
        code, body = wire.status(self.host, self.status_port, "/status", timeout)
        return body if code == 200 else f"{body} (HTTP {code})"

    # -- blocking queries, for set-up code ---------------------------------------------

    def query(
        self,
        code: str,
        scope: str = "@thingsdb",
        *,
        timeout: float = 10.0,
        **variables: Any,
    ) -> Any:
        """Run ``code`` as the admin user over a connection of its own,
        without the connector; raises :class:`NodeQueryError`."""
        return wire.query(
            self.host,
            self.client_port,
            self.user,
            self.password,
            code,
            scope,
            variables,
            timeout,
        )

    # -- starting and waiting --------------------------------------------------

    def start(
        self: _NodeT, *, wait: Wait | None = "ready", timeout: float | None = None
    ) -> _NodeT:
        """Start the node and wait until it is ready (see :data:`Wait`).

        A new store gets ``--init`` (or ``--secret``). When another process
        took one of the picked ports meanwhile, the start is tried again on
        new ports. Raises :class:`NodeStartError`, with the node's log,
        after stopping whatever it started. Returns the node.
        """
        self._start(wait, timeout, _NEVER, restart=False)
        return self

    async def astart(
        self: _NodeT, *, wait: Wait | None = "ready", timeout: float | None = None
    ) -> _NodeT:
        """:meth:`start` without blocking the event loop; cancelling it stops
        the node."""
        await run_abortable(
            lambda abort: self._start(wait, timeout, abort, restart=False),
            self._abandon,
        )
        return self

    def ready(self, timeout: float | None = None, wait: Wait = "ready") -> None:
        """Wait until the status port says the node takes queries and a
        query answers (or what ``wait`` says). Raises
        :class:`NodeStartError` with the log, leaving the node running."""
        self._wait_for(wait, timeout, _NEVER)

    async def aready(self, timeout: float | None = None, wait: Wait = "ready") -> None:
        await run_abortable(
            lambda abort: self._wait_for(wait, timeout, abort), _nothing
        )

    def wait_ready(self, timeout: float | None = None, wait: Wait = "ready") -> None:
        """The same as :meth:`ready` (its earlier name)."""
        self.ready(timeout, wait)

    def _start(
        self,
        wait: Wait | None,
        timeout: float | None,
        abort: threading.Event,
        *,
        restart: bool,
        args: tuple[str, ...] = (),
    ) -> None:
        if self.is_alive():
            raise RuntimeError(f"{self!r} is already running")
        self.version = check_binary(self.binary)
        self.workdir.mkdir(parents=True, exist_ok=True)
        fresh = self._store_is_empty()
        flags = list(args)
        if not restart and not args:
            if self.init or (self.init is None and fresh and self.secret is None):
                flags.append("--init")
            if self.secret is not None and fresh:
                flags += ["--secret", self.secret]
        # new ports only for a first start: after that, clients and the
        # other nodes of a cluster know this node by its ports
        attempts = 1 if restart or self._fixed_ports else _ATTEMPTS
        for attempt in range(1, attempts + 1):
            self.write_config()
            self.launch(*flags)
            try:
                if wait is not None:
                    self._wait_for(wait, timeout, abort)
                return
            except NodeStartError:
                port_taken = self._port_was_taken()
                self._abandon()
                if attempt == attempts or not port_taken:
                    raise
                if fresh:  # an --init that got this far wrote a store
                    shutil.rmtree(self.storage_path, ignore_errors=True)
                self._pick_ports()
            except BaseException:
                self._abandon()
                raise

    def _wait_for(
        self, wait: Wait, timeout: float | None, abort: threading.Event
    ) -> None:
        limit = self.ready_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        last = "no answer yet"
        while True:
            if not self.is_alive():
                taken = ""
                if self._port_was_taken():
                    taken = f" (a port was taken; it had {self._ports()})"
                raise NodeStartError(
                    f"ThingsDB node {self.name!r} (pid {self.pid}) exited during "
                    f"start-up ({self._how_it_ended()}){taken}; last lines of "
                    f"{self.log_path}:\n{self.log_tail()}"
                )
            try:
                answer = self._probe(wait)
                if answer is None:
                    return
                last = answer
            except (OSError, NodeQueryError) as exc:
                last = repr(exc)
            if time.monotonic() >= deadline:
                raise NodeStartError(
                    f"ThingsDB node {self.name!r} (pid {self.pid}) was not "
                    f"{_WAITED_FOR[wait]} after {limit} s (last answer: {last}); "
                    f"last lines of {self.log_path}:\n{self.log_tail()}"
                )
            if abort.wait(_POLL):
                raise _Aborted

    def _probe(self, wait: Wait) -> str | None:
        """One look: ``None`` when the node is as ``wait`` wants it, else
        what it said."""
        if wait in ("ready", "healthy"):
            path = "/ready" if wait == "ready" else "/healthy"
            code, body = wire.status(self.host, self.status_port, path, _PROBE_TIMEOUT)
            if code != 200:
                return f"status port: {code} {body}"
            if wait == "healthy":
                return None
        if wait in ("ready", "query"):
            result = self.query("1 + 1;", timeout=_PROBE_TIMEOUT)
            return None if result == 2 else f"1 + 1 gave {result!r}"
        port = self.node_port if wait == "node_port" else self.client_port
        with socket.create_connection((self.host, port), timeout=_PROBE_TIMEOUT):
            return None

    # -- stopping --------------------------------------------------------------

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig`` to this node's PID (a deliberate exit: not reported
        as a death). Does not wait."""
        self.exit_expected = True
        if self.is_alive():
            assert self.proc is not None
            self.proc.send_signal(sig)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM by PID, wait, then SIGKILL; returns the exit code.

        The store, log and config stay (see :meth:`close`). A node found
        dead here (not killed with :meth:`kill`) is kept for
        :func:`take_new_deaths`, so a test cannot hide a crash by stopping.
        """
        proc = self._begin_stop()
        if proc is None:
            return None if self.proc is None else self.proc.returncode
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        finally:
            self._end_stop()
        return proc.returncode

    async def astop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """:meth:`stop` without blocking the event loop."""
        proc = self._begin_stop()
        if proc is None:
            return None if self.proc is None else self.proc.returncode
        try:
            # in a worker thread; a cancelled wait ends below with the SIGKILL
            await asyncio.get_running_loop().run_in_executor(
                None, _wait_at_most, proc, timeout
            )
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            self._end_stop()
        return proc.returncode

    def _begin_stop(self) -> subprocess.Popen[bytes] | None:
        """Bookkeeping and SIGTERM; the process to wait for, if any."""
        proc = self.proc
        with _registry:
            if self in _live:
                _live.remove(self)
            if proc is None or self._stopped:
                return None
            self._stopped = True
            if self.died_unexpectedly() and not self.death_reported:
                _casualties.append(self)
        self.exit_expected = True
        if proc.poll() is None:
            proc.terminate()
        return proc

    def _end_stop(self) -> None:
        if self._own_socket_dir is not None:
            shutil.rmtree(self._own_socket_dir, ignore_errors=True)

    def _abandon(self) -> None:
        """Stop a start that failed (its error tells what happened)."""
        self.death_reported = True
        self.stop(timeout=5)

    def restart(
        self,
        *args: str,
        wait: Wait | None = "ready",
        ready_timeout: float | None = None,
    ) -> None:
        """Stop (SIGTERM) and start again on the same store and ports
        (``args``: extra command-line flags for the new start)."""
        self.stop()
        self._start(wait, ready_timeout, _NEVER, restart=True, args=args)

    async def arestart(
        self,
        *args: str,
        wait: Wait | None = "ready",
        ready_timeout: float | None = None,
    ) -> None:
        await self.astop()
        await run_abortable(
            lambda abort: self._start(
                wait, ready_timeout, abort, restart=True, args=args
            ),
            self._abandon,
        )

    def _remove_own_folders(self) -> None:
        if self._own_workdir and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
            self._pipe_path = None

    def _never_started(self) -> bool:
        return self.proc is None


def start_node(
    workdir: Path,
    *,
    name: str = "node0",
    binary: str | None = None,
    init: bool = True,
    secret: str | None = None,
    wait: Wait | None = "ready",
    ready_timeout: float = READY_TIMEOUT,
    extra_config: Mapping[str, object] | None = None,
) -> Node:
    """Start a node in ``workdir / name`` and return it once it is ready.

    ``init=False`` with a ``secret``: a node that waits to join a cluster
    (use ``wait="healthy"``). Raises :class:`NodeStartError` with the tail of
    the node's log.
    """
    node = Node(
        binary,
        workdir=workdir / name,
        name=name,
        init=init,
        secret=secret,
        extra_config=extra_config,
        ready_timeout=ready_timeout,
    )
    return node.start(wait=wait)


async def run_abortable(
    work: Callable[[threading.Event], _T], undo: Callable[[], object]
) -> _T:
    """Run blocking ``work(abort)`` in a worker thread without blocking the
    loop. When the awaiting task is cancelled, ``abort`` is set (the work
    ends at its next look and cleans up after itself) and, should the work
    have finished just before it saw that, ``undo()`` reverts it."""
    abort = threading.Event()
    future = asyncio.get_running_loop().run_in_executor(None, work, abort)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        abort.set()
        await asyncio.wait({future})  # until its next look at the flag
        if not future.cancelled() and future.exception() is None:
            undo()
        raise


def _nothing() -> None:
    pass


def _wait_at_most(proc: subprocess.Popen[bytes], timeout: float) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)
