"""The names this project's tests have always imported from ``realnode``.

The harness itself is now part of the package, as :mod:`thingsdb.testing`
(nodes, clusters, the loopback proxy): this module only re-exports it, so
``import realnode`` goes on working. ``find_binary()`` here is
:func:`thingsdb.testing.which_binary`: ``(path, "")`` or ``(None, reason)``.
"""

from __future__ import annotations

from thingsdb.testing import (
    BIN_ENV,
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    LOOPBACK,
    Cluster,
    Node,
    NodeQueryError,
    NodeStartError,
    Proxy,
    dead_nodes,
    free_ports,
    live_nodes,
    start_node,
    take_new_deaths,
)
from thingsdb.testing import which_binary as find_binary

__all__ = [
    "BIN_ENV",
    "DEFAULT_PASSWORD",
    "DEFAULT_USER",
    "LOOPBACK",
    "Cluster",
    "Node",
    "NodeQueryError",
    "NodeStartError",
    "Proxy",
    "dead_nodes",
    "find_binary",
    "free_ports",
    "live_nodes",
    "start_node",
    "take_new_deaths",
]
