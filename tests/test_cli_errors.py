"""The one-shot mode's errors, for every flag (and environment variable)
that takes a file, a node or a value: the installed ``thingsdb-cli`` run as
a script runs it. Each ends in exactly one line on stderr, nothing on
stdout, never a traceback, and the exit status the README gives:
2 bad usage, 3 no connection, 4 login refused, 1 the request failed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import realnode

COMMAND = Path(sys.executable).with_name("thingsdb-cli")

if not COMMAND.is_file():
    pytest.skip(f"no installed thingsdb-cli at {COMMAND}", allow_module_level=True)

#: keeps the node busy for a moment
SLOWISH = "x = 0; range(50).each(|_| range(100000).each(|i| x += i)); x"


def _run(
    argv: list[str],
    env: dict[str, str] | None = None,
    stdin: bytes = b"",
    cwd: Path | None = None,
) -> tuple[int, str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("THINGSDB_")}
    clean.update(env or {})
    done = subprocess.run(
        [str(COMMAND), *argv],
        input=stdin,
        capture_output=True,
        env=clean,
        cwd=cwd,
        timeout=60,
    )
    return (
        done.returncode,
        done.stdout.decode(errors="replace"),
        done.stderr.decode(errors="replace"),
    )


def _one_line(status: int, out: str, err: str) -> str:
    assert "Traceback" not in err, err
    assert out == "", out
    assert err.count("\n") == 1, err
    assert err.endswith("\n"), err
    return err


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Files of every kind a flag may be given."""
    latin1 = tmp_path / "latin1.ti"
    latin1.write_bytes("'caf\xe9'".encode("latin-1"))
    not_pem = tmp_path / "not-a-ca.pem"
    not_pem.write_text("this is no certificate\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    return {
        "missing": tmp_path / "missing.ti",
        "latin1": latin1,
        "not_pem": not_pem,
        "folder": folder,
        "no_folder": tmp_path / "no" / "such" / "dump.bin",
    }


# -- bad usage: found before anything is sent (no node needed) -------------------

USAGE = [
    # a node
    (["-n", "", "1"], {}, "host must not be empty"),
    (["-n", "localhost:abc", "1"], {}, "the port must be a number from 1 to 65535"),
    (["-n", "localhost:0", "1"], {}, "not '0'"),
    (["-n", "[::1]:99999", "1"], {}, "not '99999'"),
    (["-n", "[::1", "1"], {}, "IPv6"),
    (["-n", "ftp://h:1", "1"], {}, "unknown scheme"),
    (["-n", "unix:", "1"], {}, "socket path"),
    (["-n", "ws://h", "1"], {}, "has no port"),
    (["-n", "h:9300", "-p", "9400", "1"], {}, "two ports: 9300 in --node and 9400"),
    ([], {"THINGSDB_NODE": "h:x"}, "THINGSDB_NODE 'h:x': the port must be"),
    # a port
    (["-p", "abc", "1"], {}, "--port: the port must be a number"),
    (["-p", "0", "1"], {}, "not '0'"),
    (["-p", "65536", "1"], {}, "not '65536'"),
    (["1"], {"THINGSDB_PORT": "nine"}, "THINGSDB_PORT: the port must be"),
    # values
    (["--timeout", "abc", "1"], {}, "'abc' is not a number of seconds"),
    (["--timeout", "0", "1"], {}, "must be above 0 seconds"),
    (["--timeout", "-1", "1"], {}, "must be above 0 seconds"),
    (["--timeout", "nan", "1"], {}, "must be above 0 seconds"),
    (["--timeout", "inf", "1"], {}, "must be above 0 seconds"),
    (["-s", "stuff", "1"], {}, "--scope: 'stuff' is not a ThingsDB scope"),
    (
        ["1"],
        {"THINGSDB_SCOPE": "stuff"},
        "THINGSDB_SCOPE: 'stuff' is not a ThingsDB scope",
    ),
    (["-t", "", "1"], {}, "--token: the token is empty"),
    (["-t", "   ", "1"], {}, "--token: the token is empty"),
    (["--format", "xml", "1"], {}, "invalid choice: 'xml'"),
    (["-r", ""], {}, "--run: the procedure name is empty"),
    (["-r", "add", "[1,"], {}, "--run: the arguments are not valid JSON"),
    (["-r", "nope", "notjson"], {}, "give a JSON list by position ('[41]')"),
    (["-r", "add", "[18446744073709551616]"], {}, "cannot send this value"),
    (["-r", "add", '{"1x": 1}'], {}, "not a valid ThingsDB name"),
    (["'\udcff'"], {}, "the code is not UTF-8 text"),
    (["--no-such-flag"], {}, "unrecognized arguments: --no-such-flag"),
    (["1", "2"], {}, "unrecognized arguments: 2"),
    (["--shell", "1"], {}, "CODE does not go with --shell"),
    (["--export", "x.bin"], {}, "need a collection scope"),
    (["-s", "//x", "--import-tasks", "1"], {}, "--import-tasks goes with --import"),
]


@pytest.mark.parametrize(("argv", "env", "needle"), USAGE)
def test_bad_usage_exits_2(argv: list[str], env: dict[str, str], needle: str) -> None:
    # a port nothing listens on: nothing may get as far as connecting
    port = str(realnode.free_ports(1)[0])
    env = {"THINGSDB_PORT": port, **env} if "-p" not in argv else env
    status, out, err = _run(argv, env)
    line = _one_line(status, out, err)
    assert status == 2, err
    assert needle in line
    assert line.startswith("thingsdb-cli: ")


