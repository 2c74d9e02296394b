"""A connection that closes while the client logs in: the client's messages
speak of the login, never of "a request that may or may not have run" (no
request of the caller was under way)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from fakenode import FakeNode, NodeConnection, default_handler
from thingsdb.client import Client
from thingsdb.exceptions import ConnectionLostError
from thingsdb.protocol import Package, PackageType


def close_on_auth(conn: NodeConnection, pkg: Package) -> None:
    """A node that hangs up on every login (as one going down does)."""
    if pkg.type == PackageType.AUTH:
        conn.close()
    else:
        conn.answer_default(pkg)


async def test_authenticate_on_a_closing_connection() -> None:
    async with FakeNode(close_on_auth) as node:
        client = Client(auto_reconnect=False)
        try:
            await client.connect("127.0.0.1", node.port, timeout=5)
            with pytest.raises(ConnectionLostError) as info:
                await client.authenticate("admin", "pass", timeout=5)
            message = str(info.value)
            assert "closed before the login was answered" in message
            assert "may or may not" not in message
        finally:
            await client.close_and_wait()


async def test_relogin_log_says_what_happened(caplog: pytest.LogCaptureFixture) -> None:
    async with FakeNode() as node:
        client = Client(reconnect_delay=0.05, reconnect_max_delay=0.1)
        try:
            await client.connect("127.0.0.1", node.port, timeout=5)
            await client.authenticate("admin", "pass", timeout=5)
            node.handler = close_on_auth
            with caplog.at_level(logging.INFO, logger="thingsdb"):
                node.last_connection.close()  # the node goes away while idle
                await node.wait_for(
                    lambda: len(node.requests(PackageType.AUTH)) >= 3, 10, "logins"
                )
                failed = [
                    r.getMessage()
                    for r in caplog.records
                    if r.getMessage().startswith("cannot connect")
                ]
            assert failed, caplog.text
            for line in failed:
                assert "closed before the login was answered" in line
            assert "may or may not" not in caplog.text
            # once the node takes logins again, the client is back
            node.handler = default_handler
            assert await asyncio.wait_for(client.query("1"), 10) is not None
        finally:
            await client.close_and_wait()
