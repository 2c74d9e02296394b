"""The ``pytest11`` entry point: loads the plugin when the ``testing`` extra
is installed.

An entry point belongs to the distribution, not to an extra: it is there for
everyone who installed ``thingsdb-connector``. pip records no extras either,
so what the extra brings is the only sign of it: pytest-asyncio, which the
plugin needs for its async ``thingsdb_client`` fixture. Without it, this
module registers nothing, and pytest runs as if the plugin did not exist
(``-p thingsdb.testing`` still loads it). ``-p no:thingsdb`` turns it off.
"""

from __future__ import annotations

from importlib.util import find_spec

pytest_plugins = ["thingsdb.testing.plugin"] if find_spec("pytest_asyncio") else []
