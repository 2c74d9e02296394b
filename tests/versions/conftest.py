"""The version tier: the connector's API against every ThingsDB release.

The binaries come from ``THINGSDB_TIER_BINS`` (binaries or folders,
``:``-separated, as ``thingsdb.testing.list_binaries`` reads them), by
default from ``../shared/thingsdb/`` beside the checkout (one folder per
release) and else from ``/usr/local/lib/thingsdb/`` (where that folder's
``install`` puts them). Each test runs once per release, against one node
of that release for the whole tier; without any binary the tier is skipped
with one reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from thingsdb.testing import Node, list_binaries

TIER_ENV = "THINGSDB_TIER_BINS"
_CHECKOUT = Path(__file__).resolve().parents[2]
_DEFAULTS = (_CHECKOUT.parent / "shared" / "thingsdb", Path("/usr/local/lib/thingsdb"))
_NONE = (
    f"no ThingsDB binaries for the version tier: set {TIER_ENV}, or run "
    "../shared/thingsdb/install"
)


def tier_binaries() -> list[tuple[str, str]]:
    spec = os.environ.get(TIER_ENV)
    if spec:
        return list_binaries(spec, given_as=TIER_ENV)
    for folder in _DEFAULTS:
        if folder.is_dir():
            return list_binaries(str(folder), given_as=str(folder))
    return []


_BINARIES = tier_binaries()


def pytest_report_header(config: pytest.Config) -> str:
    if not _BINARIES:
        return f"version tier: {_NONE}"
    return "version tier: ThingsDB " + ", ".join(v for v, _ in _BINARIES)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "tier_binary" in metafunc.fixturenames:
        metafunc.parametrize(
            "tier_binary",
            [path for _, path in _BINARIES] or [None],
            ids=[version for version, _ in _BINARIES] or ["none"],
            indirect=True,
            scope="session",
        )


@pytest.fixture(scope="session")
def tier_binary(request: pytest.FixtureRequest) -> str:
    path: str | None = request.param
    if path is None:
        pytest.skip(_NONE)
    return path


@pytest.fixture(scope="session")
def tier_node(
    tier_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Node]:
    """One node of the release for the whole tier (WebSocket port on)."""
    with Node(tier_binary, workdir=tmp_path_factory.mktemp("tier")) as node:
        yield node


@pytest.fixture
def version(tier_node: Node) -> tuple[int, ...]:
    """The node's release as a tuple, to compare: ``version >= (1, 8, 0)``."""
    assert tier_node.version is not None
    return tuple(int(p) for p in tier_node.version.split("-")[0].split("."))


@pytest.fixture
def tier_collection(tier_node: Node) -> Iterator[str]:
    name = f"v_{uuid.uuid4().hex[:10]}"
    tier_node.query("new_collection(name);", name=name)
    yield name
    if tier_node.is_alive():
        tier_node.query("if (has_collection(name)) del_collection(name);", name=name)


@pytest.fixture(params=["tcp", "ws"])
def transport(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


def address(node: Node, transport: str) -> tuple[str, int]:
    """What connect() takes for the node over ``transport`` (host and port;
    for a WebSocket URI the port is ignored)."""
    return node.address if transport == "tcp" else (node.ws_address, 0)
