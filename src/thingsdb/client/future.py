"""The future of one request: what ``Client.query()`` and ``Client.run()``
return, carrying what it takes to send the request again."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


class RequestFuture(asyncio.Future[T], Coroutine[Any, Any, T]):
    """The future of one request: what ``Client.query()`` and
    ``Client.run()`` return.

    It carries what it takes to send the request again: when its
    connection cannot finish it in a way that allows another try (never
    written, the node ran nothing, or written but marked idempotent), the
    connection hands it to the client's ``on_retry`` instead of failing it,
    and the caller keeps awaiting the same future.

    It also speaks the coroutine protocol, driving its own ``__await__``:
    python-thingsdb's calls return coroutines in practice, so code written
    for it may pass them to ``asyncio.create_task()``, which takes only
    coroutines. (``asyncio.wait()`` refuses coroutines, and so refuses
    these: wrap them in tasks there, as python-thingsdb code must.)
    """

    __slots__ = ("_steps", "retry")

    #: what it takes to send it again: the package type and payload, the
    #: deadline and timeout, and how many more times it may go out after its
    #: connection was lost once it was written (idempotent requests only)
    retry: Retry
    _steps: Generator[Any, None, T]

    def send(self, value: None) -> Any:
        try:
            steps = self._steps
        except AttributeError:
            steps = self._steps = self.__await__()
        return steps.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        try:
            steps = self._steps
        except AttributeError:
            steps = self._steps = self.__await__()
        return steps.throw(typ if val is None else val)

    def close(self) -> None:
        """Nothing to do: the request is sent and keeps its id until it is
        answered (use ``cancel()`` to stop waiting for it)."""


#: (package type, payload, deadline, timeout, resends): see RequestFuture
Retry = tuple[int, bytes, "float | None", "float | None", int]


def new_request(loop: asyncio.AbstractEventLoop, retry: Retry) -> RequestFuture[Any]:
    fut: RequestFuture[Any] = RequestFuture(loop=loop)
    fut.retry = retry
    return fut
