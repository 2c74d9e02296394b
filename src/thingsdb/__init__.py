"""An asyncio connector for ThingsDB.

Import the client from ``thingsdb.client`` and errors from
``thingsdb.exceptions``.
"""

__version__ = "0.1.0"
