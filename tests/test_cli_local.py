"""``thingsdb-cli --local``: a real node of its own for one run, with one-shot
code, ``-f``, ``-r`` and ``migrate``; ``--data`` keeping its data between
runs; the node stopped (checked by its PID) after the run, after an error,
on Ctrl-C, SIGTERM and SIGHUP; and what goes wrong: flags that do not go
with it, no binary, a node that does not start.

The shell with ``--local`` is in test_cli_tmux.py (it needs a terminal).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import realnode
from thingsdb import cli
from thingsdb.testing import live_nodes, local_node

pytestmark = [pytest.mark.node, pytest.mark.timeout(300)]

#: keeps the node busy for some seconds (a few tenths of a second per 50)
BUSY = "x = 0; range(600).each(|_| range(100000).each(|i| x += i)); x"
_PID = re.compile(r"\(pid (\d+)\)")


def running(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, exited but not yet reaped by
    its parent, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def node_pid(text: str) -> int:
    found = _PID.search(text)
    assert found is not None, text
    return int(found.group(1))


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No THINGSDB_* settings of the caller (but the binary), temporary
    folders in a folder of the test's own (to see that none is left), and
    no node left running afterwards."""
    for name in list(os.environ):
        if name.startswith("THINGSDB_") and name != realnode.BIN_ENV:
            monkeypatch.delenv(name)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    before = set(live_nodes())
    yield temp
    assert set(live_nodes()) <= before


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def command_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINGSDB_")}
    if realnode.BIN_ENV in os.environ:
        env[realnode.BIN_ENV] = os.environ[realnode.BIN_ENV]
    env["TMPDIR"] = str(tmp_path / "tmp")
    return env


