"""A wheel of this checkout in a new virtual environment, as a user installs
it (tests/test_testing_plugin.py, tests/test_side_by_side.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]

#: building a wheel and installing into a new venv takes a while on a
#: loaded machine
RUN_TIMEOUT = 600


def run(cmd: list[str]) -> None:
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout}\n{done.stderr}"


def wheel_and_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A wheel of this checkout and a new, empty venv: ``(wheel, venv)``."""
    # the wheel is built from a copy: a build in the checkout would leave a
    # build/ folder there and could pick up stale files from it
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(CHECKOUT / name, source / name)
    shutil.copytree(
        CHECKOUT / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    dist = tmp_path_factory.mktemp("dist")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(dist),
            str(source),
        ]
    )
    (wheel,) = dist.glob("thingsdb_connector-*.whl")
    venv = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", str(venv)])
    return wheel, venv
