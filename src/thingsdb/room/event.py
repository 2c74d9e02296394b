"""``thingsdb.room.event``: the ``@event`` decorator, as python-thingsdb
code imports it."""

from .room import event

__all__ = ["event"]
