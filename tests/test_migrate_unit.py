"""thingsdb.migrate without a node: the statement reader, the folder rules,
the record, reading errors back, and the steps of ``up`` and ``baseline``
driven by scripted answers (conflicts, lost connections, failures)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import realnode
from thingsdb import cli
from thingsdb import exceptions as tx
from thingsdb.migrate import (
    CollectionError,
    DriftError,
    FolderError,
    MigrationFailed,
    MigrationFile,
    MigrationInterrupted,
    RecordError,
    collection_of,
    load_folder,
    new_migration,
)
from thingsdb.migrate.engine import (
    LoadFolder,
    Notify,
    Progress,
    Query,
    RemoveFile,
    Step,
    Steps,
    WriteNewFile,
    baseline_steps,
    up_steps,
)
from thingsdb.migrate.folder import checksum, normalize
from thingsdb.migrate.query import (
    HEAD_LINES,
    READ_RECORD,
    CodeRaised,
    Conflict,
    NotOurs,
    RecordNotWritable,
    apply_code,
    read_error,
    syntax_line,
)
from thingsdb.migrate.statements import mark_statements, statement_spans
from thingsdb.migrate.status import EMPTY, Applied, Record, compare, parse_record

T = TypeVar("T")

# -- the statement reader ----------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "statements"),
    [
        ("a; b", ["a", "b"]),
        (";a;; b;\n", ["a", "b"]),
        ("x = 'a;b''c;'; y", ["x = 'a;b''c;'", "y"]),
        ('x = "say ""hi;""" ; y', ['x = "say ""hi;"""', "y"]),
        ("t = `a{b}; {{;}} ``;`; z", ["t = `a{b}; {{;}} ``;`", "z"]),
        ("t = `{`in{1}ner;`}`; z", ["t = `{`in{1}ner;`}`", "z"]),
        ("r = /a;b/i; w = a / b; c", ["r = /a;b/i", "w = a / b", "c"]),
        ("r = /a\\/;b/; c", ["r = /a\\/;b/", "c"]),
        ("if (x) /a;b/.test('c'); d", ["if (x) /a;b/.test('c')", "d"]),
        ("return /x;y/, 2;", ["return /x;y/, 2"]),
        ("// c;\n a /* ; */ ; b // ;", ["a /* ; */", "b // ;"]),
        ("f = |x| {x; y}; g", ["f = |x| {x; y}", "g"]),
        (
            "for (x in range(3)) {.a += x; .b = 1;}; c",
            ["for (x in range(3)) {.a += x; .b = 1;}", "c"],
        ),
        ("x = 1.5; y = 6/2;", ["x = 1.5", "y = 6/2"]),
        ("", []),
        ("// only a comment\n", []),
    ],
)
def test_statement_spans(code: str, statements: list[str]) -> None:
    spans = statement_spans(code)
    assert spans is not None
    assert [code[s:e].strip() for s, e in spans] == statements


@pytest.mark.parametrize(
    "code", ["x = 'open", "a = (1;", "a = 1)", "t = `open", "/* open", "r = /a"]
)
def test_code_that_cannot_be_followed(code: str) -> None:
    assert statement_spans(code) is None


# statements whose text holds every kind of ; that is not a boundary
_PIECES = [
    ".a = 1",
    "x = 'it''s; fine'",
    'y = "a;b"',
    "t = `n: {x}; {{;}}`",
    "r = /a;b/",
    "q = 10 / 2 / 5",
    "f = |a| {a; a + 1}",
    "if (true) {.b = 2;} else {.b = 3;}",
    "s = [1, 2, 3]",
    "{x = 1; x}",
    "return 1",
]
_GAPS = ["; ", ";\n", " ;; ", "; // c;\n", "; /* ; */ ", ";\n\n"]


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8),
    st.lists(st.sampled_from(_GAPS), min_size=8, max_size=8),
    st.booleans(),
)
def test_statements_found_as_joined(
    pieces: list[str], gaps: list[str], trailing: bool
) -> None:
    code = "".join(p + g for p, g in zip(pieces, gaps, strict=False))
    if not trailing:
        code = code[: len(code) - len(gaps[len(pieces) - 1])]
    spans = statement_spans(code)
    assert spans is not None
    assert [code[s:e].strip() for s, e in spans] == pieces
    marked = mark_statements(code, spans, "M{n};")
    assert marked.count("\n") == code.count("\n")
    assert [marked[s:e].strip() for s, e in statement_spans(marked) or []] == [
        x for i, p in enumerate(pieces, 1) for x in (f"M{i}", p)
    ]


