"""The documentation's pages as the tests read them: README.md and every
page of the site (``docs/**/*.md``), and the code blocks in them.

Tests that run a page's examples find their text here, by page, so that an
example that moves to another page is still run (a test that finds no
example fails)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"

#: a fenced block at the start of a line: its language and its text
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.DOTALL | re.MULTILINE)


def pages() -> list[Path]:
    """README.md, then the site's pages in path order."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def name(path: Path) -> str:
    """A page's name as tests and messages give it: ``README.md``,
    ``docs/guides/rooms.md``."""
    return path.relative_to(ROOT).as_posix()


def page(relative: str) -> str:
    """The text of one page, by its path from the checkout's root."""
    return (ROOT / relative).read_text()


def blocks(language: str, where: list[Path] | None = None) -> list[tuple[str, str]]:
    """Every ``language`` block of the pages, as (page name, block text)."""
    found: list[tuple[str, str]] = []
    for path in pages() if where is None else where:
        for kind, text in FENCE.findall(path.read_text()):
            if kind == language:
                found.append((name(path), text))
    return found


def python_blocks() -> list[tuple[str, str]]:
    return blocks("python")


def block_starting(first_line: str, language: str = "python") -> str:
    """The one block of the documentation whose first line is
    ``first_line`` (such as ``# tests/test_shop.py``)."""
    (found,) = [
        text for _, text in blocks(language) if text.startswith(first_line + "\n")
    ]
    return found
