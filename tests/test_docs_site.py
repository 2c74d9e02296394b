"""The documentation as a whole: the README stays short, and the site
builds in strict mode (no broken link, anchor or reference) with every
public name of the documented modules in its API reference."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from docpages import README, ROOT

#: the modules of the API reference, each on its page reference/<name>.md
REFERENCE = (
    "client",
    "sync",
    "room",
    "exceptions",
    "http",
    "migrate",
    "codegen",
    "testing",
    "telemetry",
)

#: names documented under another path than thingsdb.<module>.<name>, as
#: (reference page, anchor): `event` shares its name with the module it
#: lives in (python-thingsdb's layout), which the reference's generator
#: takes for that module, so the room page documents the function itself
ELSEWHERE = {
    "thingsdb.room.event": ("room", "thingsdb.room.event.event"),
    "thingsdb.sync.event": ("room", "thingsdb.room.event.event"),
}


def test_the_readme_is_short() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines (200 at most)"


def test_the_readme_keeps_the_two_commands() -> None:
    text = README.read_text()
    assert "## The two commands" in text
    assert "pip install . && thingsdb-cli\n" in text
    assert "pip install -e '.[test]' && python -m pytest\n" in text


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mkdocs = shutil.which("mkdocs", path=os.path.dirname(sys.executable))
    if mkdocs is None:
        pytest.skip("mkdocs is not installed (the docs extra: pip install '.[docs]')")
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.mark.timeout(300)
def test_the_site_builds_strict(site: Path) -> None:
    assert (site / "index.html").is_file()
    assert (site / "search" / "search_index.json").is_file()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("module", REFERENCE)
def test_every_public_name_is_in_the_reference(site: Path, module: str) -> None:
    def anchors(page: str) -> set[str]:
        html = (site / "reference" / page / "index.html").read_text()
        return set(re.findall(r'id="(thingsdb[^"]*)"', html))

    missing = []
    for name in importlib.import_module(f"thingsdb.{module}").__all__:
        path = f"thingsdb.{module}.{name}"
        page, anchor = ELSEWHERE.get(path, (module, path))
        if anchor not in anchors(page):
            missing.append(path)
    assert missing == []