# -- the folder ------------------------------------------------------------------


def write(folder: Path, name: str, text: str = ".x = 1;\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_folder_in_order(tmp_path: Path) -> None:
    write(tmp_path, "0002_two.ti", "// 2\r\n.b = 2;\r\n")
    write(tmp_path, "0001_one-a.ti")
    write(tmp_path, "README.md", "not a migration")
    write(tmp_path, ".0003_swap.ti", "hidden")
    (tmp_path / ".gitkeep").touch()
    files = load_folder(tmp_path)
    assert [(f.number, f.description, f.name) for f in files] == [
        (1, "one-a", "0001_one-a.ti"),
        (2, "two", "0002_two.ti"),
    ]
    # line ends are \n whatever the checkout did, so the checksum is too
    assert files[1].text == "// 2\n.b = 2;\n"
    assert files[1].checksum == checksum("// 2\n.b = 2;\n")
    assert files[1].commit_message == "migration 0002: two"


def test_empty_folder(tmp_path: Path) -> None:
    assert load_folder(tmp_path) == []


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (
            ["0001_ok.ti", "2_short.ti"],
            r"^2_short\.ti: not a migration file name; expected NNNN",
        ),
        (
            ["0001_ok.ti", "0002_with space.ti"],
            r"^0002_with space\.ti: not a migration",
        ),
        (["0001_ok.ti", "0002.ti"], r"^0002\.ti: not a migration file name"),
        (
            ["0001_a.ti", "0001_b.ti"],
            r"^number 0001 is used twice: 0001_a\.ti and 0001_b\.ti$",
        ),
        (["0001_a.ti", "00001_b.ti"], r"^number 0001 is used twice"),
        (
            ["0001_a.ti", "0002_b.ti", "0004_d.ti"],
            r"^0004_d\.ti: number 0003 is missing before it",
        ),
        (["0002_b.ti"], r"^0002_b\.ti: the first migration must be number 0001"),
        (["0000_zero.ti", "0001_a.ti"], r"^0000_zero\.ti: the first migration must be"),
    ],
)
def test_folder_errors(tmp_path: Path, names: list[str], message: str) -> None:
    for name in names:
        write(tmp_path, name)
    with pytest.raises(FolderError, match=message) as info:
        load_folder(tmp_path)
    assert "\n" not in str(info.value)


def test_missing_folder_and_bad_text(tmp_path: Path) -> None:
    with pytest.raises(FolderError, match=r"migrations folder .*nope does not exist$"):
        load_folder(tmp_path / "nope")
    (tmp_path / "0001_bin.ti").write_bytes(b".x = '\xff';")
    with pytest.raises(FolderError, match=r"^0001_bin\.ti: not UTF-8 text"):
        load_folder(tmp_path)


def test_new_migration(tmp_path: Path) -> None:
    folder = tmp_path / "made" / "here"
    first = new_migration(folder, "create users")
    assert first == folder / "0001_create_users.ti"
    assert first.read_text().startswith("// 0001_create_users.ti")
    second = new_migration(folder, "add-index")
    assert second.name == "0002_add-index.ti"
    assert [f.number for f in load_folder(folder)] == [1, 2]
    with pytest.raises(FolderError, match="cannot be a migration name"):
        new_migration(folder, "bad/name")
    write(folder, "0004_gap.ti")
    with pytest.raises(FolderError, match="0003 is missing"):
        new_migration(folder, "next")
    assert not list(folder.glob(".*"))  # no temporary file left


