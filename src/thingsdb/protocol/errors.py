"""The protocol core's errors: the peer broke the protocol, or a result
does not fit the type it was asked for.

They are :class:`thingsdb.exceptions.ProtocolError` and
:class:`thingsdb.exceptions.ResultTypeError` (that module takes them from
here, so the core imports nothing above it).
"""

from __future__ import annotations

import builtins

from .package import Package


class ProtocolError(builtins.ConnectionError):
    """The node sent something that breaks the protocol (bad header, package
    over the size cap, undecodable payload). The connection is closed."""

    def __init__(self, message: str, *, payload: bytes | None = None) -> None:
        super().__init__(message)
        #: The undecodable payload, when there was one.
        self.payload = payload
        #: Good packages decoded from the same read, before the bad one.
        self.packages: list[Package] = []


class ResultTypeError(builtins.ValueError):
    """A result that does not fit the type it was asked for (``client.typed(T)``).

    ``str(exc)`` names the place in the result and what was wrong there,
    such as ``$[3].pages: expected int, got str``: ``$`` is the result,
    ``[3]`` an item of a list, ``.pages`` a field (by the name the node
    sends: a thing's id is ``.#``). The request itself
    succeeded; only the reading failed, and the connection is fine.
    """

    def __init__(self, path: str, problem: str, result_type: object) -> None:
        super().__init__(f"{path}: {problem}")
        #: Where in the result: ``$`` for the result itself.
        self.path = path
        #: What was wrong there (msgspec's words, lower-cased).
        self.problem = problem
        #: The type the result was asked for.
        self.result_type = result_type

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.path, self.problem, self.result_type))
