"""The worked example of the Migrations guide (docs/guides/migrations.md),
run as written against a real node.

The section's blocks run in order in a folder of their own: ``thingsdb``
blocks whose first line names a file (``// migrations/0001_x.ti``) are
written to it, every command of a ``sh`` block runs (``thingsdb-cli
migrate`` and ``thingsdb-cli``, in this process, pointed at the test node)
and must end with the exit status its comment gives, a ``text``
block after a ``sh`` block is the output of its last command (times
aside), and the ``python`` block runs as a program. The collection
``//shop`` is a new one.
"""

from __future__ import annotations

import os
import re
import shlex
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import realnode
from docpages import page
from thingsdb import cli

pytestmark = pytest.mark.node

_FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.DOTALL | re.MULTILINE)
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_STATUS = re.compile(r"#\s*exit status (\d+)")
_MIGRATE = "thingsdb-cli migrate "
_MADE = re.compile(r"// (\d{4}_\w+\.ti): runs once")


def section() -> str:
    return page("docs/guides/migrations.md")


def example_blocks() -> list[tuple[str, str]]:
    """The worked example's blocks, in order."""
    text = section()
    example = text[: text.index("\n## Commands and exit statuses")]
    return _FENCE.findall(example)


@pytest.fixture
def shop(node: realnode.Node) -> Iterator[str]:
    name = f"shop_{uuid.uuid4().hex[:8]}"
    node.query("new_collection(name);", name=name)
    try:
        yield name
    finally:
        node.query("del_collection(name);", name=name)


def test_the_section_has_its_parts() -> None:
    kinds = [kind for kind, _ in example_blocks()]
    assert kinds.count("sh") >= 5
    assert kinds.count("thingsdb") == 3
    assert kinds.count("python") == 1


def test_worked_example(
    node: realnode.Node,
    shop: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in list(os.environ):
        if name.startswith("THINGSDB_") and name != realnode.BIN_ENV:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    host, port = node.address
    flags = ["-n", host, "-p", str(port)]
    last_output: str | None = None
    commands = 0
    for kind, body in example_blocks():
        body = body.replace("//shop", f"//{shop}")
        if kind == "thingsdb":
            # the file as `new` made it (header and all: the line numbers in
            # the errors the README shows count it), with the code below
            named = _MADE.match(body)
            assert named is not None, body.split("\n", 1)[0]
            path = Path("migrations", named.group(1))
            made = path.read_text()
            assert body.startswith(made), (made, body)
            path.write_text(body)
        elif kind == "sh":
            for line in body.strip().splitlines():
                expected = _STATUS.search(line)
                assert expected is not None, f"no exit status for: {line}"
                argv = shlex.split(line, comments=True)
                assert argv[0] == "thingsdb-cli", line
                if line.startswith(_MIGRATE):
                    words = argv[1:]
                    if words[1] != "new":  # the one that needs no node
                        words += flags  # a subcommand's flags come after it
                    status = cli.main(words)
                else:
                    status = cli.main([*flags, *argv[1:]])
                out, err = capsys.readouterr()
                assert status == int(expected.group(1)), (line, out, err)
                last_output = out + err
                commands += 1
        elif kind == "text":
            assert last_output is not None
            shown = _TIME.sub("<time>", body)
            assert _TIME.sub("<time>", last_output) == shown
            last_output = None
        elif kind == "python":
            source = body.replace('connect("localhost")', f"connect{node.address!r}")
            exec(
                compile(source, "docs/guides/migrations.md", "exec"),
                {"__name__": "readme"},
            )
            out = capsys.readouterr().out
            assert out == "at 3 pending: []\napplied: []\n"
    assert commands >= 7
    assert node.query(".users.map(|u| [u.email, u.verified]);", f"//{shop}") == [
        ["ann@example.com", False]
    ]