def test_collection_of() -> None:
    assert collection_of("//stuff") == "stuff"
    assert collection_of("@:stuff") == "stuff"
    assert collection_of("@collection:stuff") == "stuff"
    assert collection_of("stuff") == "stuff"
    for scope in ("@thingsdb", "@t", "@node", "/n", "@node:1"):
        with pytest.raises(CollectionError, match="is not a collection scope"):
            collection_of(scope)
    with pytest.raises(CollectionError, match="not a valid collection name"):
        collection_of("no spaces")


# -- the record ------------------------------------------------------------------


def migration(number: int, text: str = ".x = 1;", name: str = "") -> MigrationFile:
    name = name or f"{number:04d}_m{number}.ti"
    return MigrationFile(number, f"m{number}", Path(name), text, checksum(text))


def entry(m: MigrationFile, checksum_: str | None = None) -> list[Any]:
    return [m.number, m.name, checksum_ or m.checksum, "2030-01-01T00:00:00Z", "admin"]


def test_parse_record() -> None:
    m1, m2 = migration(1), migration(2)
    assert parse_record(None, "c") == EMPTY
    record = parse_record([2, [entry(m1), entry(m2)]], "c")
    assert record.version == 2
    assert record.entry(2) == Applied(
        2, m2.name, m2.checksum, "2030-01-01T00:00:00Z", "admin"
    )
    assert record.entry(3) is None


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (0, "it is not a thing"),
        ([True, []], "its version is True"),
        ([1, "x"], "'applied' is not a list"),
        ([1, [5]], "entry 1 is not a thing"),
        ([1, [[2, "a", "b", None, None]]], "entry 1 has number 2"),
        ([1, [[1, None, "b", None, None]]], "lacks a name or checksum"),
        ([2, [[1, "a", "b", None, None]]], "its version is 2 with 1 entries"),
    ],
)
def test_damaged_record(value: Any, what: str) -> None:
    with pytest.raises(RecordError, match=re.escape(what)):
        parse_record(value, "c")


def test_compare() -> None:
    m1, m2, m3 = migration(1), migration(2, ".y = 2;"), migration(3)
    record = Record(2, tuple(Applied(*entry(m)) for m in (m1, m2)))
    status = compare([m1, m2, m3], record, "c")
    assert [m.state for m in status.migrations] == ["applied", "applied", "pending"]
    assert not status.drift
    assert not status.up_to_date

    edited = migration(2, ".y = 3;")
    renamed = migration(1, name="0001_other.ti")
    status = compare([renamed, edited, m3], record, "c")
    assert [m.state for m in status.migrations] == ["applied", "edited", "pending"]
    assert status.migrations[0].renamed
    assert status.drift

    status = compare([m1], record, "c")
    assert [m.state for m in status.migrations] == ["applied", "missing"]
    assert status.missing[0].name == m2.name
    assert status.drift


# -- reading errors back --------------------------------------------------------


def custom(msg: str, code: int = -100) -> tx.ThingsDBError:
    return tx.error_from_data({"error_code": code, "error_msg": msg})


def test_read_error() -> None:
    token = "abc123"
    assert read_error(custom(f"{token} conflict 3"), token) == Conflict(3)
    assert read_error(custom(f"{token} record no field"), token) == (
        RecordNotWritable("no field")
    )
    raised = read_error(custom(f"{token} stmt 4 code -54: no `x`", -54), token)
    assert isinstance(raised, CodeRaised)
    assert raised.statement == 4
    assert isinstance(raised.error, tx.LookupError)
    assert raised.error.error_msg == "no `x`"
    # a code err() cannot raise again comes back as the code it was
    raised = read_error(custom(f"{token} stmt 1 code -2: memory"), token)
    assert isinstance(raised, CodeRaised)
    assert isinstance(raised.error, tx.MemoryError)
    other = custom("stmt 1 code -54: without the token")
    assert read_error(other, token) == NotOurs(other)


