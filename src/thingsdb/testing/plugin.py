"""The pytest plugin of :mod:`thingsdb.testing`: real ThingsDB nodes as fixtures.

Loaded by itself when the ``testing`` extra is installed (see
``_autoload.py``), or with ``pytest -p thingsdb.testing``.

Fixtures:

- ``thingsdb_binary`` (session): the node binary, from ``--thingsdb-bin``,
  ``THINGSDB_BIN`` or ``PATH``. Without one, every test that needs it is
  skipped with the same reason; a configured one that is unusable is an
  error. With several (``--thingsdb-bins`` or ``THINGSDB_BINS``: binaries
  or folders, ``:``-separated), every test that needs a node runs once per
  binary, its id naming the version (``test_x[thingsdb-1.8.5]``).
- ``thingsdb_version`` (session): that binary's ThingsDB version, such as
  ``'1.9.2'`` (to skip a test on an older node).
- ``thingsdb_node`` (session): one node for the whole run.
- ``thingsdb_collection``: a new collection's name, removed after the test.
- ``thingsdb_client``: an authenticated async ``thingsdb.client.Client``
  whose default scope is that collection (needs pytest-asyncio, auto or
  strict mode).
- ``thingsdb_sync_client``: the same, blocking (``thingsdb.sync.Client``),
  for tests that are not ``async def``; same collection as
  ``thingsdb_client`` in one test.
- ``thingsdb_cluster``: ``thingsdb_cluster(3)`` starts a cluster of three
  nodes, stopped when the test ends.

A node that dies during a test (not stopped or killed through its
:class:`~thingsdb.testing.Node`) fails that test, with the node's log.
Nodes take their ports from ``--thingsdb-ports=LOW-HIGH``, else
``THINGSDB_PORTS``, else anywhere free.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from importlib.util import find_spec
from typing import NoReturn

import pytest

from thingsdb.client import Client
from thingsdb.sync import Client as SyncClient

from .binary import BINS_ENV, check_binary, list_binaries, which_binary
from .cluster import CLUSTER_READY_TIMEOUT, Cluster, ClusterFactory
from .errors import BinaryError, NodeStartError, PortRangeError
from .node import (
    PORTS_ENV,
    Node,
    dead_nodes,
    parse_port_range,
    port_range,
    set_port_range,
    take_new_deaths,
)

_OPTION = "--thingsdb-bin="
_BINS_OPTION = "--thingsdb-bins"
_BINS_KEY = pytest.StashKey[list[tuple[str, str]]]()
_CONNECT_TIMEOUT = 10.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("thingsdb", "ThingsDB nodes (thingsdb.testing)")
    group.addoption(
        "--thingsdb-bin",
        metavar="PATH",
        default=None,
        help="the ThingsDB node binary (default: $THINGSDB_BIN, else thingsdb on PATH)",
    )
    group.addoption(
        _BINS_OPTION,
        metavar="PATHS",
        default=None,
        help=(
            "run each test that needs a node once per binary: binaries or "
            f"folders of them, {os.pathsep!r}-separated (default: ${BINS_ENV})"
        ),
    )
    group.addoption(
        "--thingsdb-ports",
        metavar="LOW-HIGH",
        default=None,
        help=f"the ports test nodes may take, such as 20000-20999 (default: "
        f"${PORTS_ENV}, else any free port)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """A bad port range stops the run before anything starts."""
    given = config.getoption("thingsdb_ports", None)
    try:
        if given is not None:
            set_port_range(parse_port_range(str(given), "--thingsdb-ports"))
        else:
            port_range()  # THINGSDB_PORTS, checked now
    except PortRangeError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.getoption("thingsdb_ports", None) is not None:
        set_port_range(None)


def _binaries(config: pytest.Config) -> list[tuple[str, str]]:
    """The binaries of --thingsdb-bins / THINGSDB_BINS (checked once)."""
    cached = config.stash.get(_BINS_KEY, None)
    if cached is None:
        option = config.getoption("thingsdb_bins")
        if option is None:
            cached = list_binaries()
        else:
            cached = list_binaries(str(option), given_as=_BINS_OPTION)
        config.stash[_BINS_KEY] = cached
    return cached


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """With several binaries, every test that needs one runs per binary."""
    if "thingsdb_binary" not in metafunc.fixturenames:
        return
    try:
        binaries = _binaries(metafunc.config)
    except BinaryError as exc:
        raise pytest.UsageError(str(exc)) from None
    if binaries:
        metafunc.parametrize(
            "thingsdb_binary",
            [path for _, path in binaries],
            ids=[f"thingsdb-{version}" for version, _ in binaries],
            indirect=True,
            scope="session",
        )


def pytest_report_header(config: pytest.Config) -> str:
    try:
        several = _binaries(config)
        if several:
            listed = ", ".join(f"{version} ({path})" for version, path in several)
            return f"thingsdb: {listed}"
        path, reason = which_binary(_configured(config), given_as=_OPTION)
        if path is None:
            return f"thingsdb: {reason}"
        return f"thingsdb: {path} (ThingsDB {check_binary(path)})"
    except BinaryError as exc:
        return f"thingsdb: {exc}"


def _configured(config: pytest.Config) -> str | None:
    value = config.getoption("thingsdb_bin")
    return None if value is None else str(value)


# -- a node that dies fails the test, with its log ---------------------------------


def _fail_with(dead: list[Node]) -> NoReturn:
    pytest.fail("\n\n".join(n.death_report() for n in dead), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    """A set-up that fails because a node is gone says so, with its log."""
    try:
        return (yield)
    except Exception:
        dead = dead_nodes()
        if dead:
            _fail_with(dead)
        raise


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """A node that dies during a test fails it, with its last words."""
    funcargs: dict[str, object] = getattr(item, "funcargs", {})
    gone = [n for value in funcargs.values() for n in _nodes_in(value)]
    gone = [n for n in gone if n.died_unexpectedly()]
    if gone:  # died before this test started
        _fail_with(gone)
    try:
        result = yield
    except BaseException:
        new = take_new_deaths()
        if new:
            _fail_with(new)
        raise
    new = take_new_deaths()
    if new:
        _fail_with(new)
    return result


def _nodes_in(value: object) -> list[Node]:
    if isinstance(value, Node):
        return [value]
    if isinstance(value, Cluster):
        return list(value.nodes)
    return []


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def thingsdb_binary(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> str:
    """The node binary; skips the test when none is configured anywhere."""
    given: str | None = getattr(request, "param", None)
    if given is not None:
        return given  # one of several (see pytest_generate_tests)
    try:
        path, reason = which_binary(_configured(pytestconfig), given_as=_OPTION)
        if path is None:
            pytest.skip(reason)
        check_binary(path)
    except BinaryError as exc:
        pytest.fail(str(exc), pytrace=False)
    return path


@pytest.fixture(scope="session")
def thingsdb_version(thingsdb_binary: str) -> str:
    """The ThingsDB version of ``thingsdb_binary``, such as ``'1.9.2'``."""
    return check_binary(thingsdb_binary)


@pytest.fixture(scope="session")
def thingsdb_node(
    thingsdb_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Node]:
    """One ThingsDB node (a new store) for the whole test session."""
    node = Node(thingsdb_binary, workdir=tmp_path_factory.mktemp("thingsdb"))
    try:
        node.start()
    except NodeStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def thingsdb_collection(thingsdb_node: Node) -> Iterator[str]:
    """The name of a new collection, removed after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    thingsdb_node.query("new_collection(name);", name=name)
    try:
        yield name
    finally:
        if thingsdb_node.is_alive():
            thingsdb_node.query(
                "if (has_collection(name)) del_collection(name);", name=name
            )


