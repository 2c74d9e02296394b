"""A ThingsDB cluster of real nodes for tests: the first one started with
``--init``, each other one with a secret and then joined by ``new_node()``."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from .errors import NodeQueryError, NodeStartError
from .lifecycle import Lifecycle
from .node import _NEVER, Node, _Aborted, run_abortable

#: seconds for the whole cluster to start; each join synchronizes a store
CLUSTER_READY_TIMEOUT = 120.0
_POLL = 0.2


class Cluster(Lifecycle):
    """``size`` real nodes that form one cluster, each on free loopback ports.

    ``binary``, ``extra_config`` and ``log_level`` are those of
    :class:`Node`; ``workdir`` holds one folder per node (a new temporary
    folder when not given, removed by :meth:`close`). Use it as a context
    manager, blocking or async, or call :meth:`start` and :meth:`close`.
    """

    def __init__(
        self,
        size: int = 3,
        binary: str | os.PathLike[str] | None = None,
        *,
        workdir: str | os.PathLike[str] | None = None,
        secret: str | None = None,
        extra_config: Mapping[str, object] | None = None,
        log_level: str = "info",
        ready_timeout: float = CLUSTER_READY_TIMEOUT,
    ) -> None:
        if size < 1:
            raise ValueError(f"a cluster has at least one node, not {size}")
        self.secret = secret or secrets.token_hex(8)
        self.ready_timeout = ready_timeout
        self._own_workdir = workdir is None
        self.workdir = (
            Path(tempfile.mkdtemp(prefix="thingsdb-cluster-"))
            if workdir is None
            else Path(workdir)
        )
        self.nodes = [
            Node(
                binary,
                workdir=self.workdir / f"node{i}",
                name=f"node{i}",
                init=i == 0,
                secret=None if i == 0 else self.secret,
                extra_config=extra_config,
                log_level=log_level,
            )
            for i in range(size)
        ]

    def __repr__(self) -> str:
        return f"<Cluster of {len(self.nodes)}: {self.nodes}>"

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, index: int) -> Node:
        return self.nodes[index]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The client addresses of all nodes, for ``Client.connect_pool()``."""
        return [node.address for node in self.nodes]

    # -- starting ------------------------------------------------------------------

    def start(self, timeout: float | None = None) -> Cluster:
        """Start every node and wait until all of them see all of them
        READY. Raises :class:`NodeStartError` (with the log of the node that
        failed) after stopping what it started. Returns the cluster."""
        self._start(timeout, _NEVER)
        return self

    async def astart(self, timeout: float | None = None) -> Cluster:
        """:meth:`start` without blocking the event loop; cancelling it stops
        the nodes."""
        await run_abortable(lambda abort: self._start(timeout, abort), self.stop)
        return self

    def _start(self, timeout: float | None, abort: threading.Event) -> None:
        limit = self.ready_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        first = self.nodes[0]
        try:
            first._start("ready", _left(deadline), abort, restart=False)
            for i, node in enumerate(self.nodes[1:], start=2):
                # up and waiting for its secret, then asked to join
                node._start("healthy", _left(deadline), abort, restart=False)
                first.query(
                    "new_node(secret, host, port);",
                    secret=self.secret,
                    host=node.host,
                    port=node.node_port,
                    timeout=max(_left(deadline), 1.0),
                )
                self._wait_ready(self.nodes[:i], deadline, limit, abort)
        except BaseException:
            self.stop()
            raise

    def ready(self, timeout: float | None = None) -> None:
        """Wait until every node is READY and sees every other one READY."""
        limit = self.ready_timeout if timeout is None else timeout
        self._wait_ready(self.nodes, time.monotonic() + limit, limit, _NEVER)

    def _wait_ready(
        self, nodes: list[Node], deadline: float, limit: float, abort: threading.Event
    ) -> None:
        last: Any = "no answer yet"
        while True:
            for node in nodes:
                node.check_alive()
            try:
                # the status ports first: asking them leaves no trace in the
                # logs, where a query per look would bury what matters
                statuses = {node.name: node.status() for node in nodes}
                last = ", ".join(f"{k}: {v}" for k, v in statuses.items())
                if all(v == "READY" for v in statuses.values()) and all(
                    self._sees_all_ready(node, len(nodes)) for node in nodes
                ):
                    return
            except (OSError, NodeQueryError) as exc:
                last = exc
            if time.monotonic() >= deadline:
                logs = "\n\n".join(
                    f"last lines of {n.log_path}:\n{n.log_tail(15)}" for n in nodes
                )
                raise NodeStartError(
                    f"ThingsDB cluster of {len(nodes)} not READY after {limit} s "
                    f"(last: {last}); {logs}"
                )
            if abort.wait(_POLL):
                raise _Aborted

    @staticmethod
    def _sees_all_ready(node: Node, count: int) -> bool:
        info = node.query("nodes_info();", scope="@node", timeout=5)
        return len(info) == count and all(n["status"] == "READY" for n in info)

    # -- stopping ------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every node (SIGTERM by PID); stores and logs stay."""
        for node in self.nodes:
            node.stop()

    async def astop(self) -> None:
        for node in self.nodes:
            await node.astop()

    def _remove_own_folders(self) -> None:
        for node in self.nodes:
            node._remove_own_folders()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _never_started(self) -> bool:
        return all(node.proc is None for node in self.nodes)


class ClusterFactory(Protocol):
    """The ``thingsdb_cluster`` fixture: ``thingsdb_cluster(3)`` starts a
    cluster of three nodes, stopped when the test ends."""

    def __call__(
        self,
        size: int = 3,
        *,
        extra_config: Mapping[str, object] | None = None,
        ready_timeout: float = CLUSTER_READY_TIMEOUT,
    ) -> Cluster: ...


def _left(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.0)
