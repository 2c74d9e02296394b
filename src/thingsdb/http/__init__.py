"""ThingsDB's HTTP API as a transport: ``query()`` and ``run()`` over HTTP(S),
blocking (:class:`Client`) and asyncio (:class:`AsyncClient`).

Needs the ``http`` extra (httpx): ``pip install thingsdb-connector[http]``.

::

    from thingsdb.http import Client

    with Client("http://node1:9210", "http://node2:9210", auth="token") as client:
        client.query("1 + 1")            # 2
        client.run("add", 1, 2)          # a procedure, as on the socket clients

The arguments, checks, results and errors are those of the socket clients
(:mod:`thingsdb.client`, :mod:`thingsdb.sync`). There are no rooms and no
events (the node pushes nothing over HTTP). See the README's "The HTTP API".
"""

from __future__ import annotations

from .aclient import AsyncClient
from .client import Client
from .exchange import LOGIN_REFUSED

__all__ = ["LOGIN_REFUSED", "AsyncClient", "Client"]
