"""The blocking client in a real Jupyter kernel (issue 23, point 1).

ipykernel runs each cell on a thread whose event loop is running; the
blocking client must simply block there, as requests or psycopg do. A
kernel is started with jupyter_client, as a notebook front end starts one,
and a cell that uses ``thingsdb.sync.Client`` is run in it against a real
node. The driver runs in a subprocess of its own, so that jupyter_client's
threads and loops never meet pytest's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import realnode

pytest.importorskip("ipykernel")
pytest.importorskip("jupyter_client")

pytestmark = [pytest.mark.node, pytest.mark.timeout(300)]

DRIVER = """
import json, sys
from jupyter_client.manager import start_new_kernel

kernel, client = start_new_kernel(kernel_name="python3", startup_timeout=120)
seen = {"stdout": "", "errors": []}

def hook(msg):
    kind, content = msg["header"]["msg_type"], msg["content"]
    if kind == "stream":
        seen["stdout"] += content["text"]
    elif kind == "error":
        seen["errors"].append(f"{content['ename']}: {content['evalue']}")

try:
    reply = client.execute_interactive(sys.argv[1], timeout=120, output_hook=hook)
    seen["status"] = reply["content"]["status"]
finally:
    client.stop_channels()
    kernel.shutdown_kernel(now=True)
print(json.dumps(seen))
"""

CELL = """
import asyncio
from thingsdb.sync import Client

print("loop running:", asyncio.get_running_loop().is_running())
client = Client()
client.connect({host!r}, {port})
client.authenticate({user!r}, {password!r})
print("answer:", client.query("40 + 2;"))
print("helper:", client.node_info()["status"])
client.close()
print("closed:", not client.is_connected())
"""


def run_cell(code: str, tmp_path: Path) -> dict[str, Any]:
    env = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "HOME": str(tmp_path),
        # nothing of the user's Jupyter or IPython set-up, and no warning
        # about Jupyter's folders moving
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_blocking_client_blocks_in_a_notebook_cell(
    node: realnode.Node, tmp_path: Path
) -> None:
    host, port = node.address
    cell = textwrap.dedent(CELL).format(
        host=host, port=port, user=node.user, password=node.password
    )
    seen = run_cell(cell, tmp_path)
    assert seen["errors"] == []
    assert seen["status"] == "ok"
    assert seen["stdout"].splitlines() == [
        "loop running: True",  # the cell runs where a loop runs
        "answer: 42",
        "helper: READY",
        "closed: True",
    ]