def test_syntax_line() -> None:
    m = migration(1, "a = 1;\nb = 2 +;\nc = 3;\n")
    error = tx.SyntaxError(
        errdata={
            "error_code": -52,
            "error_msg": f"error at line {HEAD_LINES + 2}, position 6, unexpected `;`",
        }
    )
    assert syntax_line(error, m) == (2, "error at line 2, position 6, unexpected `;`")


def test_apply_code_keeps_lines() -> None:
    text = "a = 1;\n\nb = 'x;y';\nc"
    code, spans = apply_code(migration(1, text))
    assert spans is not None
    assert len(spans) == 3
    lines = code.split("\n")
    assert lines[HEAD_LINES].startswith("__mg_at.s=1;a = 1;")
    assert lines[HEAD_LINES + 2] == "__mg_at.s=2;b = 'x;y';"
    plain, none = apply_code(migration(1, text), marked=False)
    assert none is None
    assert plain.split("\n")[HEAD_LINES : HEAD_LINES + 4] == text.split("\n")


# -- the steps, driven by scripted answers -------------------------------------


Answer = Callable[[Query], Any]


def drive(
    steps: Steps[T],
    answer: Answer,
    files: list[MigrationFile],
    log: list[Step] | None = None,
) -> T:
    """Run ``steps``: queries go to ``answer`` (which returns or raises),
    the folder is ``files``, file writes are only logged."""
    value: Any = None
    error: Exception | None = None
    while True:
        try:
            step = steps.send(value) if error is None else steps.throw(error)
        except StopIteration as stop:
            result: T = stop.value
            return result
        if log is not None:
            log.append(step)
        value, error = None, None
        try:
            if isinstance(step, Query):
                value = answer(step)
            elif isinstance(step, LoadFolder):
                value = list(files)
        except (tx.ThingsDBError, OSError) as exc:
            error = exc


def record_of(*ms: MigrationFile) -> list[Any]:
    return [len(ms), [entry(m) for m in ms]]


class Node:
    """A scripted node: the record, and what to do with each apply."""

    def __init__(self, files: list[MigrationFile]) -> None:
        self.files = files
        self.applied: list[MigrationFile] = []
        self.applies: list[Query] = []
        self.on_apply: Callable[[Query, MigrationFile], Any] | None = None
        self.on_read: Callable[[], Any] | None = None

    def __call__(self, step: Query) -> Any:
        if step.code == READ_RECORD:
            if self.on_read is not None:
                return self.on_read()
            return record_of(*self.applied) if self.applied else None
        if step.code.startswith("raise(mg_tok); "):  # the syntax check
            raise custom(step.variables["mg_tok"])
        self.applies.append(step)
        m = self.files[step.variables["mg_number"] - 1]
        if self.on_apply is not None:
            return self.on_apply(step, m)
        return self.apply(step, m)

    def apply(self, step: Query, m: MigrationFile) -> int:
        if len(self.applied) != m.number - 1:
            raise custom(f"{step.variables['mg_tok']} conflict {len(self.applied)}")
        self.applied.append(m)
        return m.number


def up(
    node: Node, files: list[MigrationFile], **kwargs: Any
) -> tuple[Any, list[Progress]]:
    log: list[Step] = []
    result = drive(up_steps(Path("m"), "c", **kwargs), node, files, log)
    return result, [s.progress for s in log if isinstance(s, Notify)]


FILES = [migration(1), migration(2, ".y = 2;"), migration(3, ".z = 3;")]


def test_up_applies_in_order_then_nothing() -> None:
    node = Node(FILES)
    result, progress = up(node, FILES)
    assert [m.number for m in result.applied] == [1, 2, 3]
    assert result.version == 3
    assert [(p.event, p.migration.number) for p in progress] == [
        ("checked", 1),
        ("checked", 2),
        ("checked", 3),
        ("applying", 1),
        ("applied", 1),
        ("applying", 2),
        ("applied", 2),
        ("applying", 3),
        ("applied", 3),
    ]
    again, _ = up(node, FILES)
    assert again.applied == ()
    assert again.version == 3
    assert len(node.applies) == 3


