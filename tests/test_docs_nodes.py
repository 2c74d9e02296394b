"""The getting-started pages that run nodes by hand, followed step by step
as a reader would: the config files their ``ini`` blocks show are written
(the first line names the file), every ``sh`` block runs in bash and must
succeed, and each ``python`` block runs and prints what its comment says.

The ports the pages give (93xx, 94xx) are swapped for free ones, and
``thingsdb`` is the binary the suite uses; everything else runs as written,
in a folder of its own. The pages stop their nodes themselves (``kill`` with
the PIDs they saved); whatever still runs at the end is killed by those PIDs.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import realnode
from docpages import FENCE, page

pytestmark = pytest.mark.node

_PORT = re.compile(r"\b9[34]\d\d\b")
_PRINTS = re.compile(r"#\s*(\d+)\s*$", re.M)


@pytest.fixture
def binary() -> str:
    path, reason = realnode.find_binary()
    if path is None:
        pytest.skip(reason)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    try:
        yield tmp_path
    finally:
        pids = [int(p.read_text()) for p in tmp_path.glob("*.pid")]
        deadline = time.monotonic() + 15  # the nodes' shutdown_period
        for pid in pids:
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.2)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a child of ours that exited stays a zombie until reaped
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    return True


def follow(
    name: str, binary: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> int:
    text = page(name)
    ports = sorted(set(_PORT.findall(text)))
    swap = dict(zip(ports, map(str, realnode.free_ports(len(ports))), strict=True))

    def local(block: str) -> str:
        return _PORT.sub(lambda m: swap[m.group()], block)

    env = {k: v for k, v in os.environ.items() if not k.startswith("THINGSDB_")}
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env["PATH"]])
    steps = 0
    for kind, block in FENCE.findall(text):
        block = local(block)
        if kind == "ini":
            first, body = block.split("\n", 1)
            (folder / first.removeprefix("# ")).write_text(body)
        elif kind == "sh":
            script = re.sub(r"^thingsdb ", f"{binary} ", block, flags=re.M)
            done = subprocess.run(
                ["bash", "-e", "-c", script],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
            assert done.returncode == 0, (block, done.stdout, done.stderr)
        elif kind == "python":
            cwd = os.getcwd()
            os.chdir(folder)
            try:
                exec(compile(block, name, "exec"), {"__name__": "__main__"})
            finally:
                os.chdir(cwd)
            printed = capsys.readouterr().out.split()
            assert printed == _PRINTS.findall(block), block
        else:
            continue
        steps += 1
    return steps


@pytest.mark.timeout(60)
def test_a_node_by_hand(
    binary: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = follow("docs/getting-started/node-by-hand.md", binary, folder, capsys)
    assert steps == 4
    assert (folder / "node-store").is_dir()


@pytest.mark.timeout(240)
def test_a_cluster_by_hand(
    binary: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = follow("docs/getting-started/cluster-by-hand.md", binary, folder, capsys)
    assert steps == 7
