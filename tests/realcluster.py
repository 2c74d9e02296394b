"""Start a real ThingsDB cluster for tests: the first node with ``--init``,
the others with ``--secret``, each added with ``new_node()``, and wait until
every node says every node is READY. Built on :mod:`realnode` (blocking
set-up queries, nodes stopped by PID)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import realnode

SECRET = "cluster-test-secret"


#: how long a cluster may take to be READY again: a restarted node first
#: takes in the changes it missed, and release 1.9.2 stores them 10 ms
#: apart (``archive__to_disk``; the head yields instead), so after a test
#: that wrote thousands of changes it synchronizes for a minute or more
READY_TIMEOUT = 180.0

#: how long a set-up write may wait: after a SIGKILL under writes, the
#: nodes hold new writes until they give up on the change the killed node
#: had started (ThingsDB waits 42 seconds for a missing change), READY or not
WRITABLE_WITHIN = 120.0


def wait_cluster_ready(
    nodes: list[realnode.Node], timeout: float = READY_TIMEOUT
) -> None:
    """Poll ``nodes_info()`` on every node until all of them see all nodes
    READY."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            ready = True
            for node in nodes:
                info = node.query("nodes_info();", scope="@node", timeout=5)
                last = [(n["node_id"], n["status"]) for n in info]
                ready = ready and len(info) == len(nodes)
                ready = ready and all(n["status"] == "READY" for n in info)
            if ready:
                return
        except (OSError, realnode.NodeQueryError) as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"cluster not READY within {timeout} s: {last}")


#: the binary of the 3-node cluster tier, when it should not be the one of
#: the other real-node tests (see .ci/run)
CLUSTER_BIN_ENV = "THINGSDB_CLUSTER_BIN"


def cluster_binary() -> tuple[str | None, str]:
    """``(path, "")`` of the binary for the cluster tier
    (``THINGSDB_CLUSTER_BIN``, else as for every real-node test), or
    ``(None, reason)``."""
    configured = os.environ.get(CLUSTER_BIN_ENV)
    if configured:
        return configured, ""
    return realnode.find_binary()


def make_healthy(nodes: list[realnode.Node]) -> None:
    """Every node up and READY (an earlier test may have stopped or killed
    one). A node of release 1.9.2 restarted after a SIGKILL under load was
    seen to stay SYNCHRONIZING for more than READY_TIMEOUT while another
    stayed AWAY: then every node that is not READY is restarted, once, and
    waited for again."""
    for node in nodes:
        # killed by a test (maybe still shutting down) or found dead
        if node.exit_expected or not node.is_alive():
            node.restart(wait="client_port")
    try:
        wait_cluster_ready(nodes)
        return
    except AssertionError as exc:
        stuck = [n for n in nodes if _own_status(n) != "READY"]
        if not stuck:
            raise
        print(f"restarting {[n.name for n in stuck]}: {exc}")
    for node in stuck:
        node.restart(wait="client_port")
    wait_cluster_ready(nodes)


def _own_status(node: realnode.Node) -> str:
    try:
        info = node.query("node_info().load().status;", scope="@node", timeout=5)
    except (OSError, realnode.NodeQueryError) as exc:
        return str(exc)
    return str(info)


def start_cluster(
    workdir: Path,
    binary: str,
    size: int = 3,
    config: Mapping[str, object] | None = None,
) -> list[realnode.Node]:
    """``size`` nodes in one cluster, all READY. On failure the nodes
    started so far are stopped."""
    nodes = [
        realnode.start_node(workdir, name="node0", binary=binary, extra_config=config)
    ]
    try:
        for i in range(1, size):
            node = realnode.start_node(
                workdir,
                name=f"node{i}",
                binary=binary,
                init=False,
                secret=SECRET,
                wait="node_port",
                extra_config=config,
            )
            nodes.append(node)
            nodes[0].query(
                "new_node(secret, '127.0.0.1', port);",
                secret=SECRET,
                port=node.node_port,
                timeout=30,
            )
            wait_cluster_ready(nodes)
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes


def node_of(client: Any, nodes: list[realnode.Node]) -> realnode.Node:
    """The node ``client`` is connected to (over TCP)."""
    info = client.connection_info()
    for node in nodes:
        if info == f"{node.host}:{node.client_port}":
            return node
    raise AssertionError(f"connected to no cluster node: {info}")


def known_everywhere(
    nodes: list[realnode.Node], code: str, scope: str, timeout: float = 30.0
) -> None:
    """Wait until ``code`` runs without an error on every node: a change
    (a new collection, say) is answered by the node that made it once
    that node has it; the others may take it in a moment later, and a
    client of the pool may be on any of them."""
    until = time.monotonic() + timeout
    for node in nodes:
        while True:
            try:
                node.query(code, scope=scope, timeout=10)
                break
            except realnode.NodeQueryError:
                if time.monotonic() > until:
                    raise
                time.sleep(0.05)