def test_up_to() -> None:
    node = Node(FILES)
    result, _ = up(node, FILES, to=2)
    assert [m.number for m in result.applied] == [1, 2]
    with pytest.raises(ValueError, match="past 0001"):
        up(node, FILES, to=1)
    with pytest.raises(ValueError, match="no migration 0004"):
        up(node, FILES, to=4)


def test_conflict_reads_the_record_again_and_skips() -> None:
    node = Node(FILES)

    def first_is_late(step: Query, m: MigrationFile) -> int:
        if m.number == 1 and not node.applied:
            node.applied[:] = FILES[:2]  # another deployer was quicker
        return node.apply(step, m)

    node.on_apply = first_is_late
    result, progress = up(node, FILES)
    assert [m.number for m in result.applied] == [3]
    assert [m.number for m in result.skipped] == [1, 2]
    assert ("skipped", 2, "applied by another deployer") in [
        (p.event, p.migration.number, p.note) for p in progress
    ]
    assert node.applied == FILES


def test_conflict_with_another_file_is_drift() -> None:
    node = Node(FILES)
    other = migration(1, ".other = 1;")

    def someone_else(step: Query, m: MigrationFile) -> int:
        node.applied[:] = [other]
        return node.apply(step, m)

    node.on_apply = someone_else
    with pytest.raises(DriftError, match=r"edited since applied: 0001_m1\.ti"):
        up(node, FILES)


def test_drift_applies_nothing_unless_allowed() -> None:
    node = Node(FILES)
    node.applied = [migration(1, ".was = 'different';")]
    with pytest.raises(DriftError, match="nothing applied") as info:
        up(node, FILES)
    assert info.value.status.edited[0].number == 1
    assert node.applies == []
    result, _ = up(node, FILES, allow_edited=True)
    assert [m.number for m in result.applied] == [2, 3]


def test_lost_answer_resolved_from_the_record() -> None:
    node = Node(FILES)

    def answer_lost(step: Query, m: MigrationFile) -> int:
        node.apply(step, m)
        if m.number == 2:
            raise tx.ConnectionLostError("cut")
        return m.number

    node.on_apply = answer_lost
    result, progress = up(node, FILES)
    assert [m.number for m in result.applied] == [1, 2, 3]
    notes = [p.note for p in progress if p.event == "applied"]
    assert notes[1] == "confirmed from the record after the connection was lost"
    assert len(node.applies) == 3  # nothing sent twice


def test_lost_request_is_not_sent_again() -> None:
    node = Node(FILES)

    def lost_on_the_way(step: Query, m: MigrationFile) -> int:
        if m.number == 2:
            raise tx.ConnectionLostError("cut")
        return node.apply(step, m)

    node.on_apply = lost_on_the_way
    with pytest.raises(MigrationInterrupted, match="was not applied") as info:
        up(node, FILES)
    assert info.value.applied is False
    assert info.value.migration.number == 2
    assert [m.number for m in node.applied] == [1]
    assert len(node.applies) == 2


def test_lost_and_the_record_unreadable() -> None:
    node = Node(FILES)
    reads = 0

    def read() -> Any:
        nonlocal reads
        reads += 1
        if reads > 1:
            raise tx.TimeoutError("no answer")
        return None

    def lost(step: Query, m: MigrationFile) -> int:
        raise tx.ConnectionLostError("cut")

    node.on_read, node.on_apply = read, lost
    with pytest.raises(MigrationInterrupted, match="may or may not be applied") as info:
        up(node, FILES)
    assert info.value.applied is None


