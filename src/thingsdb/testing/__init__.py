"""Real ThingsDB nodes for tests: for this project's tests and for yours.

Outside pytest::

    from thingsdb.testing import Node, Cluster

    with Node() as node:                # a new node in a temporary folder
        ...                             # node.address, node.ws_address, node.query()
    async with Cluster(3) as cluster:   # three nodes that form one cluster
        ...                             # cluster.addresses, cluster.nodes[1].stop()

Under pytest, the plugin (:mod:`thingsdb.testing.plugin`) gives the fixtures
``thingsdb_node``, ``thingsdb_client``, ``thingsdb_sync_client``,
``thingsdb_collection`` and ``thingsdb_cluster``. It is loaded by itself when
the ``testing`` extra is installed, or with ``-p thingsdb.testing``; the
``pytest_plugins`` name below is what makes that ``-p`` work.

The binary comes from an argument, ``THINGSDB_BIN``, or ``thingsdb`` on
``PATH``. Nodes listen on free ports (within ``THINGSDB_PORTS``, such as
``20000-20999``, when it is set), are stopped by their own PID, and
keep their log; every error on the way says what happened, with that log.
"""

from __future__ import annotations

import thingsdb._installation  # noqa: F401 - first: python-thingsdb beside it is an ImportError

from .binary import (
    BIN_ENV,
    BINS_ENV,
    HOW_TO_GET_ONE,
    check_binary,
    find_binary,
    list_binaries,
    which_binary,
)
from .cluster import Cluster, ClusterFactory
from .errors import BinaryError, NodeQueryError, NodeStartError, PortRangeError
from .local import local_node
from .node import (
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    LOOPBACK,
    PORTS_ENV,
    Node,
    Wait,
    dead_nodes,
    free_ports,
    live_nodes,
    port_range,
    set_port_range,
    start_node,
    take_new_deaths,
)
from .proxy import Proxy

#: ``pytest -p thingsdb.testing`` loads this module as a plugin; pytest then
#: loads the fixtures from here
pytest_plugins = ["thingsdb.testing.plugin"]

__all__ = [
    "BINS_ENV",
    "BIN_ENV",
    "DEFAULT_PASSWORD",
    "DEFAULT_USER",
    "HOW_TO_GET_ONE",
    "LOOPBACK",
    "PORTS_ENV",
    "BinaryError",
    "Cluster",
    "ClusterFactory",
    "Node",
    "NodeQueryError",
    "NodeStartError",
    "PortRangeError",
    "Proxy",
    "Wait",
    "check_binary",
    "dead_nodes",
    "find_binary",
    "free_ports",
    "list_binaries",
    "live_nodes",
    "local_node",
    "port_range",
    "set_port_range",
    "start_node",
    "take_new_deaths",
    "which_binary",
]
