"""What goes wrong when starting or asking a test node."""

from __future__ import annotations


class NodeStartError(RuntimeError):
    """A node could not be started: it exited, or it was not ready in time.

    The message ends with the last lines of the node's log. Whatever was
    started for it has been stopped by the time this is raised.
    """


class BinaryError(NodeStartError):
    """No usable ``thingsdb`` binary: none found, not executable, or not a
    ThingsDB node at all."""


class PortRangeError(NodeStartError):
    """The port range for test nodes (``THINGSDB_PORTS``, pytest's
    ``--thingsdb-ports``) is no range, or holds too few free ports."""


class NodeQueryError(RuntimeError):
    """The node answered a set-up query (:meth:`Node.query`) with an error."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{msg} ({code})")
        self.code = code
        self.msg = msg
