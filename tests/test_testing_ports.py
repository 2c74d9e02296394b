"""A port range for test nodes (issue 23, point 8): ``THINGSDB_PORTS``, the
pytest plugin's ``--thingsdb-ports`` and ``thingsdb-cli --local``."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from thingsdb import cli
from thingsdb.testing import (
    PORTS_ENV,
    PortRangeError,
    free_ports,
    local_node,
    port_range,
    set_port_range,
)


def a_range(size: int = 200) -> tuple[int, int]:
    """A range below the ephemeral ports, where few others pick."""
    first = random.randrange(20000, 30000 - size)
    return first, first + size - 1


@pytest.fixture(autouse=True)
def no_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PORTS_ENV, raising=False)


def test_free_ports_stay_in_the_range(monkeypatch: pytest.MonkeyPatch) -> None:
    first, last = a_range()
    monkeypatch.setenv(PORTS_ENV, f"{first}-{last}")
    assert port_range() == (first, last)
    picked = free_ports(4)
    assert len(set(picked)) == 4
    assert all(first <= p <= last for p in picked)
    # handed out ports are not handed out again while others are left
    assert not set(picked) & set(free_ports(4))


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("20000", "'20000' is no port range; write LOW-HIGH, such as 20000-20999"),
        ("a-b", "is no port range"),
        ("30000-20000", "the first no higher than the last"),
        ("0-10", "the ports must be from 1 to 65535"),
        ("60000-70000", "the ports must be from 1 to 65535"),
    ],
)
def test_a_bad_range_says_so(
    value: str, needle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PORTS_ENV, value)
    with pytest.raises(PortRangeError) as info:
        free_ports(1)
    assert str(info.value).startswith(f"{PORTS_ENV}: ")
    assert needle in str(info.value)


def test_a_range_with_too_few_free_ports_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, last = a_range(3)
    monkeypatch.setenv(PORTS_ENV, f"{first}-{last}")
    with pytest.raises(PortRangeError, match="4 free ports are needed") as info:
        free_ports(4)
    assert "widen the range" in str(info.value)


def test_set_port_range_comes_before_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PORTS_ENV, "nonsense")
    first, last = a_range()
    set_port_range((first, last))
    try:
        assert port_range() == (first, last)
    finally:
        set_port_range(None)
    with pytest.raises(PortRangeError):
        port_range()


@pytest.mark.node
def test_a_node_listens_in_the_range(monkeypatch: pytest.MonkeyPatch) -> None:
    first, last = a_range()
    monkeypatch.setenv(PORTS_ENV, f"{first}-{last}")
    with local_node() as node:
        ports = [node.client_port, node.node_port, node.ws_port, node.status_port]
        assert all(first <= p <= last for p in ports), ports
        assert node.query("node_info().load().client_port;", "@n") == node.client_port


@pytest.mark.node
def test_thingsdb_cli_local_in_the_range(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first, last = a_range()
    monkeypatch.setenv(PORTS_ENV, f"{first}-{last}")
    status = cli.main(["--local", "-s", "@n", "node_info().load().client_port"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert first <= int(out) <= last
    monkeypatch.setenv(PORTS_ENV, "9000")
    status = cli.main(["--local", "1"])
    out, err = capsys.readouterr()
    assert (status, out) == (cli.BAD_USAGE, "")
    assert err == (
        f"thingsdb-cli: {PORTS_ENV}: '9000' is no port range; write LOW-HIGH, "
        "such as 20000-20999 (both included)\n"
    )


PLUGIN_TEST = """
def test_node(thingsdb_node) -> None:
    low, high = map(int, "{range}".split("-"))
    assert low <= thingsdb_node.client_port <= high
    assert thingsdb_node.query("1 + 1;") == 2
"""


@pytest.mark.node
def test_the_pytest_option(tmp_path: Path) -> None:
    first, last = a_range()
    where = f"{first}-{last}"
    (tmp_path / "test_in_range.py").write_text(
        textwrap.dedent(PLUGIN_TEST.format(range=where))
    )
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env[PORTS_ENV] = "ignored: the option comes first"

    def pytest_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    done = pytest_run("-p", "thingsdb.testing", f"--thingsdb-ports={where}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    bad = pytest_run("-p", "thingsdb.testing", "--thingsdb-ports=1-2-3")
    assert bad.returncode == 4  # pytest's usage error: nothing ran
    assert "--thingsdb-ports: '1-2-3' is no port range" in bad.stderr
