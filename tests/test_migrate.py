"""thingsdb.migrate against a real node: applying a folder once, two
deployers at once, edited files, failing migrations, commit history,
baseline, typed roots, the blocking API and the command."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import realnode
from thingsdb import cli
from thingsdb import exceptions as tx
from thingsdb.client import Client
from thingsdb.migrate import (
    BlockingMigrator,
    CollectionError,
    DriftError,
    FolderError,
    MigrationFailed,
    Migrator,
    Progress,
    RecordError,
    UpResult,
)
from thingsdb.sync import Client as BlockingClient

pytestmark = pytest.mark.node


def write_folder(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


# each migration leaves its number in .log: applied twice shows twice
BASIC = {
    "0001_log.ti": ".log = [];\n.log.push(1);\n",
    "0002_types.ti": (
        "// a type and an enum\n"
        "set_enum('Color', {RED: 'r', BLUE: 'b'});\n"
        "new_type('Item');\n"
        "set_type('Item', {name: 'str', color: 'Color'});\n"
        ".log.push(2);\n"
    ),
    "0003_procedure.ti": (
        "new_procedure('add_item', |name| {\n"
        "    .items.push(Item{name: name, color: Color{RED}});\n"
        "    .items.len();\n"
        "});\n"
        ".items = [];\n"
        ".log.push(3);\n"
    ),
}


async def connect(node: realnode.Node) -> Client:
    client = Client(reconnect_delay=0.05, reconnect_max_delay=0.5)
    await client.connect(*node.address, timeout=10)
    await client.authenticate(node.user, node.password, timeout=10)
    return client


@pytest.fixture
async def client(node: realnode.Node) -> AsyncIterator[Client]:
    c = await connect(node)
    try:
        yield c
    finally:
        await c.close_and_wait()


@pytest.fixture
def other_collection(node: realnode.Node) -> Iterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    node.query("new_collection(name);", name=name)
    try:
        yield name
    finally:
        node.query("del_collection(name);", name=name)


def log_of(node: realnode.Node, collection: str) -> Any:
    return node.query(".get('log');", f"//{collection}")


# -- applying a folder ------------------------------------------------------------


async def test_up_applies_once_then_only_new_files(
    client: Client, node: realnode.Node, collection: str, tmp_path: Path
) -> None:
    folder = write_folder(tmp_path / "m", BASIC)
    migrator = Migrator(client, folder, f"//{collection}")

    status = await migrator.status()
    assert status.version == 0
    assert [m.state for m in status.migrations] == ["pending"] * 3

    events: list[Progress] = []
    result = await migrator.up(on_progress=events.append)
    assert [m.number for m in result.applied] == [1, 2, 3]
    assert result.version == 3
    assert [e.event for e in events].count("applied") == 3
    assert log_of(node, collection) == [1, 2, 3]
    scope = f"//{collection}"
    assert node.query("wse(); run('add_item', 'pen');", scope) == 1

    status = await migrator.status()
    assert status.up_to_date
    assert [m.state for m in status.migrations] == ["applied"] * 3
    first = status.migrations[0].applied
    assert first is not None
    assert first.by == "admin"
    assert first.applied_at is not None
    assert first.applied_at.endswith("Z")
    assert first.name == "0001_log.ti"

    again = await migrator.up()
    assert again.applied == ()
    assert again.version == 3
    assert log_of(node, collection) == [1, 2, 3]

    write_folder(folder, {"0004_more.ti": ".log.push(4);\n"})
    newer = await migrator.up()
    assert [m.number for m in newer.applied] == [4]
    assert log_of(node, collection) == [1, 2, 3, 4]
    # the record is data on the root: export() (the schema) leaves it out
    assert "__migrations__" not in node.query("export();", scope)


async def test_up_to(
    client: Client, node: realnode.Node, collection: str, tmp_path: Path
) -> None:
    folder = write_folder(tmp_path / "m", BASIC)
    migrator = Migrator(client, folder, collection)
    result = await migrator.up(to=2)
    assert [m.number for m in result.applied] == [1, 2]
    assert log_of(node, collection) == [1, 2]
    with pytest.raises(ValueError, match="past 0001"):
        await migrator.up(to=1)


async def test_two_deployers_at_once(
    node: realnode.Node, collection: str, tmp_path: Path
) -> None:
    files = {"0001_log.ti": ".log = [];\n.log.push(1);\n"}
    for n in range(2, 9):
        # some work, so the two deployers overlap
        files[f"{n:04d}_step.ti"] = (
            f"x = 0; range(3000).each(|i| x += i);\n.log.push({n});\n"
        )
    folder = write_folder(tmp_path / "m", files)
    first, second = await connect(node), await connect(node)
    try:
        results = await asyncio.gather(
            Migrator(first, folder, collection).up(),
            Migrator(second, folder, collection).up(),
        )
    finally:
        await first.close_and_wait()
        await second.close_and_wait()
    assert log_of(node, collection) == list(range(1, 9))
    applied = [m.number for r in results for m in r.applied]
    assert sorted(applied) == list(range(1, 9))  # each by exactly one of them
    for mine, theirs in (results, results[::-1]):
        assert {m.number for m in mine.skipped} <= {m.number for m in theirs.applied}


def blocking_client(node: realnode.Node) -> BlockingClient:
    client = BlockingClient()
    client.connect(*node.address, timeout=10)
    client.authenticate(node.user, node.password, timeout=10)
    return client


def test_the_deployer_that_loses_the_race_skips(
    node: realnode.Node, collection: str, tmp_path: Path
) -> None:
    """A reads the record; B applies everything before A's first apply
    arrives: A's expected-version check fails, A reads the record again and
    applies nothing."""
    folder = write_folder(tmp_path / "m", BASIC)
    with blocking_client(node) as a_client, blocking_client(node) as b_client:
        a = BlockingMigrator(a_client, folder, collection)
        b = BlockingMigrator(b_client, folder, collection)
        b_results: list[UpResult] = []

        def b_goes_first(progress: Progress) -> None:
            if progress.event == "applying" and not b_results:
                b_results.append(b.up())

        result = a.up(on_progress=b_goes_first)
        assert [m.number for m in b_results[0].applied] == [1, 2, 3]
        assert result.applied == ()
        assert [m.number for m in result.skipped] == [1, 2, 3]
        assert result.version == 3
        assert a.status().up_to_date
    assert log_of(node, collection) == [1, 2, 3]


# -- edits, failures ------------------------------------------------------------


async def test_edited_applied_file_is_flagged(
    client: Client, node: realnode.Node, collection: str, tmp_path: Path
) -> None:
    folder = write_folder(tmp_path / "m", BASIC)
    migrator = Migrator(client, folder, collection)
    await migrator.up(to=2)
    edited = folder / "0002_types.ti"
    edited.write_text(edited.read_text() + "// a comment added later\n")

    status = await migrator.status()
    assert [m.state for m in status.migrations] == ["applied", "edited", "pending"]
    assert status.drift

    with pytest.raises(DriftError, match=r"edited since applied: 0002_types\.ti"):
        await migrator.up()
    assert log_of(node, collection) == [1, 2]  # 0003 was not applied

    result = await migrator.up(allow_edited=True)
    assert [m.number for m in result.applied] == [3]
    assert [m.state for m in (await migrator.status()).migrations] == [
        "applied",
        "edited",
        "applied",
    ]


async def test_failing_migration_stops_cleanly(
    client: Client, node: realnode.Node, collection: str, tmp_path: Path
) -> None:
    scope = f"//{collection}"
    folder = write_folder(
        tmp_path / "m",
        {
            "0001_log.ti": ".log = [];\n.log.push(1);\n",
            "0002_fails.ti": (
                ".before = true;\n"
                "new_type('T');\n"
                "\n"
                "x = 1; .x = no_such_function(x);\n"
                ".after = true;\n"
                ".log.push(2);\n"
            ),
            "0003_later.ti": ".log.push(3);\n",
        },
    )
    migrator = Migrator(client, folder, collection)
    with pytest.raises(MigrationFailed) as info:
        await migrator.up()
    failed = info.value
    assert failed.migration.name == "0002_fails.ti"
    assert failed.line == 4
    assert failed.statement == ".x = no_such_function(x)"
    assert failed.ran
    assert isinstance(failed.error, tx.LookupError)
    assert failed.error.error_msg == "function `no_such_function` is undefined"
    assert str(failed).startswith("0002_fails.ti line 4: LookupError (-54): ")

    # earlier ones stay applied, the failing one is not recorded, later ones
    # did not run
    status = await migrator.status()
    assert status.version == 1
    assert [m.state for m in status.migrations] == ["applied", "pending", "pending"]
    assert log_of(node, collection) == [1]
    assert node.query(".has('after');", scope) is False
    # ThingsDB has no rollback: what ran before the error stays (this is the
    # node's behaviour the README describes; the test fails if it changes)
    assert node.query("[.get('before'), has_type('T')];", scope) == [True, True]

    # fixed so that it can run again on what the failed run left
    (folder / "0002_fails.ti").write_text(
        "has_type('T') || new_type('T');\n.x = 1;\n.log.push(2);\n"
    )
    result = await migrator.up()
    assert [m.number for m in result.applied] == [2, 3]
    assert log_of(node, collection) == [1, 2, 3]


async def test_first_migration_failing_leaves_no_record(
    client: Client, node: realnode.Node, collection: str, tmp_path: Path
) -> None:
    folder = write_folder(tmp_path / "m", {"0001_x.ti": "assert(false, 'not yet');\n"})
    with pytest.raises(MigrationFailed) as info:
        await Migrator(client, folder, collection).up()
    assert isinstance(info.value.error, tx.AssertionError)
    assert info.value.line == 1
    assert node.query(".keys();", f"//{collection}") == []


async def test_syntax_error_stops_before_anything_runs(
    client: Client, node: realnode.Node, collection: str, tmp_path: Path
) -> None:
    folder = write_folder(
        tmp_path / "m",
        {
            "0001_log.ti": ".log = [];\n.log.push(1);\n",
            "0002_typo.ti": "// fine so far\n.a = 1;\n.b = (2 + ;\n",
        },
    )
    migrator = Migrator(client, folder, collection)
    with pytest.raises(MigrationFailed) as info:
        await migrator.up()
    failed = info.value
    assert failed.migration.number == 2
    assert failed.line == 3
    assert not failed.ran
    assert isinstance(failed.error, tx.SyntaxError)
    assert failed.error.error_msg.startswith("error at line 3, position ")
    # every pending file is parsed before the first is applied
    assert (await migrator.status()).version == 0
    assert node.query(".keys();", f"//{collection}") == []


async def test_return_ends_a_migration_and_it_is_recorded(
    client: Client, node: realnode.Node, collection: str, tmp_path: Path
) -> None:
    folder = write_folder(
        tmp_path / "m",
        {
            "0001_early.ti": ".a = 1;\nif (true) return 'done';\n.b = 2;\n",
            "0002_next.ti": ".c = 3;\n",
        },
    )
    result = await Migrator(client, folder, collection).up()
    assert [m.number for m in result.applied] == [1, 2]
    keys = node.query(".keys();", f"//{collection}")
    assert sorted(keys) == ["__migrations__", "a", "c"]


async def test_marks_agree_with_the_node(client: Client, collection: str) -> None:
    """The statement reader finds the statements the node runs: with its
    marks, tricky code gives the same result and counts every statement."""
    from thingsdb.migrate.statements import mark_statements, statement_spans

    codes = [
        "x = 'a;b''c;'; y = \"d;e\"; [x, y]",
        "t = `n{1 + 1};{{;}}``;`; t",
        "r = /a;b/i; [r.test('A;B'), 10 / 2 / 5]",
        "if (true) /;/.test(';') else 0",
        "// c;\n a = 1 /* ; */ ; b = |x| {x; x + a}; b(2)",
        "for (i in range(3)) {.n = i;}; .n",
        "{z = 4; z * 2}",
        "return 7; 8",
        "o = {a: 1, b: [1, 2]}; o.b.len() + o.a",
    ]
    for code in codes:
        spans = statement_spans(code)
        assert spans is not None, code
        marked = mark_statements(code, spans, "__mg_at.s={n};")
        run = "__mg_at = {s: 0}; [(||{\n%s\n}).call(), __mg_at.s];"
        plain = await client.query(
            run % code, scope=f"//{collection}", skip_strip_code=True
        )
        with_marks = await client.query(
            run % marked, scope=f"//{collection}", skip_strip_code=True
        )
        assert with_marks[0] == plain[0], code
        last = len(spans) if "return" not in code else 1
        assert with_marks[1] == last, code


# -- commit history ---------------------------------------------------------------


async def test_commit_history_has_one_commit_per_migration(
    client: Client, node: realnode.Node, collection: str, tmp_path: Path
) -> None:
    scope = f"//{collection}"
    node.query("set_history(s, true);", s=scope)
    folder = write_folder(tmp_path / "m", BASIC)
    migrator = Migrator(client, folder, collection)
    await migrator.up()

    commits = await client.history(scope=scope, has_err=False, detail=True)
    assert [c["message"] for c in commits] == [
        "migration 0001: log",
        "migration 0002: types",
        "migration 0003: procedure",
    ]
    assert all(c["by"] == "admin" for c in commits)
    assert "set_enum('Color'" in commits[1]["code"]

    # a failed migration's query is in the history too, marked with its error
    write_folder(folder, {"0004_fails.ti": "new_type('Item');\n"})
    with pytest.raises(MigrationFailed):
        await migrator.up()
    failed = await client.history(scope=scope, has_err=True)
    assert [c["message"] for c in failed] == ["migration 0004: fails"]
    assert "type `Item` already exists" in failed[0]["err_msg"]
    assert len(await client.history(scope=scope, has_err=False)) == 3


# -- baseline ---------------------------------------------------------------------


SCHEMA = """\
set_enum('Color', {RED: '#f00', GREEN: '#0f0'});
set_enum('Size', {S: 1, M: 2, L: 3});
new_type('Tag');
set_type('Tag', {name: 'str'});
new_type('Item');
set_type('Item', {
    name: 'str',
    color: 'Color?',
    size: 'Size',
    tags: '{Tag}',
    label: |this| `{this.name} ({this.size})`,
});
new_type('Root');
set_type('Root', {items: '[Item]', __migrations__: 'thing?'});
new_procedure('add', |a, b| a + b);
new_procedure('add_item', |name| {
    .items.push(Item{name: name, size: Size{M}});
});
.to_type('Root');
"""


def without_source_line(export: str) -> str:
    """export() starts with a commit line that names the collection."""
    first, rest = export.split("\n", 1)
    assert first.startswith("try(commit('Source: collection `")
    return rest


async def test_baseline_of_a_collection_rebuilds_it(
    client: Client,
    node: realnode.Node,
    collection: str,
    other_collection: str,
    tmp_path: Path,
) -> None:
    source, target = f"//{collection}", f"//{other_collection}"
    node.query(SCHEMA, source)
    folder = tmp_path / "new" / "migrations"

    made = await Migrator(client, folder, collection).baseline()
    assert made.path == folder / "0001_baseline.ti"
    assert made.path.read_text() == made.text
    assert made.text.startswith("// 0001_baseline.ti: the schema of collection")
    status = await Migrator(client, folder, collection).status()
    assert [m.state for m in status.migrations] == ["applied"]

    result = await Migrator(client, folder, other_collection).up()
    assert [m.number for m in result.applied] == [1]
    exported = node.query("export();", source)
    assert without_source_line(node.query("export();", target)) == (
        without_source_line(exported)
    )
    assert "new_procedure('add_item'" in exported  # the schema is all there
    assert node.query("wse(); run('add', 40, 2);", target) == 42

    write_folder(folder, {"0002_more.ti": "set_enum('Shape', {ROUND: 1});\n"})
    for name in (collection, other_collection):
        applied = await Migrator(client, folder, name).up()
        assert [m.number for m in applied.applied] == [2]


async def test_baseline_refusals(
    client: Client, node: realnode.Node, collection: str, tmp_path: Path
) -> None:
    # a typed root without a field for the record: said how to add one
    node.query(
        "new_type('R'); set_type('R', {a: 'int'}); .to_type('R');", f"//{collection}"
    )
    folder = tmp_path / "m"
    with pytest.raises(RecordError, match="add', '__migrations__', 'thing\\?'"):
        await Migrator(client, folder, collection).baseline()
    assert not folder.exists() or not list(folder.iterdir())  # no file left

    node.query("mod_type('R', 'add', '__migrations__', 'thing?');", f"//{collection}")
    await Migrator(client, folder, collection).baseline()
    with pytest.raises(FolderError, match="holds migrations already"):
        await Migrator(client, folder, collection).baseline()
    with pytest.raises(RecordError, match="has a record already"):
        await Migrator(client, tmp_path / "other", collection).baseline()


async def test_typed_root_in_a_migration(
    client: Client, node: realnode.Node, collection: str, tmp_path: Path
) -> None:
    good = write_folder(
        tmp_path / "good",
        {
            "0001_root.ti": (
                "new_type('Root');\n"
                "set_type('Root', {n: 'int', __migrations__: 'thing?'});\n"
                ".to_type('Root');\n"
            ),
            "0002_n.ti": ".n = 5;\n",
        },
    )
    await Migrator(client, good, collection).up()
    assert node.query("[type(root()), .n];", f"//{collection}") == ["Root", 5]
    assert (await Migrator(client, good, collection).status()).up_to_date


async def test_typed_root_without_the_field(
    client: Client, node: realnode.Node, collection: str, tmp_path: Path
) -> None:
    bad = write_folder(
        tmp_path / "bad",
        {"0001_root.ti": "new_type('Root');\n.to_type('Root');\n"},
    )
    with pytest.raises(MigrationFailed, match="has no property `__migrations__`"):
        await Migrator(client, bad, collection).up()


async def test_bad_scope_and_missing_collection(client: Client, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "m", BASIC)
    with pytest.raises(CollectionError, match="@thingsdb is not a collection scope"):
        Migrator(client, folder, "@thingsdb")
    with pytest.raises(
        CollectionError, match="no collection 'nope_missing' on the node"
    ):
        await Migrator(client, folder, "//nope_missing").status()
    with pytest.raises(FolderError, match="does not exist"):
        await Migrator(client, tmp_path / "none", "stuff").status()


def test_blocking_migrator(
    node: realnode.Node, collection: str, tmp_path: Path
) -> None:
    folder = write_folder(tmp_path / "m", BASIC)
    with blocking_client(node) as client:
        migrator = BlockingMigrator(client, folder, collection)
        assert len(migrator.status().pending) == 3
        assert [m.number for m in migrator.up().applied] == [1, 2, 3]
        assert migrator.status().up_to_date
        path = migrator.new("later")
        assert path == folder / "0004_later.ti"
        assert [m.state for m in migrator.status().migrations][-1] == "pending"
    assert log_of(node, collection) == [1, 2, 3]


async def test_no_access_is_reported_with_the_file(
    node: realnode.Node, collection: str, tmp_path: Path
) -> None:
    user = f"reader_{uuid.uuid4().hex[:8]}"
    node.query(
        "new_user(u); set_password(u, 'pw'); grant(s, u, QUERY);",
        u=user,
        s=f"//{collection}",
    )
    folder = write_folder(tmp_path / "m", BASIC)
    client = Client()
    await client.connect(*node.address, timeout=10)
    try:
        await client.authenticate(user, "pw", timeout=10)
        with pytest.raises(MigrationFailed) as info:
            await Migrator(client, folder, collection).up()
        assert info.value.migration.number == 1
        assert isinstance(info.value.error, tx.ForbiddenError)
        assert not info.value.ran
    finally:
        await client.close_and_wait()
        node.query("del_user(u);", u=user)


# -- the command --------------------------------------------------------------------


@pytest.fixture
def flags(node: realnode.Node, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    for name in list(os.environ):
        if name.startswith("THINGSDB_") and name != realnode.BIN_ENV:
            monkeypatch.delenv(name)
    host, port = node.address
    return ["-n", host, "-p", str(port)]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``thingsdb-cli migrate ARGV...``, in this process."""
    status = cli.main(["migrate", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_command(
    flags: list[str],
    node: realnode.Node,
    collection: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = write_folder(tmp_path / "m", BASIC)
    where = ["--dir", str(folder), "-s", f"//{collection}", *flags]

    status, out, err = run(capsys, "status", *where)
    assert (status, err) == (5, "")  # pending
    assert out.splitlines() == [
        f"//{collection}: at 0000, 3 pending",
        "  0001_log.ti        pending",
        "  0002_types.ti      pending",
        "  0003_procedure.ti  pending",
    ]

    status, out, err = run(capsys, "up", *where)
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "applied 0001_log.ti",
        "applied 0002_types.ti",
        "applied 0003_procedure.ti",
        f"//{collection}: at 0003; applied 3",
    ]

    status, out, err = run(capsys, "status", *where)
    assert (status, err) == (0, "")
    assert out.splitlines()[0] == f"//{collection}: at 0003, up to date"
    # the connection flags on the other side of the command word, as git
    # and kubectl take global flags
    before = cli.main(
        [*flags, "-s", f"//{collection}", "migrate", "status", "--dir", str(folder)]
    )
    assert (before, capsys.readouterr().out) == (status, out)
    assert out.splitlines()[1].startswith("  0001_log.ti        applied  20")

    status, out, _err = run(capsys, "up", *where)
    assert (status, out) == (0, f"//{collection}: at 0003; applied 0\n")

    (folder / "0001_log.ti").write_text(".log = [];\n.log.push(1); // edited\n")
    status, out, err = run(capsys, "status", *where)
    assert status == 6  # edited, nothing pending: the headline still says so
    assert out.splitlines()[0] == f"//{collection}: at 0003, 1 edited"
    write_folder(folder, {"0004_fails.ti": "\n.log.push(4);\n1 / 0;\n"})
    status, out, err = run(capsys, "status", *where)
    assert status == 6  # edited
    # the headline tells the drift, never "up to date"
    assert out.splitlines()[0] == f"//{collection}: at 0003, 1 edited, 1 pending"
    assert "0001_log.ti        EDITED   since it was applied" in out
    assert err == (
        f"thingsdb-cli migrate: the folder and collection {collection!r} disagree "
        "(edited since applied: 0001_log.ti); nothing applied (allow it with "
        "--allow-edited)\n"
    )
    status, out, err = run(capsys, "up", *where)
    assert status == 6
    assert err.count("\n") == 1
    assert log_of(node, collection) == [1, 2, 3]

    status, out, err = run(capsys, "up", "--allow-edited", *where)
    assert status == 1
    assert out == ""
    assert err.splitlines() == [
        "thingsdb-cli migrate: 0004_fails.ti line 3: ZeroDivisionError (-58): "
        "division or modulo by zero",
        "thingsdb-cli migrate: in `1 / 0`; 0004_fails.ti is not recorded as "
        "applied, and ThingsDB keeps what ran before the error (it has no "
        "rollback)",
    ]
    assert log_of(node, collection) == [1, 2, 3, 4]  # no rollback, as said


def test_command_baseline_and_new(
    flags: list[str],
    node: realnode.Node,
    collection: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    node.query("new_type('A'); set_type('A', {x: 'int'});", f"//{collection}")
    folder = tmp_path / "m"
    status, out, err = run(
        capsys, "baseline", "--dir", str(folder), "-s", collection, *flags
    )
    assert (status, err) == (0, "")
    assert out == (
        f"wrote {folder / '0001_baseline.ti'} (export() of //{collection}) and "
        "recorded it as applied\n"
    )
    status, out, _err = run(capsys, "new", "--dir", str(folder), "second step")
    assert (status, out) == (0, f"{folder / '0002_second_step.ti'}\n")
    status, out, _err = run(
        capsys, "up", "--dir", str(folder), "-s", collection, *flags
    )
    assert status == 0
    assert out.splitlines() == [
        "applied 0002_second_step.ti",
        f"//{collection}: at 0002; applied 1",
    ]


def test_command_missing_collection(
    flags: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_folder(tmp_path / "m", BASIC)
    status, out, err = run(
        capsys, "status", "--dir", str(folder), "-s", "//nope_x", *flags
    )
    assert (status, out) == (2, "")
    assert err.startswith("thingsdb-cli migrate: no collection 'nope_x' on the node")
    assert err.count("\n") == 1


def test_command_login_refused(
    flags: list[str],
    node: realnode.Node,
    collection: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = write_folder(tmp_path / "m", BASIC)
    where = ["--dir", str(folder), "-s", collection, *flags]
    status, out, err = run(capsys, "up", *where, "-w", "wrong")
    assert (status, out) == (cli.NO_LOGIN, "")
    assert err.startswith(f"thingsdb-cli migrate: {flags[1]}:{flags[3]} refused ")
    assert err.count("\n") == 1
    status, out, err = run(capsys, "up", *where, "-t", "no-such-token")
    assert (status, out) == (cli.NO_LOGIN, "")
    assert "check --token" in err
    assert log_of(node, collection) is None  # nothing applied


def test_python_dash_m(flags: list[str], collection: str, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "m", BASIC)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "thingsdb.migrate",
            "up",
            "--dir",
            str(folder),
            "-s",
            collection,
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(f"//{collection}: at 0003; applied 3\n")
    done = subprocess.run(
        [sys.executable, "-m", "thingsdb.migrate", "up", "--dir", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("THINGSDB_")},
    )
    assert done.returncode == 2
    assert done.stderr == (
        "python -m thingsdb.migrate: give the collection with -s //NAME "
        "(or THINGSDB_SCOPE)\n"
    )
