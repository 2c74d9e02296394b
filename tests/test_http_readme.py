"""The documentation's examples of the HTTP API (the ```python blocks of
README.md and docs/ that import thingsdb.http), run as written against a
real node with its HTTP API on, ``http://localhost:9210`` pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import realnode
from docpages import python_blocks

pytestmark = [pytest.mark.node, pytest.mark.timeout(60)]

BLOCKS = [(page, block) for page, block in python_blocks() if "thingsdb.http" in block]


@pytest.fixture(scope="module")
def http_node() -> Iterator[realnode.Node]:
    binary, reason = realnode.find_binary()
    if binary is None:
        pytest.skip(reason)
    with realnode.Node(binary, http_api=True) as node:
        yield node


def test_there_are_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=lambda i: f"block{i}")
def test_example(
    http_node: realnode.Node, index: int, capsys: pytest.CaptureFixture[str]
) -> None:
    page, block = BLOCKS[index]
    code = block.replace("http://localhost:9210", http_node.http_url)
    exec(compile(code, page, "exec"), {"__name__": "docs_example"})
    out = capsys.readouterr().out
    assert "42" in out or "[0, 1, 4, 9, 16]" in out
