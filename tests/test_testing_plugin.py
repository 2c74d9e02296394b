"""The pytest plugin of thingsdb.testing as a user gets it.

A wheel is built from this checkout and installed into a new virtual
environment; a throwaway project whose tests use the fixtures runs there
under pytest, in a subprocess, and the counts it reports are checked: with
a binary (pytest-asyncio in strict and in auto mode, warnings as errors),
without one (all skipped, one reason), and before the ``testing`` extra is
installed (the plugin is off unless ``-p thingsdb.testing`` asks for it).

The venv gets its packages the ordinary way (pip, from the configured
indexes; pip's cache makes that quick after the first time). It is made
once for this module: first with pytest only, then with the extra.
"""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from builtwheel import RUN_TIMEOUT, run, wheel_and_venv
from docpages import block_starting
from thingsdb.testing import BIN_ENV, which_binary

CHECKOUT = Path(__file__).resolve().parents[1]
#: building, installing and a 3-node cluster take a while on 2 busy cores
pytestmark = pytest.mark.timeout(900)

APP_TESTS = """
import asyncio

import pytest

from thingsdb.client import Client
from thingsdb.sync import Client as SyncClient
from thingsdb.testing import Node


@pytest.mark.asyncio
async def test_async_client_works_in_a_new_collection(
    thingsdb_client: Client, thingsdb_collection: str
) -> None:
    assert thingsdb_client.get_default_scope() == f"//{thingsdb_collection}"
    await thingsdb_client.query(".greeting = 'hello';")
    assert await thingsdb_client.query(".greeting;") == "hello"


@pytest.mark.asyncio
async def test_the_next_test_has_another_collection(thingsdb_client: Client) -> None:
    assert await thingsdb_client.query(".keys();") == []


def test_sync_client(
    thingsdb_sync_client: SyncClient, thingsdb_collection: str
) -> None:
    assert thingsdb_sync_client.get_default_scope() == f"//{thingsdb_collection}"
    thingsdb_sync_client.query(".n = 41;")
    assert thingsdb_sync_client.query(".n + 1;") == 42


@pytest.mark.asyncio
async def test_both_clients_in_one_test_share_the_collection(
    thingsdb_client: Client, thingsdb_sync_client: SyncClient
) -> None:
    await thingsdb_client.query(".shared = true;")
    # a blocking call would stop this test's event loop: it goes to a thread
    shared = await asyncio.to_thread(thingsdb_sync_client.query, ".shared;")
    assert shared is True


def test_the_session_node(thingsdb_node: Node) -> None:
    assert thingsdb_node.status() == "READY"
    assert thingsdb_node.query("6 * 7;") == 42


def test_no_collection_of_an_earlier_test_is_left(thingsdb_node: Node) -> None:
    names = [c["name"] for c in thingsdb_node.query("collections_info();")]
    assert names == ["stuff"]  # the one a new store has
"""

CRASH_TESTS = """
import os
import signal

from thingsdb.testing import Node


def test_a_node_that_dies_fails_the_test(thingsdb_binary: str, tmp_path) -> None:
    node = Node(thingsdb_binary, workdir=tmp_path, name="doomed").start()
    os.kill(node.pid, signal.SIGKILL)  # not node.kill(): an accident
    node.proc.wait()
"""

GATE_TESTS = """
def test_node(thingsdb_node) -> None:
    assert thingsdb_node.query("1 + 1;") == 2


def test_client(thingsdb_client) -> None:
    pass
"""


def readme_project_config() -> str:
    """The pyproject.toml snippet of the testing guide (which keeps
    pytest-asyncio's deprecation warning away), with warnings as errors
    added: a new project as the guide sets it up."""
    snippet = block_starting("# pyproject.toml", "toml")
    return f'{snippet}filterwarnings = ["error"]\n'


#: a project of its own, as it must do without pytest-asyncio's settings
GATE_CONFIG = """
[pytest]
filterwarnings = error
"""


def readme_example() -> str:
    """The testing guide's example test file (its first line names it), so that it
    runs as a user would run it."""
    return block_starting("# tests/test_shop.py")


_OUTCOME = re.compile(
    r"(\d+) (passed|failed|skipped|errors?|warnings?|xfailed|xpassed|deselected)"
)
_SKIP_LINE = re.compile(r"^SKIPPED \[\d+\] [^:]+:\d+: (.*)$", re.M)


@dataclass
class Run:
    output: str
    returncode: int

    @property
    def counts(self) -> dict[str, int]:
        """What pytest's last line reports, e.g. ``{"passed": 7}``."""
        last = self.output.strip().splitlines()[-1]
        found: Counter[str] = Counter()
        for number, what in _OUTCOME.findall(last):
            found[
                what if what.endswith("s") or what.endswith("ed") else what + "s"
            ] += int(number)
        return dict(found)

    @property
    def skip_reasons(self) -> set[str]:
        return set(_SKIP_LINE.findall(self.output))


