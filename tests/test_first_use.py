"""What a new user meets first (issue 23): log lines nobody asked for,
datetimes, a client outliving its event loop.

Each test runs what such a user runs, in a fresh interpreter where the
point is what an unconfigured process prints.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import re
import subprocess
import sys
import textwrap

import pytest

from thingsdb import exceptions as tdx
from thingsdb.client import Client
from thingsdb.sync import Client as SyncClient
from thingsdb.testing import Node, free_ports


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- 3. no log lines nobody asked for, and the node named once -----------------


def test_an_unconfigured_process_hears_nothing_of_failed_attempts() -> None:
    (port,) = free_ports(1)  # nothing listens there
    done = run_python(
        f"""
        import asyncio
        from thingsdb.client import Client
        from thingsdb.exceptions import TimeoutError

        async def main():
            client = Client()
            try:
                await client.connect_pool(
                    [("127.0.0.1", {port})], "admin", "pass", timeout=1.2
                )
            except TimeoutError as exc:
                print("timed out:", exc)
            finally:
                await client.close_and_wait()

        asyncio.run(main())
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no last-resort handler output
    # the error the caller gets still says where and why, once
    assert done.stdout.count(f"127.0.0.1:{port}") == 1, done.stdout
    assert "refused" in done.stdout


async def test_a_failed_attempt_names_the_node_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    (port,) = free_ports(1)
    caplog.set_level(logging.WARNING, logger="thingsdb.client")
    client = Client()
    try:
        with pytest.raises(TimeoutError):
            await client.connect_pool(
                [("127.0.0.1", port)], "admin", "pass", timeout=1.2
            )
    finally:
        await client.close_and_wait()
    lines = [r.getMessage() for r in caplog.records if r.name == "thingsdb.client"]
    assert lines, "a configured logger still hears each failed attempt"
    for line in lines:
        assert line.startswith(f"cannot connect to 127.0.0.1:{port}: "), line
        assert line.count("cannot connect") == 1, line


def test_the_blocking_client_names_the_node_once_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    (port,) = free_ports(1)
    caplog.set_level(logging.WARNING, logger="thingsdb.client")
    with SyncClient() as client, pytest.raises(TimeoutError) as info:
        client.connect_pool([("127.0.0.1", port)], "admin", "pass", timeout=1.2)
    assert str(info.value).count(f"127.0.0.1:{port}") == 1, info.value
    lines = [r.getMessage() for r in caplog.records if r.name == "thingsdb.client"]
    assert lines
    for line in lines:
        assert line.startswith(f"cannot connect to 127.0.0.1:{port}: "), line
        assert line.count("cannot connect") == 1, line


# -- 7. a client used after its event loop ended --------------------------------


@pytest.mark.node
def test_a_client_used_in_a_second_asyncio_run_says_its_loop_ended(
    node: Node,
) -> None:
    host, port = node.address
    done = run_python(
        f"""
        import asyncio
        from thingsdb.client import Client

        client = Client()

        async def first():
            await client.connect({host!r}, {port})
            await client.authenticate({node.user!r}, {node.password!r})
            print("first:", await client.query("1 + 1"))

        asyncio.run(first())
        for call in (
            lambda: client.query("1 + 1"),
            lambda: client.run("nope"),
            lambda: client.node_info(),
            lambda: client.close_and_wait(),
        ):
            async def second():
                await call()
            try:
                asyncio.run(second())
            except RuntimeError as exc:
                print("second:", exc)
        """
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "first: 2"
    assert len(lines) == 5, done.stdout
    for line in lines[1:]:
        assert line.startswith(
            "second: this client belongs to an event loop that has ended"
        ), line
        assert "asyncio.run()" in line


@pytest.mark.node
def test_a_client_used_on_another_running_loop_says_so(node: Node) -> None:
    loop = asyncio.new_event_loop()
    client = Client()
    try:
        loop.run_until_complete(client.connect(*node.address))
        loop.run_until_complete(client.authenticate(node.user, node.password))

        async def elsewhere() -> None:
            with pytest.raises(RuntimeError, match="another event loop"):
                await client.close_and_wait()
            with pytest.raises(RuntimeError, match="another event loop"):
                client.query("1 + 1", timeout=5)  # the path that checks
            # query() and run() on their fast path leave this case to
            # asyncio (its "attached to a different loop"), to keep ~200 ns
            # off each call; a loop that ended is caught there too
            with pytest.raises(RuntimeError, match="loop"):
                await client.query("1 + 1")

        asyncio.run(elsewhere())
        # on its own loop it still works, and closes
        assert loop.run_until_complete(client.query("1 + 1")) == 2
    finally:
        loop.run_until_complete(client.close_and_wait())
        loop.close()


# -- 5. datetimes: refused at the call, with a way that works --------------------


@pytest.mark.node
async def test_a_datetime_is_refused_at_the_call_and_the_way_it_says_works(
    node: Node,
) -> None:
    client = Client()
    await client.connect(*node.address)
    try:
        await client.authenticate(node.user, node.password)
        aware = datetime.datetime(2030, 1, 31, 12, 30, tzinfo=datetime.timezone.utc)
        for moment in (aware, aware.replace(tzinfo=None), aware.date()):
            with pytest.raises(TypeError, match=re.escape("dt.timestamp()")):
                client.query("x", x=moment)  # raised here: nothing sent
            with pytest.raises(TypeError, match="ThingsDB takes no date"):
                client.run("nope", moment)
        # what the message says to do instead
        assert (
            await client.query(
                "datetime(x).format('%Y-%m-%dT%H:%M');", x=aware.timestamp()
            )
            == "2030-01-31T12:30"
        )
        # (not dt.isoformat(): datetime() does not read its "+00:00")
        with pytest.raises(tdx.ValueError, match="invalid date/time string"):
            await client.query("datetime(x);", x=aware.isoformat())
        assert await client.query("1 + 1") == 2  # the connection is as it was
    finally:
        await client.close_and_wait()