def test_code_raised_names_line_and_statement() -> None:
    text = ".a = 1;\n\nnew_type('A'); new_type('B');\n.c = 3;\n"
    files = [migration(1, text)]
    node = Node(files)

    def raises(step: Query, m: MigrationFile) -> int:
        token = step.variables["mg_tok"]
        raise custom(f"{token} stmt 3 code -54: type `B` already exists", -54)

    node.on_apply = raises
    with pytest.raises(MigrationFailed) as info:
        up(node, files)
    failed = info.value
    assert failed.line == 3
    assert failed.statement == "new_type('B')"
    assert failed.ran
    assert isinstance(failed.error, tx.LookupError)
    assert failed.__cause__ is failed.error
    assert str(failed) == (
        "0001_m1.ti line 3: LookupError (-54): type `B` already exists"
    )


def test_marks_that_break_the_code_are_left_out() -> None:
    files = [migration(1, ".a = 1; .b = 2;")]
    node = Node(files)

    def marks_refused(step: Query, m: MigrationFile) -> int:
        if "__mg_at.s=1;" in step.code:
            raise tx.SyntaxError(
                errdata={"error_code": -52, "error_msg": "error at line 16"}
            )
        return node.apply(step, m)

    node.on_apply = marks_refused
    result, _ = up(node, files)
    assert [m.number for m in result.applied] == [1]
    assert len(node.applies) == 2


def test_syntax_error_anywhere_stops_before_anything() -> None:
    files = [migration(1), migration(2, ".a = 1;\n.b = +;\n")]
    node = Node(files)

    def check(step: Query) -> Any:
        if step.code.startswith("raise(mg_tok); ") and "+;" in step.code:
            raise tx.SyntaxError(
                errdata={
                    "error_code": -52,
                    "error_msg": f"error at line {HEAD_LINES + 2}, position 6, x",
                }
            )
        return node(step)

    with pytest.raises(MigrationFailed) as info:
        drive(up_steps(Path("m"), "c"), check, files)
    assert info.value.line == 2
    assert not info.value.ran
    assert str(info.value.error) == "error at line 2, position 6, x"
    assert node.applies == []


def test_record_not_writable_hint() -> None:
    node = Node(FILES)

    def no_field(step: Query, m: MigrationFile) -> int:
        raise custom(f"{step.variables['mg_tok']} record type `R` has no property")

    node.on_apply = no_field
    with pytest.raises(
        RecordError, match=r"mod_type\('<type>', 'add', '__migrations__'"
    ):
        up(node, FILES)


def test_collection_missing() -> None:
    def missing(step: Query) -> Any:
        raise tx.LookupError(
            errdata={"error_code": -54, "error_msg": "collection `c` not found"}
        )

    with pytest.raises(CollectionError, match="no collection 'c' on the node"):
        drive(up_steps(Path("m"), "c"), missing, FILES)


def test_baseline_removes_its_file_when_marking_fails() -> None:
    log: list[Step] = []

    def answer(step: Query) -> Any:
        if step.code == READ_RECORD:
            return None
        if step.code == "export();":
            return "new_type('T');\n"
        raise custom(f"{step.variables['mg_tok']} conflict 1")

    with pytest.raises(RecordError, match="got a record meanwhile"):
        drive(baseline_steps(Path("m"), "c"), answer, [], log)
    written = [s for s in log if isinstance(s, WriteNewFile)]
    removed = [s for s in log if isinstance(s, RemoveFile)]
    assert len(written) == 1
    assert written[0].path == Path("m/0001_baseline.ti")
    assert written[0].text.endswith("new_type('T');\n")
    assert [r.path for r in removed] == [written[0].path]


def test_normalize() -> None:
    assert normalize(b"\xef\xbb\xbfa\r\nb\rc", "x") == "a\nb\nc"


# -- the command, without a node --------------------------------------------------


