"""The @thingsdb and @node helpers (Client.new_collection() ...) against real
nodes: the session node over TCP and WebSocket, and nodes of their own for
what changes a whole node (modules, backups, restore, shutdown, a second
node)."""

from __future__ import annotations

import asyncio
import datetime
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import realnode
from thingsdb import exceptions as tdx
from thingsdb.client import Client
from thingsdb.util import Access

pytestmark = [pytest.mark.node, pytest.mark.timeout(60)]


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


async def connected(node: realnode.Node, *auth: Any, **kwargs: Any) -> Client:
    c = Client(**kwargs)
    await c.connect(*node.address, timeout=10)
    try:
        await c.authenticate(*(auth or (node.user, node.password)), timeout=10)
    except BaseException:
        await c.close_and_wait()
        raise
    return c


@pytest.fixture
def user(node: realnode.Node) -> Iterator[str]:
    """A user name that is free now; the user is deleted afterwards."""
    name = unique("user")
    yield name
    node.query("has_user(name) && del_user(name); nil;", name=name)


@pytest.fixture
def solo(tmp_path: Path) -> Iterator[realnode.Node]:
    """A node of its own, with its modules in the test's folder."""
    binary, reason = realnode.find_binary()
    if binary is None:
        pytest.skip(reason)
    extra = {
        "modules_path": str(tmp_path / "modules"),
        # modules are only installed here, never run
        "python_interpreter": "/bin/true",
    }
    with realnode.start_node(tmp_path, binary=binary, extra_config=extra) as n:
        yield n


@pytest.fixture
async def solo_client(solo: realnode.Node) -> AsyncIterator[Client]:
    c = await connected(solo)
    try:
        yield c
    finally:
        await c.close_and_wait()


