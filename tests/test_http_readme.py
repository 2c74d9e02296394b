"""The README's examples of the HTTP API (the ```python blocks that import
thingsdb.http), run as written against a real node with its HTTP API on,
``http://localhost:9210`` pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import realnode
from test_readme import python_blocks

pytestmark = [pytest.mark.node, pytest.mark.timeout(60)]

BLOCKS = [block for block in python_blocks() if "thingsdb.http" in block]


@pytest.fixture(scope="module")
def http_node() -> Iterator[realnode.Node]:
    binary, reason = realnode.find_binary()
    if binary is None:
        pytest.skip(reason)
    with realnode.Node(binary, http_api=True) as node:
        yield node


def test_there_are_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_example(
    http_node: realnode.Node, block: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = block.replace("http://localhost:9210", http_node.http_url)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
    out = capsys.readouterr().out
    assert "42" in out or "[0, 1, 4, 9, 16]" in out