@pytest.fixture(autouse=True)
def _no_thingsdb_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("THINGSDB_") and name != realnode.BIN_ENV:
            monkeypatch.delenv(name)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``thingsdb-cli migrate ARGV...``, in this process."""
    status = cli.main(["migrate", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def no_node() -> list[str]:
    return ["-n", "127.0.0.1", "-p", str(realnode.free_ports(1)[0])]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["status", "--dir", "{dir}"], "give the collection with -s //NAME"),
        (
            ["up", "--dir", "{dir}", "-s", "@thingsdb"],
            "@thingsdb is not a collection scope",
        ),
        (
            ["up", "--dir", "{dir}/nope", "-s", "x"],
            "migrations folder {dir}/nope does not exist",
        ),
        (
            ["status", "--dir", "{dir}/bad", "-s", "x"],
            "1_x.ti: not a migration file name",
        ),
        (["status", "--dir", "{dir}/dup", "-s", "x"], "number 0001 is used twice"),
        (
            ["status", "--dir", "{dir}/gap", "-s", "x"],
            "number 0002 is missing before it",
        ),
        (["baseline", "--dir", "{dir}/one", "-s", "x"], "holds migrations already"),
        (["new", "--dir", "{dir}", "a/b"], "cannot be a migration name"),
        # the connection flags are thingsdb-cli's, checked as there
        (["status", "--dir", "{dir}", "-s", "x", "-p", "http"], "--port: the port"),
        (
            ["up", "--dir", "{dir}", "-s", "x", "--local", "-n", "db1"],
            "--local starts a node of its own; --node does not go with it",
        ),
        (
            ["up", "--dir", "{dir}", "-s", "x", "--data", "d"],
            "--data goes with --local",
        ),
        (["up", "--dir", "{dir}", "-s", "x", "--to", "two"], "argument --to: invalid"),
        (["new", "--dir", "{dir}", "x", "--local"], "unrecognized arguments: --local"),
    ],
)
def test_command_bad_input_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    write(tmp_path / "bad", "1_x.ti")
    write(tmp_path / "dup", "0001_a.ti")
    write(tmp_path / "dup", "0001_b.ti")
    write(tmp_path / "gap", "0001_a.ti")
    write(tmp_path / "gap", "0003_c.ti")
    write(tmp_path / "one", "0001_a.ti")
    args = [a.format(dir=tmp_path) for a in argv]
    if args[0] != "new" and "--local" not in args and "-p" not in args:
        args += no_node()
    status, out, err = run(capsys, *args)
    assert status == cli.BAD_USAGE == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("thingsdb-cli migrate: ")
    assert message.format(dir=tmp_path) in err
    assert list(tmp_path.glob("*.ti")) == []  # nothing made


def test_command_no_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the flags and variables are thingsdb-cli's: host:port in -n or in
    # THINGSDB_NODE, as there
    port = realnode.free_ports(1)[0]
    for where in (["-n", f"127.0.0.1:{port}"], []):
        if not where:
            monkeypatch.setenv("THINGSDB_NODE", f"127.0.0.1:{port}")
        status, out, err = run(
            capsys, "status", "--dir", str(tmp_path), "-s", "x", *where
        )
        assert (status, out) == (cli.NO_CONNECTION, "")
        assert err.count("\n") == 1
        assert err.startswith(
            f"thingsdb-cli migrate: no ThingsDB node answers at 127.0.0.1:{port} "
        )


def test_command_new(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "new", "--dir", str(tmp_path), "add users")
    assert (status, err) == (0, "")
    assert out == f"{tmp_path / '0001_add_users.ti'}\n"


def test_command_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    status, _out, err = run(capsys, "sideways")
    assert status == 2
    assert "invalid choice" in err
    status, _out, err = run(capsys)
    assert status == 2
    assert "required: COMMAND" in err
    status, out, _err = run(capsys, "--help")
    assert status == 0
    # one scheme of exit statuses: thingsdb-cli's, then migrate's own
    for line in (
        "Exit status (those of thingsdb-cli, then two of its own):",
        "  3  no connection, nothing ran",
        "  4  the node refused the login",
        "  5  status: migrations are pending",
        "  6  the folder and the collection disagree",
    ):
        assert line in out
    status, out, _err = run(capsys, "up", "--help")
    assert status == 0
    for flag in ("--allow-edited", "--node", "--local", "--data", "--thingsdb-bin"):
        assert flag in out
    assert "  6  the folder and the collection disagree" in out
