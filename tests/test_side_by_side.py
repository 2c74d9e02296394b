"""thingsdb-connector and python-thingsdb in one environment (issue 23,
point 2), as a user gets there: a wheel of this checkout and
python-thingsdb from the package index, installed into a new virtual
environment in both orders, then python-thingsdb removed.

Both own the ``thingsdb`` import package; pip lets them overwrite each
other's files and ``pip check`` sees nothing. What must hold: every state
where they collide ends in an ImportError that names both packages and the
way out, and the way out, as written, gives a working install.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from builtwheel import RUN_TIMEOUT, run, wheel_and_venv

CHECKOUT = Path(__file__).resolve().parents[1]
#: building and installing take a while on 2 busy cores
pytestmark = pytest.mark.timeout(900)

#: what a user of each entry point runs
IMPORTS = {
    "client": "from thingsdb.client import Client",
    "sync": "from thingsdb.sync import Client",
    "cli": "import thingsdb.cli",
}


@dataclass
class Venv:
    path: Path
    wheel: Path

    @property
    def python(self) -> str:
        return str(self.path / "bin" / "python")

    def pip(self, *args: str) -> None:
        run([self.python, "-m", "pip", "-q", *args])

    def attempt(self, code: str) -> subprocess.CompletedProcess[str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PYTEST_"))
        }
        return subprocess.run(
            [self.python, "-c", code],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
            env=env,
            cwd=self.path,
        )

    def works(self) -> None:
        for what, code in IMPORTS.items():
            done = self.attempt(code)
            assert done.returncode == 0, (what, done.stderr)
        done = self.attempt(
            "import thingsdb, thingsdb.exceptions as x; "
            "print(thingsdb.__version__, x.ConnectError.__name__)"
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split()[1] == "ConnectError"

    def fails_with(self, what: str, *needles: str) -> str:
        done = self.attempt(IMPORTS[what])
        assert done.returncode == 1, (what, done.stdout, done.stderr)
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("ImportError: "), done.stderr
        for needle in needles:
            assert needle in last, (what, last)
        return last


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    wheel, path = wheel_and_venv(tmp_path_factory)
    return Venv(path, wheel)


BOTH = ("thingsdb-connector and python-thingsdb are both installed",)
WAY_OUT = (
    "pip uninstall -y python-thingsdb thingsdb-connector && "
    "pip install thingsdb-connector"
)


def test_python_thingsdb_installed_after_this_package(venv: Venv) -> None:
    venv.pip("install", str(venv.wheel))
    venv.works()
    # pulled in later, say as another package's dependency: it overwrites
    # the files both ship; this package's own entry points say so
    venv.pip("install", "python-thingsdb")
    for what in ("sync", "cli"):
        venv.fails_with(what, *BOTH, WAY_OUT)
    # (thingsdb.client is python-thingsdb's own file now: its Client)
    # the way out, as the error writes it
    venv.pip("uninstall", "-y", "python-thingsdb", "thingsdb-connector")
    venv.pip("install", str(venv.wheel))
    venv.works()


def test_this_package_installed_over_python_thingsdb_then_it_removed(
    venv: Venv,
) -> None:
    venv.pip("uninstall", "-y", "thingsdb-connector")
    venv.pip("install", "python-thingsdb")
    venv.pip("install", str(venv.wheel))
    # both installed: every entry point says so
    for what in IMPORTS:
        venv.fails_with(what, *BOTH, WAY_OUT)
    # python-thingsdb removed: its uninstall deletes the files both ship;
    # what is left of this package says which and how to get them back
    venv.pip("uninstall", "-y", "python-thingsdb")
    for what in ("sync", "cli"):
        venv.fails_with(
            what,
            "files of thingsdb-connector are missing (thingsdb/__init__.py",
            "uninstalling python-thingsdb deletes the files the two packages share",
            "pip install --force-reinstall --no-deps thingsdb-connector",
        )
    venv.pip("install", "--force-reinstall", "--no-deps", str(venv.wheel))
    venv.works()
