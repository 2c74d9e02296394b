"""Finding the node binary, and what thingsdb.testing says about a missing
or unusable one: not there, not executable, another program, a program that
starts but never becomes a node."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from thingsdb.testing import (
    BIN_ENV,
    BinaryError,
    Node,
    NodeStartError,
    check_binary,
    find_binary,
    live_nodes,
    which_binary,
)


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def script(folder: Path, name: str, body: str, mode: int = 0o755) -> Path:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(mode)
    return path


@pytest.fixture
def no_binary_anywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No THINGSDB_BIN, and a PATH without thingsdb."""
    monkeypatch.delenv(BIN_ENV, raising=False)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


@pytest.mark.usefixtures("no_binary_anywhere")
def test_no_binary_names_all_three_ways_and_how_to_get_one() -> None:
    path, reason = which_binary()
    assert path is None
    for hint in ("binary=PATH", BIN_ENV, "`thingsdb` on PATH", "build ThingsDB"):
        assert hint in reason
    with pytest.raises(BinaryError) as info:
        find_binary()
    assert str(info.value) == reason
    with pytest.raises(BinaryError, match="no ThingsDB node binary"):
        Node()
    _, said = which_binary(given_as="--thingsdb-bin=")
    assert "--thingsdb-bin=PATH" in said


def test_lookup_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from_env = script(tmp_path, "from-env", "exit 0")
    argument = script(tmp_path, "argument", "exit 0")
    monkeypatch.setenv(BIN_ENV, str(from_env))
    assert which_binary() == (str(from_env), "")
    assert which_binary(argument) == (str(argument), "")
    monkeypatch.delenv(BIN_ENV)
    on_path = script(tmp_path, "thingsdb", "exit 0")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert which_binary() == (str(on_path), "")
    assert which_binary("thingsdb") == (str(on_path), "")  # a bare name: PATH


def test_a_configured_binary_that_is_not_there_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nope"
    monkeypatch.setenv(BIN_ENV, str(missing))
    with pytest.raises(BinaryError, match=f"{BIN_ENV}={missing}: no such file"):
        which_binary()
    with pytest.raises(BinaryError, match=f"binary={missing}: no such file"):
        Node(missing)
    with pytest.raises(BinaryError, match="binary=no-such-program is not on PATH"):
        which_binary("no-such-program")


def test_a_binary_that_is_not_executable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = live_nodes()  # the session's node, when earlier tests made it
    plain = script(tmp_path, "thingsdb", "exit 0", mode=0o644)
    assert not os.access(plain, os.X_OK)
    with pytest.raises(BinaryError, match="is not an executable file"):
        Node(plain)
    monkeypatch.setenv(BIN_ENV, str(plain))
    with pytest.raises(BinaryError, match=f"{BIN_ENV}={plain} is not an executable"):
        Node()
    with pytest.raises(BinaryError, match="is not an executable file"):
        which_binary(tmp_path)  # a folder
    assert live_nodes() == before


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("echo 'hello, I am a script'", "hello, I am a script"),
        ("echo 'usage: no such flag' >&2; exit 2", "exited with 2"),
        ("exit 0", "printed 'nothing'"),
    ],
)
def test_another_program_is_not_started(tmp_path: Path, body: str, said: str) -> None:
    other = script(tmp_path, "not-thingsdb", body)
    before = live_nodes()
    node = Node(other, workdir=tmp_path / "node")
    with pytest.raises(BinaryError) as info:
        node.start()
    text = str(info.value)
    assert f"{other} is not a ThingsDB node binary" in text
    assert said in text
    assert node.proc is None  # never launched
    assert live_nodes() == before


def test_a_file_that_cannot_be_run(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x00\x01\x02 not a program")
    garbage.chmod(garbage.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(BinaryError, match="it cannot be run"):
        check_binary(str(garbage))


@pytest.mark.node
def test_a_program_that_never_becomes_a_node_is_stopped_with_its_log(
    tmp_path: Path,
) -> None:
    # answers --version as the real binary does, then only sleeps
    real = find_binary()
    fake = script(
        tmp_path,
        "sleepy-thingsdb",
        f'[ "$1" = --version ] && exec {real} --version\n'
        "echo 'pretending to start'\nexec sleep 300",
    )
    node = Node(fake, workdir=tmp_path / "node", ready_timeout=2)
    with pytest.raises(NodeStartError) as info:
        node.start()
    text = str(info.value)
    assert f"(pid {node.pid}) was not ready after 2" in text
    assert "pretending to start" in text  # its log
    assert not running(node.pid)
    assert node not in live_nodes()


@pytest.mark.node
def test_the_real_binary_reports_its_version() -> None:
    version = check_binary(find_binary())
    assert version[0].isdigit()
    assert "." in version