def thingsdb_cli(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``thingsdb-cli ARGV...`` as a program of its own."""
    return subprocess.run(
        [sys.executable, "-m", "thingsdb", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=command_env(tmp_path),
        cwd=tmp_path,
    )


# -- a run on a local node ----------------------------------------------------------


def test_one_shot_on_a_throwaway_node(tmp_path: Path) -> None:
    done = thingsdb_cli(tmp_path, "--local", "1 + 1")
    assert (done.returncode, done.stdout, done.stderr) == (0, "2\n", "")
    # --verbose says which node ran; it is gone, and so is its folder
    done = thingsdb_cli(
        tmp_path, "--local", "-v", "-s", "@node", "node_info().load().version"
    )
    assert done.returncode == 0, done.stderr
    version = json.loads(done.stdout)
    first = done.stderr.splitlines()[0]
    assert first.startswith(f"thingsdb-cli: local node ThingsDB {version} (pid ")
    assert first.endswith("), throwaway: its data goes at exit")
    assert done.stderr.splitlines()[1].startswith(
        "thingsdb-cli: connected to 127.0.0.1:"
    )
    assert not running(node_pid(first))
    assert list((tmp_path / "tmp").iterdir()) == []


def test_data_folder_keeps_the_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative --data is taken from here
    data = ["--local", "--data", "devdb", "-v", "-s", "//stuff"]
    status, out, err = run(
        capsys,
        *data,
        "new_procedure('add_one', |x| x + 1); .greeting = 'kept'; 'stored';",
    )
    assert (status, out) == (0, '"stored"\n'), err
    assert f"its data in {tmp_path / 'devdb'}\n" in err
    first_pid = node_pid(err)
    assert not running(first_pid)
    assert {p.name for p in (tmp_path / "devdb").iterdir()} >= {
        "local.conf",
        "local-store",
        "local.log",
    }
    # a procedure by -r, code by -f, on the data of the first run
    status, out, err = run(capsys, *data, "-r", "add_one", "[41]")
    assert (status, out) == (0, "42\n"), err
    assert node_pid(err) != first_pid
    (tmp_path / "q.ti").write_text(".greeting;")
    status, out, err = run(capsys, *data, "-f", "q.ti")
    assert (status, out) == (0, '"kept"\n'), err
    assert not running(node_pid(err))
    assert list((tmp_path / "tmp").iterdir()) == []  # no temporary folder


def test_an_error_in_the_job_stops_the_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "--local", "-v", "1 / 0")
    assert (status, out) == (cli.FAILED, "")
    assert err.splitlines()[-1] == (
        "ZeroDivisionError (-58): division or modulo by zero"
    )
    assert not running(node_pid(err))
    # the user's own credentials, on a node where that user exists
    data = tmp_path / "d"
    run(
        capsys,
        "--local",
        "--data",
        str(data),
        "new_user('iris'); set_password('iris', 'pw');"
        "grant('@thingsdb', 'iris', QUERY);",
    )
    status, out, err = run(
        capsys,
        "--local",
        "--data",
        str(data),
        "-u",
        "iris",
        "-w",
        "pw",
        "user_info().load().name",
    )
    assert (status, out) == (0, '"iris"\n'), err
    status, out, err = run(
        capsys, "--local", "--data", str(data), "-u", "iris", "-w", "wrong", "1"
    )
    assert (status, out) == (cli.NO_LOGIN, "")
    assert err.count("\n") == 1


def test_version_without_starting_a_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "--local", "--version")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("thingsdb-cli (")
    assert re.fullmatch(r"ThingsDB \S+ \(--local starts /\S+\)", lines[1]), lines
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    ("sig", "status"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
)
def test_a_signal_stops_the_node_first(
    tmp_path: Path, sig: signal.Signals, status: int
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "thingsdb", "--local", "-v", "--timeout", "120", BUSY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=command_env(tmp_path),
    )
    try:
        assert proc.stderr is not None
        started = proc.stderr.readline()
        pid = node_pid(started)
        assert running(pid)
        connected = proc.stderr.readline()  # the query goes out next
        assert connected.startswith("thingsdb-cli: connected to 127.0.0.1:")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == status, err
    assert out == ""  # the query did not get to its end
    assert "Traceback" not in err
    assert not running(pid)
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    ("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
)
def test_a_signal_while_the_node_starts(
    tmp_path: Path, sig: signal.Signals, status: int
) -> None:
    # a stand-in that passes for a node but never gets ready; it says when
    # it runs, and its PID
    started = tmp_path / "started"
    binary = tmp_path / "thingsdb"
    binary.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --version ]; then echo "ThingsDB Node 9.9.9"; exit 0; fi\n'
        f"echo $$ > {started}.tmp && mv {started}.tmp {started}\n"
        "exec sleep 600\n"
    )
    binary.chmod(0o755)
    proc = subprocess.Popen(
        [sys.executable, "-m", "thingsdb", "--local", "--thingsdb-bin", binary, "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=command_env(tmp_path),
    )
    try:
        for _ in range(1200):  # until it runs, or a minute has passed
            if started.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        pid = int(started.read_text())
        assert running(pid)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (proc.returncode, out, err) == (status, "", "")
    assert not running(pid)
    assert list((tmp_path / "tmp").iterdir()) == []  # its folder is gone too


# -- migrate on a local node ----------------------------------------------------------


def test_migrate_on_a_local_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "0001_notes.ti").write_text(".notes = ['first'];\n")
    where = ["--dir", str(folder), "-s", "stuff"]
    # a throwaway node: applied there, and gone with it
    status, out, err = run(capsys, "migrate", "up", *where, "--local")
    assert (status, out) == (0, "applied 0001_notes.ti\n//stuff: at 0001; applied 1\n")
    assert err.startswith("thingsdb-cli migrate: local node ThingsDB ")
    assert not running(node_pid(err))
    kept = ["--local", "--data", str(tmp_path / "d")]
    status, out, err = run(capsys, "migrate", "status", *where, *kept)
    assert (status, out.splitlines()[0]) == (5, "//stuff: at 0000, 1 pending")
    # the connection flags (--local, --data) on the other side of `migrate`
    status, out, err = run(capsys, *kept, "migrate", "up", *where)
    assert status == 0, err
    status, out, err = run(capsys, "migrate", "status", *where, *kept)
    assert (status, out.splitlines()[0]) == (0, "//stuff: at 0001, up to date")
    (folder / "0001_notes.ti").write_text(".notes = ['edited'];\n")
    status, out, err = run(capsys, "migrate", "up", *where, *kept)
    assert status == 6
    assert "EDITED" in out
    assert not running(node_pid(err))
    status, out, _err = run(
        capsys, "--local", "--data", str(tmp_path / "d"), "-s", "//stuff", ".notes"
    )
    assert (status, out) == (0, '[\n  "first"\n]\n')


def test_migrate_ctrl_c_stops_the_node(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "0001_busy.ti").write_text(f"{BUSY};\n")
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "thingsdb", "migrate", "up"),
            *("--dir", str(folder), "-s", "stuff", "--local"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=command_env(tmp_path),
    )
    try:
        assert proc.stderr is not None
        pid = node_pid(proc.stderr.readline())
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert not running(pid)


# -- what goes wrong ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-n", "db1"], "--local starts a node of its own; --node does not go with it"),
        (
            ["-p", "9200"],
            "--local starts a node of its own; --port does not go with it",
        ),
        (["-n", "localhost:9200"], "--node does not go with it"),
        (["--ssl"], "--local: the local node has no TLS; leave out --ssl"),
        (["--cafile", "ca.pem"], "leave out --cafile"),
        (["--no-verify"], "leave out --no-verify"),
        (["-s", "//no such"], "--scope: "),
        (["-t", " "], "--token: the token is empty"),
        (["--data", "{file}"], "--data {file}: not a folder"),
        (["--thingsdb-bin", "{tmp}/nope"], "--thingsdb-bin {tmp}/nope: no such file"),
        (["--thingsdb-bin", "{file}"], "is not an executable file"),
        (["--thingsdb-bin", "{stranger}"], "is not a ThingsDB node binary"),
        (["--verbose", "migrate", "up"], "only connection flags (-n, -p"),
    ],
)
def test_bad_input_one_line_and_no_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    file = tmp_path / "file"
    file.write_text("not a folder")
    stranger = tmp_path / "stranger"  # runs, but is no ThingsDB node
    stranger.write_text("#!/bin/sh\necho 'some other program'\n")
    stranger.chmod(0o755)
    names = {"file": file, "tmp": tmp_path, "stranger": stranger}
    args = [a.format(**names) for a in argv]
    status, out, err = run(
        capsys, "--local", *args, *(["1"] if "migrate" not in argv else [])
    )
    assert (status, out) == (cli.BAD_USAGE, "")
    assert err.count("\n") == 1
    assert err.startswith("thingsdb-cli: ")
    assert message.format(**names) in err
    assert list((tmp_path / "tmp").iterdir()) == []  # no node was started


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--data", "d", "1"], "--data goes with --local"),
        (["--thingsdb-bin", "thingsdb", "1"], "--thingsdb-bin goes with --local"),
    ],
)
def test_local_flags_without_local(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, out, err = run(capsys, *argv)
    assert (status, out, err) == (cli.BAD_USAGE, "", f"thingsdb-cli: {message}\n")


def test_no_binary_names_the_three_places(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(realnode.BIN_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no thingsdb on it
    status, out, err = run(capsys, "--local")
    assert (status, out) == (cli.BAD_USAGE, "")
    assert err.count("\n") == 1
    assert err.startswith("thingsdb-cli: no ThingsDB node binary: ")
    for place in ("--thingsdb-bin PATH", "THINGSDB_BIN", "`thingsdb` on PATH"):
        assert place in err
    assert "build ThingsDB from source" in err
    # the same for migrate
    status, out, err = run(
        capsys, "migrate", "status", "-s", "x", "--dir", str(tmp_path), "--local"
    )
    assert (status, out) == (cli.BAD_USAGE, "")
    assert err.startswith("thingsdb-cli migrate: no ThingsDB node binary: ")


def test_a_data_folder_in_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d"
    with local_node(data) as first:
        status, out, err = run(capsys, "--local", "--data", str(data), "1")
        assert first.is_alive()
    assert (status, out) == (cli.NO_CONNECTION, "")
    assert err.count("\n") == 1
    assert err.startswith(
        "thingsdb-cli: the local node did not start: ThingsDB node 'local' (pid "
    )
    assert "exited during start-up (exit code 1)" in err
    assert f"the node says: path is locked by another process ({data}" in err
    assert err.endswith(f"; its log: {data / 'local.log'}\n")
    assert not running(node_pid(err))


def test_a_node_that_exits_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # says it is a ThingsDB node, then fails as one that cannot start would
    binary = tmp_path / "thingsdb"
    binary.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --version ]; then echo "ThingsDB Node 9.9.9"; exit 0; fi\n'
        'echo "[E 2026-01-01 00:00:00] cannot start: a stand-in for the test"\n'
        'echo "[E 2026-01-01 00:00:00] exit with error code 1"\n'
        "exit 1\n"
    )
    binary.chmod(0o755)
    status, out, err = run(capsys, "--local", "--thingsdb-bin", str(binary), "1")
    assert (status, out) == (cli.NO_CONNECTION, "")
    assert err.count("\n") == 1
    assert "exited during start-up (exit code 1)" in err
    assert "the node says: cannot start: a stand-in for the test; its log: " in err
    log = Path(err.rsplit("; its log: ", 1)[1].strip())
    # the temporary folder is kept, for the log
    assert log.parent.parent == tmp_path / "tmp"
    assert "a stand-in for the test" in log.read_text()