@dataclass
class Venv:
    path: Path
    project: Path
    wheel: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def pip(self, *args: str) -> None:
        run([str(self.python), "-m", "pip", "install", "-q", *args])

    def pytest(self, *args: str, binary: str | None = None, where: str = ".") -> Run:
        """pytest in the project (or its folder ``where``), in a subprocess,
        with an environment that holds nothing of this test run's;
        ``binary`` as THINGSDB_BIN."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTEST_", "THINGSDB_", "PYTHON", "VIRTUAL_ENV"))
        }
        env["PATH"] = str(self.path / "bin")  # no thingsdb on it
        if binary is not None:
            env[BIN_ENV] = binary
        done = subprocess.run(
            [str(self.python), "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args],
            cwd=self.project / where,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        return Run(done.stdout + done.stderr, done.returncode)


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A new venv with pytest and this package, without the extra."""
    wheel, path = wheel_and_venv(tmp_path_factory)
    project = tmp_path_factory.mktemp("project")
    (project / "pyproject.toml").write_text(readme_project_config())
    tests = project / "tests"
    tests.mkdir()
    for name, text in [
        ("test_app.py", APP_TESTS),
        ("test_shop.py", readme_example()),
        ("test_crash.py", CRASH_TESTS),
    ]:
        (tests / name).write_text(textwrap.dedent(text).lstrip())
    gate = project / "gate"
    gate.mkdir()
    (gate / "pytest.ini").write_text(GATE_CONFIG)
    (gate / "test_gate.py").write_text(GATE_TESTS.lstrip())
    venv = Venv(path, project, wheel)
    venv.pip(str(wheel), "pytest")
    return venv


@pytest.fixture(scope="module")
def venv(bare_venv: Venv) -> Venv:
    """The same venv, now with the ``testing`` extra."""
    bare_venv.pip(f"{bare_venv.wheel}[testing]")
    return bare_venv


@pytest.fixture(scope="module")
def binary() -> str:
    path, reason = which_binary()
    if path is None:
        pytest.skip(reason)
    return path


def test_without_the_extra_the_plugin_is_off_unless_asked_for(
    bare_venv: Venv,
) -> None:
    probe = "import importlib.util as u; print(u.find_spec('pytest_asyncio'))"
    found = subprocess.run(
        [str(bare_venv.python), "-c", probe], capture_output=True, text=True
    )
    assert found.stdout.strip() == "None"  # pytest-asyncio comes with the extra
    off = bare_venv.pytest(where="gate")
    assert off.counts == {"errors": 2}, off.output
    assert "fixture 'thingsdb_node' not found" in off.output
    assert "thingsdb:" not in off.output.split("collected")[0]  # no header line

    asked = bare_venv.pytest("-p", "thingsdb.testing", where="gate")
    assert asked.counts == {"skipped": 1, "errors": 1}, asked.output
    assert "no ThingsDB node binary" in asked.output
    assert (
        "thingsdb_client is an async fixture and needs pytest-asyncio" in asked.output
    )


@pytest.mark.node
def test_strict_mode_with_a_binary(venv: Venv, binary: str) -> None:
    done = venv.pytest(
        "-o",
        "asyncio_mode=strict",
        "tests/test_app.py",
        "tests/test_shop.py",
        binary=binary,
    )
    assert done.counts == {"passed": 9}, done.output
    assert done.returncode == 0
    assert f"thingsdb: {binary} (ThingsDB " in done.output  # the header line
    assert "PASSED tests/test_shop.py::test_the_client_fails_over" in done.output


@pytest.mark.node
def test_auto_mode_and_a_node_that_dies(venv: Venv, binary: str) -> None:
    done = venv.pytest(
        "-o",
        "asyncio_mode=auto",
        "-p",
        "thingsdb.testing",  # loaded twice: no harm
        f"--thingsdb-bin={binary}",
        "-k",
        "not fails_over",  # the cluster ran in strict mode
        "tests/",
    )
    assert done.counts == {"passed": 8, "failed": 1, "deselected": 1}, done.output
    assert (
        "FAILED tests/test_crash.py::test_a_node_that_dies_fails_the_test"
        in done.output
    )
    assert "ThingsDB node 'doomed'" in done.output
    assert "died (killed by SIGKILL); last lines of" in done.output
    assert "start listening for client connections" in done.output  # its log


def test_without_a_binary_everything_is_skipped_with_one_reason(venv: Venv) -> None:
    done = venv.pytest("-o", "asyncio_mode=strict", "tests/")
    assert done.counts == {"skipped": 10}, done.output
    assert done.returncode == 0
    (reason,) = done.skip_reasons
    assert reason.startswith("no ThingsDB node binary: give one (--thingsdb-bin=PATH)")
    assert f"set {BIN_ENV}" in reason

    off = venv.pytest("-p", "no:thingsdb", "tests/test_app.py")
    assert off.counts == {"errors": 6}, off.output
    assert "fixture 'thingsdb_client' not found" in off.output
