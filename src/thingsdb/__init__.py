"""An asyncio connector for ThingsDB.

Import the client from ``thingsdb.client`` and errors from
``thingsdb.exceptions``.
"""

import logging

from . import _installation  # noqa: F401 - first: python-thingsdb beside it is an ImportError
from .version import __version__

# A library leaves the handling of its log records to the application: with
# no logging configured, nothing of the connector's reaches stderr through
# Python's last-resort handler (Python's logging HOWTO for libraries).
logging.getLogger("thingsdb").addHandler(logging.NullHandler())

__all__ = ["__version__"]
