"""``thingsdb-cli -n http://...``: one-shot code and procedures over a real
node's HTTP API, with the exit statuses of the socket connection."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import realnode
from thingsdb import cli

pytestmark = [pytest.mark.node, pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def _no_thingsdb_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("THINGSDB_") and name != realnode.BIN_ENV:
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def http_node() -> Iterator[realnode.Node]:
    binary, reason = realnode.find_binary()
    if binary is None:
        pytest.skip(reason)
    with realnode.Node(binary, http_api=True) as node:
        node.query("new_procedure('add', |a, b| a + b);")
        yield node


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_code(http_node: realnode.Node, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "-n", http_node.http_url, "[1 + 1, 'two', nil];")
    assert (code, err) == (cli.OK, "")
    assert json.loads(out) == [2, "two", None]


def test_scope_and_token(
    http_node: realnode.Node, capsys: pytest.CaptureFixture[str]
) -> None:
    token = http_node.query("new_token('admin');")
    try:
        code, out, _ = run(
            capsys,
            "-n",
            http_node.http_url + "/",
            "-t",
            token,
            "-s",
            "@node",
            "node_info().load().node_id;",
        )
        assert code == cli.OK
        assert json.loads(out) == 0
    finally:
        http_node.query("del_token(t);", t=token)


def test_procedures(
    http_node: realnode.Node, capsys: pytest.CaptureFixture[str]
) -> None:
    url = http_node.http_url
    assert json.loads(run(capsys, "-n", url, "--run", "add", "[40, 2]")[1]) == 42
    assert (
        json.loads(run(capsys, "-n", url, "--run", "add", '{"a": 1, "b": 2}')[1]) == 3
    )


def test_thingsdb_errors(
    http_node: realnode.Node, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "-n", http_node.http_url, "raise(lookup_err('gone'));")
    assert code == cli.FAILED
    assert out == ""
    assert err == "LookupError (-54): gone\n"


def test_a_refused_login_exits_4(
    http_node: realnode.Node, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "-n", http_node.http_url, "-w", "wrong", "1;")
    assert code == cli.NO_LOGIN == 4
    assert "refused the login; check --user and --password" in err


def test_no_node_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    (port,) = realnode.free_ports(1)
    code, out, err = run(capsys, "-n", f"http://127.0.0.1:{port}", "1;")
    assert code == cli.NO_CONNECTION == 3
    assert out == ""
    assert err.count("\n") == 1
    assert f"no ThingsDB HTTP API answers at http://127.0.0.1:{port}" in err
    assert "connection refused" in err


def test_the_node_version(
    http_node: realnode.Node, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "-n", http_node.http_url, "--version")
    assert code == cli.OK
    assert f"ThingsDB {http_node.version} at {http_node.http_url}" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-n", "http://localhost:9210", "-p", "9210", "1"], "goes in its URL"),
        (["-n", "http://localhost:9210", "--ssl", "1"], "TLS flags go with an https"),
        (["-n", "http://localhost:9210", "--shell"], "needs a socket connection"),
        (["-n", "http://user:pw@localhost", "1"], "auth="),
        (["-n", "http://localhost:x", "1"], "not a valid node URL"),
    ],
)
def test_bad_usage_exits_2(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.setattr(cli, "_stdin_is_terminal", lambda: True)
    monkeypatch.setattr(cli, "_stdout_is_terminal", lambda: True)
    code, _, err = run(capsys, *argv)
    assert code == cli.BAD_USAGE == 2
    assert message in err


def test_migrate_needs_a_socket_connection(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = "http://localhost:9210"
    argv = ["migrate", "status", "--dir", str(tmp_path), "-s", "//x", "-n", url]
    code, _, err = run(capsys, *argv)
    assert code == cli.BAD_USAGE
    assert "needs a socket connection" in err
