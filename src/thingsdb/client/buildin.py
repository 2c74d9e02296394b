"""``thingsdb.client.buildin``: python-thingsdb's name for the mix-in of
built-in helpers (here :class:`thingsdb.client.builtins.Builtins`)."""

from ..builtins import Builtins as Buildin

__all__ = ["Buildin"]
