"""Tools built on ThingsDB: a distributed lock.

``from thingsdb.misc.lock import lock`` gives the lock itself;
``from thingsdb.misc import lock`` gives its module (``lock.lock``,
``lock.setup``, ``lock.locked``), as in the established connector.
"""

from . import lock
from .lock import lock as ti_lock

__all__ = ["lock", "ti_lock"]
