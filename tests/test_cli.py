"""``thingsdb-cli`` one-shot mode: queries, procedures, files, stdin, export
and import against a real node; JSON output and exit codes."""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

import realnode
from thingsdb import cli
from thingsdb.cli import oneshot
from thingsdb.shell.format import json_default

#: keeps the node busy for a moment (some tenths of a second)
SLOWISH = "x = 0; range(50).each(|_| range(100000).each(|i| x += i)); x"


@pytest.fixture(autouse=True)
def _no_thingsdb_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's THINGSDB_* settings (a token...) must not leak in."""
    for name in list(os.environ):
        if name.startswith("THINGSDB_") and name != realnode.BIN_ENV:
            monkeypatch.delenv(name)


def _flags(node: realnode.Node) -> list[str]:
    host, port = node.address
    return ["-n", host, "-p", str(port)]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- without a node -----------------------------------------------------------


def test_no_node_exits_3_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    port = realnode.free_ports(1)[0]
    code, out, err = _run(capsys, "-n", "127.0.0.1", "-p", str(port), "1")
    assert code == cli.NO_CONNECTION == 3
    assert out == ""
    assert err.count("\n") == 1
    assert f"no ThingsDB node answers at 127.0.0.1:{port}" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--export", "x.bin"], "need a collection scope"),
        (["-s", "//x", "--export", "a", "--import", "b"], "use only one of"),
        (["-s", "//x", "--import", "b", "1 + 1"], "CODE does not go with"),
    ],
)
def test_bad_usage_exits_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _out, err = _run(capsys, *argv)
    assert code == 2
    assert message in err


def test_shell_without_the_extra_says_how_to_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "prompt_toolkit", None)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code, _out, err = _run(capsys, "--shell")
    assert code == 2
    assert err.count("\n") == 1
    assert "pip install prompt_toolkit Pygments" in err


