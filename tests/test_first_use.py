"""What a new user meets first (issue 23): log lines nobody asked for,
datetimes, a client outliving its event loop.

Each test runs what such a user runs, in a fresh interpreter where the
point is what an unconfigured process prints.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest

from thingsdb.client import Client
from thingsdb.testing import free_ports


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