if find_spec("pytest_asyncio") is not None:
    import pytest_asyncio

    # no loop_scope: the client lives on the loop that pytest-asyncio gives
    # this project's async fixtures (asyncio_default_fixture_loop_scope),
    # which is the loop of its tests
    @pytest_asyncio.fixture(name="thingsdb_client")
    async def _thingsdb_client(
        thingsdb_node: Node, thingsdb_collection: str
    ) -> AsyncIterator[Client]:
        """An authenticated async client; its default scope is
        ``thingsdb_collection``."""
        client = Client()
        try:
            await client.connect(*thingsdb_node.address, timeout=_CONNECT_TIMEOUT)
            await client.authenticate(
                thingsdb_node.user, thingsdb_node.password, timeout=_CONNECT_TIMEOUT
            )
            client.set_default_scope(f"//{thingsdb_collection}")
            yield client
        finally:
            await client.close_and_wait()

else:

    @pytest.fixture(name="thingsdb_client")
    def _thingsdb_client_needs_pytest_asyncio() -> NoReturn:
        pytest.fail(
            "thingsdb_client is an async fixture and needs pytest-asyncio: "
            "pip install pytest-asyncio (or install this package with its "
            "'testing' extra)",
            pytrace=False,
        )


@pytest.fixture
def thingsdb_sync_client(
    thingsdb_node: Node, thingsdb_collection: str
) -> Iterator[SyncClient]:
    """An authenticated blocking client; its default scope is
    ``thingsdb_collection``."""
    with SyncClient() as client:
        client.connect(*thingsdb_node.address, timeout=_CONNECT_TIMEOUT)
        client.authenticate(
            thingsdb_node.user, thingsdb_node.password, timeout=_CONNECT_TIMEOUT
        )
        client.set_default_scope(f"//{thingsdb_collection}")
        yield client


@pytest.fixture
def thingsdb_cluster(
    thingsdb_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClusterFactory]:
    """``thingsdb_cluster(3)``: a started cluster of three nodes, stopped
    when the test ends (each call makes a new one)."""
    started: list[Cluster] = []

    def start(
        size: int = 3,
        *,
        extra_config: Mapping[str, object] | None = None,
        ready_timeout: float = CLUSTER_READY_TIMEOUT,
    ) -> Cluster:
        cluster = Cluster(
            size,
            thingsdb_binary,
            workdir=tmp_path_factory.mktemp("thingsdb-cluster"),
            extra_config=extra_config,
            ready_timeout=ready_timeout,
        )
        started.append(cluster)
        return cluster.start()

    try:
        yield start
    finally:
        for cluster in started:
            cluster.stop()
