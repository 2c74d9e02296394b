"""The ``@event`` decorator (``thingsdb.room.event``, as python-thingsdb code
imports it) and the handler table it builds, for both room classes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..protocol.codec import check_str

__all__ = ["event", "event_handlers"]

_EVENT_ATTR = "__thingsdb_event__"

F = TypeVar("F", bound=Callable[..., Any])


def event(name: str) -> Callable[[F], F]:
    """Mark a Room method as the handler of the events called ``name``."""
    check_str("event name", name)

    def mark(fn: F) -> F:
        setattr(fn, _EVENT_ATTR, name)
        return fn

    return mark


def event_handlers(cls: type) -> dict[str, str]:
    """Event name -> name of the method marked with ``@event`` for it, over
    the class and its bases (a more derived class wins for an event)."""
    handlers: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        for attr, value in vars(klass).items():
            name = getattr(value, _EVENT_ATTR, None)
            if isinstance(name, str):
                handlers = {k: v for k, v in handlers.items() if v != attr}
                handlers[name] = attr
    return handlers
