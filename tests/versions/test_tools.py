"""The rest of the package against each release: the lock, migrations
(async and blocking, with commit history where the node has it), the
command line, the shell, and thingsdb.testing's run per binary."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from docpages import block_starting
from thingsdb.client import Client
from thingsdb.migrate import BlockingMigrator, Migrator
from thingsdb.misc.lock import lock
from thingsdb.sync import Client as SyncClient
from thingsdb.testing import BINS_ENV, Node

pytestmark = pytest.mark.node


async def connected(node: Node) -> Client:
    client = Client()
    await client.connect(*node.address, timeout=10)
    await client.authenticate("admin", "pass", timeout=10)
    return client


async def test_lock(tier_node: Node, tier_collection: str) -> None:
    first, second = await connected(tier_node), await connected(tier_node)
    scope = f"@:{tier_collection}_lock"
    order: list[str] = []
    try:
        async with lock(first, "tier", scope=scope, timeout=10):
            waiter = asyncio.create_task(_take(second, scope, order))
            await asyncio.sleep(0.5)
            assert order == []  # the second waits for the first
            order.append("first out")
        await asyncio.wait_for(waiter, 10)
        assert order == ["first out", "second in"]
    finally:
        await first.close_and_wait()
        await second.close_and_wait()
        tier_node.query(f"del_collection('{tier_collection}_lock');")


async def _take(client: Client, scope: str, order: list[str]) -> None:
    async with lock(client, "tier", scope=scope, timeout=10):
        order.append("second in")


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_create.ti").write_text(
        "set_type('User', {name: 'str'});\n.users = [];\n"
    )
    (folder / "0002_add.ti").write_text(
        "new_procedure('add_user', |name| .users.push(User{name:}));\n"
    )
    return folder


async def test_migrations(
    tier_node: Node, tier_collection: str, version: tuple[int, ...], tmp_path: Path
) -> None:
    folder = _folder(tmp_path)
    client = await connected(tier_node)
    try:
        if version >= (1, 8, 0):  # each migration then is a commit
            await client.set_history(f"//{tier_collection}", True)
        migrator = Migrator(client, folder, tier_collection)
        assert len((await migrator.status()).pending) == 2
        result = await migrator.up()
        assert [f.number for f in result.applied] == [1, 2]
        assert (await migrator.status()).up_to_date
        await client.run("add_user", "ann", scope=f"//{tier_collection}")
        if version >= (1, 8, 0):
            commits = await client.history(scope=f"//{tier_collection}", last=5)
            assert len(commits) == 2
    finally:
        await client.close_and_wait()


def test_blocking_migrations(
    tier_node: Node, tier_collection: str, tmp_path: Path
) -> None:
    with SyncClient() as client:
        client.connect(*tier_node.address, timeout=10)
        client.authenticate("admin", "pass", timeout=10)
        migrator = BlockingMigrator(client, _folder(tmp_path), tier_collection)
        assert [f.number for f in migrator.up().applied] == [1, 2]
        assert migrator.status().up_to_date


def _cli(node: Node, *args: str) -> subprocess.CompletedProcess[str]:
    host, port = node.address
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINGSDB_")}
    return subprocess.run(
        [sys.executable, "-m", "thingsdb", "-n", host, "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_command_line(tier_node: Node, tier_collection: str) -> None:
    done = _cli(tier_node, "40 + 2")
    assert (done.returncode, done.stdout.strip()) == (0, "42")
    scope = f"//{tier_collection}"
    tier_node.query("new_procedure('twice', |x| x * 2);", scope=scope)
    done = _cli(tier_node, "-s", scope, "--run", "twice", "[21]")
    assert (done.returncode, done.stdout.strip()) == (0, "42")
    done = _cli(tier_node, "nope()")
    assert done.returncode == 1
    assert "LookupError (-54)" in done.stderr


async def test_shell(tier_node: Node, tier_collection: str) -> None:
    pytest.importorskip("prompt_toolkit")
    from test_shell import ENTER, _shell

    tier_node.query(
        "new_procedure('twice_it', |x| x * 2);", scope=f"//{tier_collection}"
    )
    async with _shell(tier_node, scope=f"@:{tier_collection}") as sh:
        await sh.type("20 + 22" + ENTER, expect="42\n")
        await sh.until(lambda: "twice_it" in sh.shell.names.procedures)
        await sh.complete("twice_", "twice_it")
        await sh.type("(4)" + ENTER, expect="8\n")
        assert await sh.quit() == 0


def _readme_test_file() -> str:
    """The example of a test file run per release (docs/guides/testing.md)."""
    return block_starting("# tests/test_releases.py")


def test_testing_runs_per_binary(tmp_path: Path) -> None:
    """The testing guide's test file runs once per binary given in THINGSDB_BINS
    (here all of the tier's), its ids naming the versions."""
    from .conftest import _BINARIES

    if not _BINARIES:
        pytest.skip("no binaries")
    (tmp_path / "test_releases.py").write_text(_readme_test_file())
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINGSDB_")}
    env[BINS_ENV] = os.pathsep.join(path for _, path in _BINARIES)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "thingsdb.testing",
            "-v",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    older = 0
    for version, _ in _BINARIES:
        assert f"test_answer[thingsdb-{version}] PASSED" in done.stdout
        new_enough = tuple(int(p) for p in version.split("-")[0].split(".")) >= (1, 8)
        outcome = "PASSED" if new_enough else "SKIPPED"
        assert f"test_commit_history[thingsdb-{version}] {outcome}" in done.stdout
        older += not new_enough
    passed = 2 * len(_BINARIES) - older
    assert f"{passed} passed, {older} skipped" in done.stdout
