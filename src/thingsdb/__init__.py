"""An asyncio connector for ThingsDB.

Import the client from ``thingsdb.client`` and errors from
``thingsdb.exceptions``.
"""

from .version import __version__

__all__ = ["__version__"]