@pytest.mark.parametrize(
    ("flag", "kind", "needle"),
    [
        ("--cafile", "missing", "cannot read"),
        ("--cafile", "not_pem", "no CA certificate in it"),
        ("--cafile", "folder", "--cafile"),
        ("THINGSDB_CAFILE", "missing", "cannot read"),
        ("-f", "missing", "no such file"),
        ("-f", "folder", "it is a folder"),
        ("-f", "latin1", "not UTF-8 text (byte 0xe9 at position 4)"),
        ("--import", "missing", "no such file"),
        ("--import", "folder", "it is a folder"),
        ("--export", "no_folder", "no folder"),
        ("--export", "folder", "it is a folder"),
    ],
)
def test_files_that_cannot_be_used_exit_2_naming_them(
    files: dict[str, Path], flag: str, kind: str, needle: str
) -> None:
    path = str(files[kind])
    port = str(realnode.free_ports(1)[0])
    argv = ["-p", port]
    env: dict[str, str] = {}
    if flag.startswith("THINGSDB_"):
        env[flag] = path
        argv.append("1")
    elif flag in ("--import", "--export"):
        argv += ["-s", "//x", flag, path]
    elif flag == "--cafile":
        argv += [flag, path, "1"]
    else:
        argv += [flag, path]
    status, out, err = _run(argv, env)
    line = _one_line(status, out, err)
    assert status == 2, err
    assert path in line
    assert flag in line
    assert needle in line


def test_code_on_stdin_that_is_not_utf8(files: dict[str, Path]) -> None:
    port = str(realnode.free_ports(1)[0])
    status, out, err = _run(["-p", port, "-"], stdin=files["latin1"].read_bytes())
    line = _one_line(status, out, err)
    assert status == 2
    assert "cannot read standard input: not UTF-8 text" in line


# -- against a real node -----------------------------------------------------------


def _flags(node: realnode.Node) -> list[str]:
    host, port = node.address
    return ["-n", host, "-p", str(port)]


@pytest.mark.node
def test_no_node_exits_3(node: realnode.Node) -> None:
    port = str(realnode.free_ports(1)[0])
    status, out, err = _run(["-n", "127.0.0.1", "-p", port, "1"])
    line = _one_line(status, out, err)
    assert status == 3
    assert f"no ThingsDB node answers at 127.0.0.1:{port} (connection refused)" in line
    # the same node named as host:port
    status, out, err = _run(["-n", f"127.0.0.1:{port}", "1"])
    assert status == 3
    assert f"127.0.0.1:{port}" in _one_line(status, out, err)


@pytest.mark.node
def test_tls_to_a_node_without_it_exits_3(node: realnode.Node) -> None:
    status, out, err = _run([*_flags(node), "--no-verify", "--timeout", "5", "1"])
    assert status == 3
    assert "check that it serves TLS there" in _one_line(status, out, err)


@pytest.mark.node
@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        (["-u", "admin", "-w", "wrong"], {}, "check --user and --password"),
        (["-u", "nobody"], {}, "check --user and --password"),
        ([], {"THINGSDB_PASSWORD": "wrong"}, "invalid username or password"),
        (["-t", "no-such-token"], {}, "check --token"),
        ([], {"THINGSDB_TOKEN": "no-such-token"}, "invalid token"),
    ],
)
def test_a_refused_login_exits_4(
    node: realnode.Node, argv: list[str], env: dict[str, str], needle: str
) -> None:
    status, out, err = _run([*_flags(node), *argv, "1"], env)
    line = _one_line(status, out, err)
    assert status == 4, err
    assert "refused the login" in line
    assert needle in line


@pytest.mark.node
def test_failed_requests_exit_1(node: realnode.Node, files: dict[str, Path]) -> None:
    flags = _flags(node)
    status, out, err = _run([*flags, "-s", "//no_such_collection", "1"])
    assert status == 1
    assert _one_line(status, out, err).startswith("LookupError (-54): ")
    status, out, err = _run([*flags, "--timeout", "0.01", SLOWISH])
    assert status == 1
    assert "no answer within 0.01 seconds" in _one_line(status, out, err)
    status, out, err = _run([*flags, "-r", "no_such_procedure"])
    assert status == 1
    assert _one_line(status, out, err).startswith("LookupError (-54): ")


@pytest.mark.node
def test_import_of_what_is_no_dump_exits_1(
    node: realnode.Node, collection: str, files: dict[str, Path]
) -> None:
    status, out, err = _run(
        [*_flags(node), "-s", f"//{collection}", "--import", str(files["not_pem"])]
    )
    assert status == 1
    _one_line(status, out, err)


@pytest.mark.node
def test_a_websocket_node_without_a_port(node: realnode.Node) -> None:
    status, out, err = _run(["-n", node.ws_address.rsplit(":", 1)[0], "1"])
    assert status == 2
    assert "has no port" in _one_line(status, out, err)


# -- --version, --shell without a terminal --------------------------------------------


@pytest.mark.node
def test_version_names_the_package_and_the_node(node: realnode.Node) -> None:
    version = node.query("node_info().load().version", scope="@node")
    host, port = node.address
    status, out, err = _run([*_flags(node), "--version"])
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "thingsdb-cli (thingsdb-connector 0.1.0)",
        f"ThingsDB {version} at {host}:{port}",
    ]


def test_version_without_a_node() -> None:
    port = str(realnode.free_ports(1)[0])
    status, out, err = _run(["-p", port, "--version"])
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "thingsdb-cli (thingsdb-connector 0.1.0)"
    assert lines[1].startswith(f"no node: no ThingsDB node answers at localhost:{port}")


@pytest.mark.node
def test_shell_with_piped_input_runs_it_as_dash(node: realnode.Node) -> None:
    status, out, err = _run([*_flags(node), "--shell"], stdin=b"'piped' + '!'")
    assert (status, out, err) == (0, '"piped!"\n', "")
