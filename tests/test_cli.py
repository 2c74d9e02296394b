"""``thingsdb-cli`` one-shot mode: queries, procedures, files, stdin, export
and import against a real node; JSON output and exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import realnode
from thingsdb import cli


def _flags(node: realnode.Node) -> list[str]:
    host, port = node.address
    return ["-n", host, "-p", str(port)]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- without a node -----------------------------------------------------------


def test_no_node_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    port = realnode.free_ports(1)[0]
    code, out, err = _run(capsys, "-n", "127.0.0.1", "-p", str(port), "1")
    assert code == 2
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
    code, _out, err = _run(capsys, "--shell")
    assert code == 1
    assert err.count("\n") == 1
    assert "pip install 'thingsdb-connector[shell]'" in err


def test_help_explains_the_modes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for needle in ("interactive shell", "--run", "--export", "--import", "THINGSDB_"):
        assert needle in text


def test_procedure_args_from_json() -> None:
    assert cli._procedure_args(None) == ([], {})
    assert cli._procedure_args("[1, 2]") == ([1, 2], {})
    assert cli._procedure_args('{"a": 1}') == ([], {"a": 1})
    assert cli._procedure_args('"one"') == (["one"], {})


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
