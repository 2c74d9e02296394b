"""THE ENGINE: what both clients (``thingsdb.client``, asyncio, and
``thingsdb.sync``, blocking) decide, written once and free of I/O.

Everything that decides how a client fails over, retries, resends, leaves a
node, re-joins its rooms or judges its keepalive lives here; each client
package only carries the steps out with its own I/O (tasks and futures;
threads, a lock and sockets). Neither client package owns this one, and it
imports nothing of theirs: a rule of failover is changed here, once.

    settings.py     the settings both take, checked; TLS; WebSocket limit
    credentials.py  credentials, checked once, kept for re-authentication
    failfile.py     where an undecodable payload is dumped
    requests.py     one request's tries: never sent, not ready, resends
    failover.py     reconnect rounds: which node next, back-off, the first
                    connection's rules, failed attempts told, statuses
                    that make a client leave its node
    nodes.py        a client's nodes and connections: in use, leaving,
                    the bridge during a move, what a loss starts
    rooms.py        the table of joined rooms: routing, re-filing, the
                    bridge, re-joining
    keepalive.py    what a PING without its PONG means
"""