async def eventually(
    check: Any, what: str, timeout: float = 15.0, interval: float = 0.1
) -> Any:
    """Await ``check()`` until it returns something true."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s (last: {result!r})")
        await asyncio.sleep(interval)


# -- collections ---------------------------------------------------------------


async def test_collections(client: Client) -> None:
    name = unique("coll")
    assert await client.new_collection(name) == name
    try:
        assert await client.has_collection(name) is True
        info = await client.collection_info(name)
        assert info["name"] == name
        assert info["time_zone"] == "UTC"
        cid = info["collection_id"]
        assert await client.has_collection(cid) is True
        assert (await client.collection_info(cid))["name"] == name
        assert name in [c["name"] for c in await client.collections_info()]

        zones = await client.time_zones_info()
        assert "Europe/Amsterdam" in zones
        assert all(isinstance(z, str) for z in zones)
        await client.set_time_zone(name, "Europe/Amsterdam")
        assert (await client.collection_info(cid))["time_zone"] == "Europe/Amsterdam"

        await client.set_default_deep(name, 3)
        assert (await client.collection_info(cid))["default_deep"] == 3
        await client.set_default_deep(f"@:{name}", 2)
        assert (await client.collection_info(cid))["default_deep"] == 2

        new = unique("renamed")
        await client.rename_collection(name, new)
        assert await client.has_collection(name) is False
        await client.rename_collection(cid, name)
        assert (await client.collection_info(name))["collection_id"] == cid
    finally:
        await client.del_collection(name)
    assert await client.has_collection(name) is False
    with pytest.raises(tdx.LookupError):
        await client.collection_info(name)
    with pytest.raises(tdx.LookupError):
        await client.del_collection(name)


async def test_values_go_in_as_variables(client: Client) -> None:
    # a name that would break code it were pasted into is just a bad name
    with pytest.raises(tdx.ValueError):
        await client.new_collection("x'); del_collection('stuff'); ('")
    assert await client.has_collection("stuff") is True


# -- users, tokens, access -----------------------------------------------------


async def test_users_and_passwords(
    client: Client, node: realnode.Node, user: str
) -> None:
    assert await client.has_user(user) is False
    assert await client.new_user(user) == user
    assert await client.has_user(user) is True
    assert (await client.user_info(user))["has_password"] is False
    assert user in [u["name"] for u in await client.users_info()]
    assert (await client.user_info())["name"] == node.user

    await client.set_password(user, "s3cret")
    assert (await client.user_info(user))["has_password"] is True
    other = await connected(node, user, "s3cret")
    await other.close_and_wait()

    renamed = unique("renamed")
    await client.rename_user(user, renamed)
    assert await client.has_user(user) is False
    await client.rename_user(renamed, user)

    await client.set_password(user, None)
    assert (await client.user_info(user))["has_password"] is False
    with pytest.raises(tdx.AuthError):
        await connected(node, user, "s3cret")

    await client.del_user(user)
    assert await client.has_user(user) is False
    with pytest.raises(tdx.LookupError):
        await client.user_info(user)


async def test_tokens(
    client: Client, node: realnode.Node, user: str, collection: str
) -> None:
    await client.new_user(user)
    forever = await client.new_token(user)
    soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    described = await client.new_token(user, soon, "for the test")
    as_text = await client.new_token(user, "2099-12-31T00:00:00Z")
    as_number = await client.new_token(user, time.time() + 3600)
    tokens = {t["key"]: t for t in (await client.user_info(user))["tokens"]}
    assert set(tokens) == {forever, described, as_text, as_number}
    assert tokens[forever]["expiration_time"] == "never"
    assert tokens[described]["description"] == "for the test"
    assert tokens[as_text]["expiration_time"].startswith("2099-12-31")
    expected = soon.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M")
    assert tokens[described]["expiration_time"].startswith(expected)

    assert await client.has_token(forever) is True
    other = await connected(node, forever)  # a token authenticates alone
    try:
        # without a name it works in any scope the user may query
        with pytest.raises(tdx.ForbiddenError):
            await other.user_info()
        await client.grant(f"@:{collection}", user, Access.QUERY)
        assert (await other.user_info(scope=f"//{collection}"))["name"] == user
    finally:
        await other.close_and_wait()

    await client.del_token(forever)
    assert await client.has_token(forever) is False
    await client.del_expired()  # none expired: all others stay
    assert await client.has_token(described) is True

    with pytest.raises(tdx.ValueError, match="past"):
        await client.new_token(user, datetime.datetime(2000, 1, 1))
    with pytest.raises(TypeError, match="expiration_time"):
        await client.new_token(user, [2030])  # type: ignore[arg-type]


async def test_grant_and_revoke(
    client: Client, node: realnode.Node, user: str, collection: str
) -> None:
    await client.new_user(user)
    token = await client.new_token(user)
    other = await connected(node, token)
    try:
        with pytest.raises(tdx.ForbiddenError):
            await other.query("1;", scope=f"//{collection}")

        await client.grant(f"@:{collection}", user, Access.QUERY | Access.RUN)
        assert await other.query("1;", scope=f"//{collection}") == 1
        with pytest.raises(tdx.ForbiddenError):
            await other.query(".x = 1;", scope=f"//{collection}")

        info = await client.user_info(user)
        privileges = {a["scope"]: Access.parse(a["privileges"]) for a in info["access"]}
        assert privileges == {f"@collection:{collection}": Access.QUERY | Access.RUN}

        # GRANT brings CHANGE along
        await client.grant(f"@:{collection}", user, Access.GRANT)
        info = await client.user_info(user)
        assert Access.parse(info["access"][0]["privileges"]) == (
            Access.QUERY | Access.RUN | Access.GRANT | Access.CHANGE
        )
        assert await other.query(".x = 1;", scope=f"//{collection}") == 1

        await client.revoke(f"@:{collection}", user, Access.FULL ^ Access.QUERY)
        info = await client.user_info(user)
        assert Access.parse(info["access"][0]["privileges"]) == Access.QUERY
        await client.revoke(f"@:{collection}", user, Access.QUERY)
        with pytest.raises(tdx.ForbiddenError):
            await other.query("1;", scope=f"//{collection}")

        with pytest.raises(tdx.LookupError):
            await client.grant("@:no_such_collection", user, Access.QUERY)
    finally:
        await other.close_and_wait()


async def test_whitelists(client: Client, user: str) -> None:
    await client.new_user(user)

    async def whitelists() -> dict[str, list[str]]:
        found: dict[str, list[str]] = (await client.user_info(user))["whitelists"]
        return found

    assert await whitelists() == {}
    await client.whitelist_add(user, "rooms")
    await client.whitelist_add(user, "procedures", "report")
    await client.whitelist_add(user, "procedures", re.compile("^get_", re.I))
    await client.whitelist_add(user, "procedures", re.compile("x.y", re.S | re.M))
    assert await whitelists() == {
        "rooms": [],
        "procedures": ["report", "/^get_/i", "/x.y/sm"],
    }
    with pytest.raises(tdx.LookupError):
        await client.whitelist_add(user, "rooms")  # it exists already
    with pytest.raises(ValueError, match="flags"):
        await client.whitelist_add(user, "rooms", re.compile("a", re.X))

    await client.whitelist_del(user, "procedures", re.compile("^get_", re.I))
    await client.whitelist_del(user, "procedures", "report")
    await client.whitelist_del(user, "rooms")
    assert await whitelists() == {"procedures": ["/x.y/sm"]}
    await client.whitelist_del(user, "procedures")
    assert await whitelists() == {}


# -- commit history ------------------------------------------------------------


async def test_history(client: Client, collection: str) -> None:
    scope = f"@:{collection}"
    cid = (await client.collection_info(collection))["collection_id"]
    await client.set_history(scope, True)
    # the number of commits kept, or "disabled"
    assert (await client.collection_info(cid))["commit_history"] == 0
    try:
        for i, message in enumerate(["first change", "second change", "Third"]):
            await client.query(
                "commit(message); .x = i;", message=message, i=i, scope=scope
            )
        commits = await client.history(scope=scope, first=10)
        assert [c["message"] for c in commits] == [
            "first change",
            "second change",
            "Third",
        ]
        assert "code" not in commits[0]

        detailed = await client.history(scope=scope, last=1, detail=True)
        assert [c["message"] for c in detailed] == ["Third"]
        assert "commit(message)" in detailed[0]["code"]

        one = await client.history(scope=scope, commit_id=commits[1]["id"])
        assert [c["message"] for c in one] == ["second change"]
        assert await client.history(scope=scope, commit_id=10**9) == []

        found = await client.history(scope=scope, contains="change")
        assert len(found) == 2
        found = await client.history(scope=scope, match=re.compile("^third", re.I))
        assert [c["message"] for c in found] == ["Third"]
        found = await client.history(scope=scope, match="d c")
        assert [c["message"] for c in found] == ["second change"]

        tomorrow = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            days=1
        )
        assert len(await client.history(scope=scope, before=tomorrow)) == 3
        assert await client.history(scope=scope, after=tomorrow) == []
        assert await client.history(scope=scope, before="2000-01-01") == []
        assert await client.history(scope=scope, has_err=True) == []

        with pytest.raises(tdx.LookupError, match="at least one"):
            await client.history(scope=scope)

        assert await client.del_history(scope=scope, contains="change") == 2
        left = await client.history(scope=scope, first=10)
        assert [c["message"] for c in left] == ["Third"]
    finally:
        await client.set_history(scope, False)
    assert (await client.collection_info(cid))["commit_history"] == "disabled"


# -- @node ---------------------------------------------------------------------


async def test_procedures(client: Client, collection: str) -> None:
    scope = f"//{collection}"
    await client.query(
        "new_procedure('add', |a, b| {\n  'Adds two numbers.';\n  a + b;\n});",
        scope=scope,
    )
    assert await client.has_procedure("add", scope)
    assert not await client.has_procedure("add")  # not in @thingsdb
    info = await client.procedure_info("add", scope)
    assert info["name"] == "add"
    assert info["arguments"] == ["a", "b"]
    assert await client.procedure_doc("add", scope) == "Adds two numbers."
    assert [p["name"] for p in await client.procedures_info(scope)] == ["add"]
    await client.rename_procedure("add", "plus", scope)
    assert await client.run("plus", 40, 2, scope=scope) == 42
    await client.del_procedure("plus", scope)
    assert await client.procedures_info(scope) == []
    with pytest.raises(tdx.LookupError):
        await client.procedure_info("plus", scope)


async def test_node_info_and_counters(client: Client) -> None:
    info = await client.node_info()
    assert info["node_id"] == 0
    assert info["status"] == "READY"
    assert (await client.node_info("@node:0"))["node_id"] == 0
    nodes = await client.nodes_info()
    assert [n["node_id"] for n in nodes] == [0]

    await client.reset_counters()
    for _ in range(3):
        await client.query("1 + 1;")
    counters = await client.counters()
    assert counters["queries_success"] >= 3
    assert counters["queries_success"] < 1000

    assert await client.has_node(0) is True
    assert await client.has_node(63) is False
    assert await client.backups_ok() is True
    assert await client.backups_info() == []
    assert await client.has_backup(0) is False
    with pytest.raises(tdx.LookupError):
        await client.backup_info(0)

    with pytest.raises(tdx.LookupError, match="@thingsdb"):
        await client.query("nodes_info();", scope="@t")


async def test_set_log_level(client: Client) -> None:
    try:
        await client.set_log_level("debug")
        assert (await client.node_info())["log_level"] == "DEBUG"
        await client.set_log_level(3)
        assert (await client.node_info())["log_level"] == "ERROR"
    finally:
        await client.set_log_level("INFO")
    assert (await client.node_info())["log_level"] == "INFO"
    with pytest.raises(ValueError, match="log_level"):
        await client.set_log_level("LOUD")
    with pytest.raises(TypeError):
        await client.set_log_level(1.5)  # type: ignore[arg-type]


async def test_module_lookups_on_the_shared_node(client: Client) -> None:
    # modules themselves are tested on a node of their own (below)
    assert await client.has_module("no_such_module") is False
    with pytest.raises(tdx.LookupError):
        await client.module_info("no_such_module")


async def test_helpers_keep_their_timeout(client: Client) -> None:
    with pytest.raises(ValueError, match="timeout"):
        await client.node_info(timeout=0)


# -- nodes of their own --------------------------------------------------------


async def test_modules(solo_client: Client, tmp_path: Path) -> None:
    c = solo_client
    assert await c.modules_info() == []
    await c.new_module("demo", "demo.py", {"answer": 42})
    assert await c.has_module("demo") is True
    info = await c.module_info("demo")
    assert info["name"] == "demo"
    assert info["conf"] == {"answer": 42}
    assert info["scope"] is None

    await c.set_module_conf("demo", {"answer": 43})
    await c.set_module_scope("demo", "@:stuff")
    info = await c.module_info("demo")
    assert info["conf"] == {"answer": 43}
    assert info["scope"] == "@collection:stuff"
    await c.set_module_scope("demo", None)
    await c.set_module_conf("demo", None)
    info = await c.module_info("demo")
    assert info["scope"] is None
    assert info["conf"] is None

    await c.deploy_module("demo", "print('hello')\n")
    written = tmp_path / "modules" / "demo" / "demo.py"

    def written_now() -> bool:
        return written.is_file() and written.read_text() == "print('hello')\n"

    async def deployed() -> bool:
        # written at once, or a moment later when the module was busy
        return await asyncio.to_thread(written_now)

    await eventually(deployed, "the module code is written")
    await c.deploy_module("demo")  # None: only restart
    await c.refresh_module("demo")
    await c.restart_module("demo")
    await c.restart_module("demo", "@node:0")

    await c.rename_module("demo", "demo2")
    assert await c.has_module("demo") is False
    assert [m["name"] for m in await c.modules_info()] == ["demo2"]
    await c.del_module("demo2")
    assert await c.modules_info() == []
    with pytest.raises(tdx.LookupError):
        await c.del_module("demo2")


async def test_backups_and_restore(
    solo: realnode.Node, solo_client: Client, tmp_path: Path
) -> None:
    c = solo_client
    backup = tmp_path / "backup.tar.gz"
    bid = await c.new_backup(str(backup))
    assert await c.has_backup(bid) is True

    async def done() -> dict[str, Any] | None:
        info = await c.backup_info(bid)
        return info if "result_code" in info else None

    info = await eventually(done, "the backup ran")
    assert info["result_code"] == 0, info
    assert info["files"] == [str(backup)]
    assert backup.is_file()
    assert await c.backups_ok() is True

    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    daily = await c.new_backup(str(tmp_path / "daily_{DATE}.tar.gz"), later, 86400, 3)
    info = await c.backup_info(daily)
    assert info["repeat"] == 86400
    assert info["max_files"] == 3
    assert info["next_run"].startswith(later.strftime("%Y-%m-%d"))
    assert {b["id"] for b in await c.backups_info()} == {bid, daily}
    await c.del_backup(daily)
    assert await c.has_backup(daily) is False

    with pytest.raises(tdx.BadDataError, match="missing"):
        await c.restore(str(tmp_path / "missing.tar.gz"))

    # things made after the backup are gone after the restore
    await c.new_collection("after_backup")
    await c.new_user("after_backup")
    await c.restore(str(backup), take_access=True)

    async def restored() -> bool:
        # the restore goes on in the background, for a moment
        fresh = await connected(solo)
        try:
            return not await fresh.has_collection("after_backup")
        finally:
            await fresh.close_and_wait()

    await eventually(restored, "the restore is done")
    fresh = await connected(solo)
    try:
        assert await fresh.has_user("after_backup") is False
        assert await fresh.has_collection("stuff") is True
    finally:
        await fresh.close_and_wait()

    reconnecting = c.reconnect()
    assert reconnecting is not None
    await reconnecting
    await c.del_backup(bid, True)
    assert await c.has_backup(bid) is False

    async def removed() -> bool:
        # the node removes the files in the background
        return not await asyncio.to_thread(backup.exists)

    await eventually(removed, "the backup file is removed")


async def test_new_node_and_del_node(tmp_path: Path) -> None:
    binary, reason = realnode.find_binary()
    if binary is None:
        pytest.skip(reason)
    first = realnode.start_node(tmp_path, name="first", binary=binary)
    second: realnode.Node | None = None
    try:
        second = realnode.start_node(
            tmp_path,
            name="second",
            binary=binary,
            init=False,
            secret="join-me",
            wait="node_port",
        )
        c = await connected(first)
        try:
            with pytest.raises(tdx.ValueError):
                await c.new_node("", "127.0.0.1", second.node_port)
            node_id = await c.new_node("join-me", "127.0.0.1", second.node_port)
            assert node_id == 1
            assert await c.has_node(1) is True
            assert [n["node_id"] for n in await c.nodes_info()] == [0, 1]
            second.stop()
            await eventually(
                lambda: _offline(c, 1), "the first node sees the second one gone"
            )
            await c.del_node(1)
            assert await c.has_node(1) is False
            assert [n["node_id"] for n in await c.nodes_info()] == [0]
        finally:
            await c.close_and_wait()
    finally:
        if second is not None:
            second.stop()
        first.stop()


async def _offline(c: Client, node_id: int) -> bool:
    nodes = {n["node_id"]: n["status"] for n in await c.nodes_info()}
    return nodes.get(node_id) == "OFFLINE"


async def test_shutdown(tmp_path: Path) -> None:
    with realnode.start_node(tmp_path) as n:
        c = await connected(n, auto_reconnect=False)
        try:
            n.exit_expected = True  # what follows is no accident
            await c.shutdown()
            assert n.proc is not None
            await asyncio.get_running_loop().run_in_executor(None, n.proc.wait, 20)
            assert n.proc.returncode == 0
        finally:
            await c.close_and_wait()
