"""A node to work with by hand (``thingsdb-cli --local``), not for a test."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import NodeStartError
from .node import READY_TIMEOUT, Node


def local_node(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    binary: str | os.PathLike[str] | None = None,
    client_port: int | None = None,
    ready_timeout: float = READY_TIMEOUT,
) -> Node:
    """A ThingsDB node on this machine, to be used as a context manager::

        with local_node() as node:          # or: async with local_node() as node:
            host, port = node.address       # user node.user, password node.password
            ...

    It starts on entry (``thingsdb --init`` on free loopback ports) and is
    stopped by its PID on exit. Without ``data_dir`` it lives in a new
    temporary folder, removed on exit. With ``data_dir`` (created when
    missing) its config, store and log (``local.conf``, ``local-store/``,
    ``local.log``) stay there, and the next run starts on the same data; a
    second node on the same folder at the same time fails to start.
    ``client_port`` fixes the client port (else a free one).

    Raises :class:`NodeStartError` (:class:`BinaryError` for a missing or
    unusable binary) with the node's log; nothing is left running then.
    """
    if data_dir is not None and Path(data_dir).exists() and not Path(data_dir).is_dir():
        raise NodeStartError(f"{os.fspath(data_dir)} is not a folder")
    return Node(
        binary,
        # absolute: the node runs in that folder, and would read a relative
        # path (its config, its store) from there
        workdir=Path(data_dir).absolute() if data_dir is not None else None,
        name="local",
        client_port=client_port,
        ready_timeout=ready_timeout,
    )