def test_a_terminal_without_the_shell_gets_the_one_shot_job(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the README's first command, typed at a terminal, on a machine with
    # neither the shell extra nor a node
    monkeypatch.setitem(sys.modules, "prompt_toolkit", None)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out, err = _run(capsys, "-p", str(port))
    assert (code, out) == (3, "")
    lines = err.splitlines()
    assert len(lines) == 2
    assert "showing node_info() instead" in lines[0]
    assert "no ThingsDB node answers" in lines[1]
    assert "thingsdb --init" in lines[1]


def test_help_explains_the_modes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for needle in (
        "interactive shell",
        "--run",
        "--export",
        "--import",
        "THINGSDB_",
        "Exit status",
        "$bytes",
        "--no-verify",
        "ws://",
        "3  no connection, nothing was sent",
        "4  the node refused the login",
        "5  migrate status: migrations are pending",
        "6  migrate: an applied migration file was edited or is gone",
        "--local: the node did not start",
        "thingsdb-cli --local ",
        "--data DIR",
        "--thingsdb-bin PATH",
        "thingsdb-cli migrate up",
        "host:port",
        "\\timing",
    ):
        assert needle in text


def test_import_tasks_needs_import(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _run(capsys, "-s", "//x", "--import-tasks", "1")
    assert code == 2
    assert "--import-tasks goes with --import" in err


def test_bad_port_in_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THINGSDB_PORT", "nine")
    code, _out, err = _run(capsys, "1")
    assert code == 2
    assert err == (
        "thingsdb-cli: THINGSDB_PORT: the port must be a number from 1 to 65535, "
        "not 'nine'\n"
    )


def test_json_output_of_other_values() -> None:
    moment = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert json_default(moment) == "2024-01-02T03:04:05+00:00"
    assert json_default(memoryview(b"\x00")) == {"$bytes": "AA=="}
    assert json_default(object()).startswith("<object")


class _Terminal(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.written = asyncio.Event()

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.written.set()
        return super().write(text)


async def test_progress_display_on_a_terminal() -> None:
    screen = _Terminal()
    work: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    shown = asyncio.ensure_future(oneshot._with_progress("exporting //x", work, screen))
    await screen.written.wait()
    assert screen.getvalue().startswith("\r| exporting //x ")
    assert screen.getvalue().endswith(" s")
    work.set_result("done")
    assert await shown == "done"
    assert screen.getvalue().endswith("\r\x1b[K")  # the line is cleared


async def test_no_progress_display_without_a_terminal() -> None:
    screen = io.StringIO()
    work: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    work.set_result("done")
    assert await oneshot._with_progress("exporting //x", work, screen) == "done"
    assert screen.getvalue() == ""


def test_sizes() -> None:
    assert oneshot._size(10) == "10 bytes"
    assert oneshot._size(1536) == "1.5 KiB"
    assert oneshot._size(5 << 20) == "5.0 MiB"
    assert oneshot._size(3 << 30) == "3.0 GiB"


def test_procedure_args_from_json() -> None:
    assert oneshot._procedure_args(None) == ([], {})
    assert oneshot._procedure_args("[1, 2]") == ([1, 2], {})
    assert oneshot._procedure_args('{"a": 1}') == ([], {"a": 1})
    assert oneshot._procedure_args('"one"') == (["one"], {})


# -- against a real node -------------------------------------------------------


@pytest.mark.node
def test_query_prints_json(
    node: realnode.Node, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, *_flags(node), "{a: 1 + 1, b: [nil, true]}")
    assert (code, err) == (0, "")
    assert json.loads(out) == {"a": 2, "b": [None, True]}


@pytest.mark.node
def test_bytes_come_out_as_base64(
    node: realnode.Node, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, *_flags(node), 'bytes("hi")')
    assert code == 0
    assert json.loads(out) == {"$bytes": "aGk="}


@pytest.mark.node
def test_no_code_without_tty_prints_node_info(
    node: realnode.Node, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, *_flags(node))
    assert code == 0
    assert "node_id" in json.loads(out)


@pytest.mark.node
def test_thingsdb_error_exits_1(
    node: realnode.Node, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, *_flags(node), 'raise(err(-100, "bad thing"))')
    assert code == 1
    assert out == ""
    assert err == "CustomError (-100): bad thing\n"


@pytest.mark.node
def test_code_from_stdin_and_file(
    node: realnode.Node,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("6 * 7"))
    assert _run(capsys, *_flags(node), "-")[:2] == (0, "42\n")
    script = tmp_path / "q.ti"
    script.write_text("// a comment\n'from ' + 'file';\n")
    assert _run(capsys, *_flags(node), "--file", str(script))[:2] == (
        0,
        '"from file"\n',
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO("1 + 2"))
    assert _run(capsys, *_flags(node), "-f", "-")[:2] == (0, "3\n")


@pytest.mark.node
def test_missing_file_exits_2(
    node: realnode.Node, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = _run(capsys, *_flags(node), "-f", str(tmp_path / "nope.ti"))
    assert code == 2
    assert "nope.ti" in err


@pytest.mark.node
def test_run_procedure(
    node: realnode.Node, collection: str, capsys: pytest.CaptureFixture[str]
) -> None:
    node.query("new_procedure('add', |a, b| a + b);", scope=f"//{collection}")
    flags = [*_flags(node), "-s", f"//{collection}"]
    assert _run(capsys, *flags, "--run", "add", "[40, 2]")[:2] == (0, "42\n")
    assert _run(capsys, *flags, "-r", "add", '{"a": "x", "b": "y"}')[:2] == (
        0,
        '"xy"\n',
    )
    code, _out, err = _run(capsys, *flags, "--run", "nope")
    assert code == 1
    assert err.startswith("LookupError (-54): ")
    code, _, err = _run(capsys, *flags, "--run", "add", "[1,")
    assert code == 2


@pytest.mark.node
def test_export_then_import(
    node: realnode.Node,
    collection: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    source = f"//{collection}"
    node.query(
        ".name = 'x'; .data = bytes('raw'); new_procedure('one', || 1);",
        scope=source,
    )
    dump = tmp_path / "dump.bin"
    code, out, err = _run(capsys, *_flags(node), "-s", source, "--export", str(dump))
    assert (code, out) == (0, "")
    assert "exported" in err
    assert dump.stat().st_size > 0
    target = f"{collection}_copy"
    node.query("new_collection(name);", name=target)
    try:
        code, out, err = _run(
            capsys, *_flags(node), "-s", f"//{target}", "--import", str(dump)
        )
        assert (code, out) == (0, "")
        assert "imported" in err
        assert node.query(".name", scope=f"//{target}") == "x"
        assert node.query("procedures_info().len()", scope=f"//{target}") == 1
    finally:
        node.query("del_collection(name);", name=target)


@pytest.mark.node
def test_export_needs_a_collection(
    node: realnode.Node, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = _run(
        capsys, *_flags(node), "-s", "@thingsdb", "--export", str(tmp_path / "x")
    )
    assert code == 1
    assert "export" in err


@pytest.mark.node
def test_python_dash_m_and_exit_codes(node: realnode.Node) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINGSDB_")}
    base = [sys.executable, "-m", "thingsdb", *_flags(node)]
    done = subprocess.run(
        [*base, "1 + 1"], capture_output=True, text=True, env=env, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, "2\n")
    failed = subprocess.run(
        [*base, "1 / 0"], capture_output=True, text=True, env=env, timeout=60
    )
    assert failed.returncode == 1
    assert failed.stderr.startswith("ZeroDivisionError (-58): ")
    host, port = node.address
    env["THINGSDB_NODE"] = host
    env["THINGSDB_PORT"] = str(port)
    by_env = subprocess.run(
        [sys.executable, "-m", "thingsdb", "-s", "@t", "-"],
        input="'via env'",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert (by_env.returncode, by_env.stdout) == (0, '"via env"\n')


@pytest.mark.node
def test_over_websocket(
    node: realnode.Node, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "-n", node.ws_address, "'over ws'")
    assert (code, out, err) == (0, '"over ws"\n', "")


@pytest.mark.node
def test_default_code_runs_in_the_node_scope(
    node: realnode.Node, collection: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, *_flags(node), "-s", f"//{collection}")
    assert code == 0
    assert "node_id" in json.loads(out)


@pytest.mark.node
def test_credentials_from_flags_environment_and_prompt(
    node: realnode.Node,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = node.query("new_token('admin');", scope="@thingsdb")
    try:
        assert _run(capsys, *_flags(node), "-t", token, "'token'")[:2] == (
            0,
            '"token"\n',
        )
        monkeypatch.setenv("THINGSDB_TOKEN", token)
        monkeypatch.setenv("THINGSDB_PASSWORD", "wrong")
        assert _run(capsys, *_flags(node), "'env token'")[:2] == (0, '"env token"\n')
        monkeypatch.delenv("THINGSDB_TOKEN")
        code, _, err = _run(capsys, *_flags(node), "1")
        assert code == cli.NO_LOGIN == 4
        assert "refused the login" in err
        assert "check --user and --password" in err
    finally:
        node.query("del_token(t);", scope="@thingsdb", t=token)
    # -W asks with getpass (no echo), after the flags and the environment
    asked: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        asked.append(prompt)
        return node.password

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    assert _run(capsys, *_flags(node), "-W", "'asked'")[:2] == (0, '"asked"\n')
    assert asked == ["password for admin: "]


@pytest.mark.node
def test_no_answer_in_time_exits_1(
    node: realnode.Node, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, *_flags(node), "--timeout", "0.01", SLOWISH)
    assert (code, out) == (1, "")
    assert err == "thingsdb-cli: no answer within 0.01 seconds (see --timeout)\n"


@pytest.mark.node
def test_closed_stdout_is_no_traceback(node: realnode.Node) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINGSDB_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "thingsdb", *_flags(node), "range(1000)"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141
    assert err == b""


@pytest.mark.node
def test_export_to_stdout_import_from_stdin(
    node: realnode.Node,
    collection: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    node.query(".blob = bytes('x') ; .n = 7;", scope=f"//{collection}")
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw))
    assert cli.main([*_flags(node), "-s", f"//{collection}", "--export", "-"]) == 0
    dump = raw.getvalue()
    assert len(dump) > 0
    monkeypatch.undo()
    # into a collection that is not empty: the node's error, status 1
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(dump)))
    code, _, err = _run(capsys, *_flags(node), "-s", f"//{collection}", "--import", "-")
    assert code == 1
    assert "OperationError" in err
    target = f"{collection}_in"
    node.query("new_collection(name);", name=target)
    try:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(dump)))
        code, _, err = _run(capsys, *_flags(node), "-s", f"//{target}", "--import", "-")
        assert code == 0, err
        assert node.query(".n", scope=f"//{target}") == 7
    finally:
        node.query("del_collection(name);", name=target)
    # a file that cannot be written: found out before the export, status 2
    missing = tmp_path / "no" / "such" / "dir" / "x.bin"
    code, _, err = _run(
        capsys, *_flags(node), "-s", f"//{collection}", "--export", str(missing)
    )
    assert code == 2
    assert "cannot write" in err
    assert not missing.parent.exists()


# -- TLS (a proxy with a test certificate in front of the node) ----------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_port(node: realnode.Node, ca: trustme.CA) -> AsyncIterator[int]:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    async with realnode.Proxy(node.address, ssl_context=server_ctx) as proxy:
        yield proxy.port


@pytest.mark.node
async def test_tls_flags(
    tls_port: int,
    ca: trustme.CA,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    flags = ["-n", "127.0.0.1", "-p", str(tls_port)]

    async def run(*argv: str) -> tuple[int, str, str]:
        # the proxy runs on this loop; the command makes its own in a thread
        code = await asyncio.to_thread(cli.main, [*flags, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    assert (await run("--ssl", "--cafile", str(cafile), "'tls'"))[:2] == (
        0,
        '"tls"\n',
    )
    # the default trust store does not know the test CA
    code, out, err = await run("--ssl", "1")
    assert (code, out) == (3, "")
    assert "TLS certificate of 127.0.0.1" in err
    assert "not trusted" in err
    assert "--cafile" in err
    # --no-verify: TLS, no check
    assert (await run("--no-verify", "2"))[:2] == (0, "2\n")
    # the same from the environment
    monkeypatch.setenv("THINGSDB_CAFILE", str(cafile))
    assert (await run("3"))[:2] == (0, "3\n")
    monkeypatch.delenv("THINGSDB_CAFILE")
    monkeypatch.setenv("THINGSDB_SSL", "1")
    monkeypatch.setenv("THINGSDB_SSL_VERIFY", "0")
    assert (await run("4"))[:2] == (0, "4\n")


@pytest.mark.node
def test_tls_to_a_node_without_tls(
    node: realnode.Node, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, *_flags(node), "--no-verify", "--timeout", "5", "1")
    assert (code, out) == (3, "")
    assert "check that it serves TLS there" in err


# -- what other commands build on ------------------------------------------------


def _probe_subcommand(args: list[str]) -> int:
    print("probe got", args)
    return 7


def test_a_subcommand_gets_the_rest_of_the_arguments(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(cli.SUBCOMMANDS, "probe", f"{__name__}:_probe_subcommand")
    # looked up before the flags: "--node" is the subcommand's, not ours
    code, out, err = _run(capsys, "probe", "--node", "x", "1")
    assert (code, out, err) == (7, "probe got ['--node', 'x', '1']\n", "")
    # connection flags before it are handed on: after its first word when
    # that is no flag (a command word of its own), else first
    code, out, err = _run(capsys, "-p", "9300", "--local", "probe", "up", "x")
    assert (code, out, err) == (
        7,
        "probe got ['up', '-p', '9300', '--local', 'x']\n",
        "",
    )
    code, out, err = _run(capsys, "--port=9300", "-s", "probe", "probe", "--help")
    assert (code, out, err) == (
        7,
        "probe got ['--port=9300', '-s', 'probe', '--help']\n",
        "",
    )
    # any other flag before it: thingsdb-cli's own (no node at that port)
    port = str(realnode.free_ports(1)[0])
    code, _out, err = _run(capsys, "-p", port, "--format", "json", "1")
    assert code == cli.NO_CONNECTION


def test_settings_from_flags_of_another_parser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parser = cli.make_parser("thingsdb-cli migrate", "a command built on this one")
    cli.add_connection_flags(parser)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(["-n", "[::1]:9301", "-t", "tok", "--dry-run"])
    settings = cli.settings_from_args(args)
    assert (settings.host, settings.port, settings.where) == ("::1", 9301, "[::1]:9301")
    assert (settings.auth, settings.user, settings.scope) == (("tok",), None, None)
    assert settings.ssl is None
    assert settings.timeout == 10.0
    monkeypatch.setenv("THINGSDB_NODE", "db.example:9400")
    monkeypatch.setenv("THINGSDB_SCOPE", "//stuff")
    settings = cli.settings_from_args(parser.parse_args(["-W"]), lambda _: "secret")
    assert (settings.host, settings.port) == ("db.example", 9400)
    assert settings.auth == ("admin", "secret")
    assert settings.scope == "//stuff"
    with pytest.raises(cli.CliError) as info:
        parser.parse_args(["--timeout", "soon"])
    assert info.value.status == cli.BAD_USAGE
    assert "(see thingsdb-cli migrate --help)" in str(info.value)


@pytest.mark.parametrize(
    ("node", "split"),
    [
        ("localhost", ("localhost", None)),
        ("localhost:9300", ("localhost", 9300)),
        ("[::1]:9300", ("::1", 9300)),
        ("[::1]", ("[::1]", None)),
        ("::1", ("::1", None)),
        ("unix:/tmp/x.sock", ("unix:/tmp/x.sock", None)),
        ("ws://h:9270", ("ws://h:9270", None)),
    ],
)
def test_split_node(node: str, split: tuple[str, int | None]) -> None:
    assert cli.split_node(node) == split


@pytest.mark.node
async def test_connected_client_statuses(node: realnode.Node) -> None:
    parser = cli.make_parser("x", "")
    cli.add_connection_flags(parser)
    host, port = node.address
    good = cli.settings_from_args(parser.parse_args(["-n", f"{host}:{port}"]))
    async with cli.connected_client(good) as client:
        assert await client.query("1 + 1") == 2
    assert not client.is_connected()
    wrong = cli.settings_from_args(
        parser.parse_args(["-n", f"{host}:{port}", "-w", "wrong"])
    )
    with pytest.raises(cli.CliError) as info:
        async with cli.connected_client(wrong):
            pass
    assert info.value.status == cli.NO_LOGIN
    closed = realnode.free_ports(1)[0]
    nowhere = cli.settings_from_args(parser.parse_args(["-n", f"{host}:{closed}"]))
    with pytest.raises(cli.CliError) as info:
        async with cli.connected_client(nowhere):
            pass
    assert info.value.status == cli.NO_CONNECTION
