"""``thingsdb-cli codegen`` and typed results.

Without a node: each field definition's Python type, schemas of odd shapes
(never a crash), the same text for the same schema. Against a real node:
the module generated from a collection with types, enums, relations, a
wrap-only type, a '#' field and procedures passes mypy --strict and ruff,
and is used: every field definition written from a generated Struct and
read back typed through ``client.typed()`` (both clients), relations at
depth, the wrap-only type, the procedure calls, a result that does not fit.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib
import subprocess
import sys
import uuid
from pathlib import Path
from types import GenericAlias
from typing import Any

import msgspec
import pytest
from msgspec import UNSET

from thingsdb.client import Client
from thingsdb.codegen import Options, python_type, schema_from_info, write_module
from thingsdb.codegen.cli import main as codegen_main
from thingsdb.exceptions import ResultTypeError
from thingsdb.protocol.typed import result_decoder
from thingsdb.sync import Client as SyncClient
from thingsdb.testing import Node

ROOT = Path(__file__).resolve().parents[1]

NAMES = {"Book": "Book", "Color": "Color", "class": "class_"}


@pytest.mark.parametrize(
    ("definition", "python"),
    [
        ("str", "str"),
        ("utf8", "str"),
        ("raw", "str"),
        ("bytes", "bytes"),
        ("bool", "bool"),
        ("int", "int"),
        ("uint", "Annotated[int, Meta(ge=0)]"),
        ("pint", "Annotated[int, Meta(ge=1)]"),
        ("nint", "Annotated[int, Meta(le=-1)]"),
        ("float", "float"),
        ("number", "int | float"),
        ("datetime", "datetime.datetime"),
        ("timeval", "int"),
        ("regex", "str"),
        ("closure", "str"),
        ("#", "int"),
        ("thing", "dict[str, Any]"),
        ("any", "Any"),
        ("int?", "int | None"),
        ("[str]", "list[str]"),
        ("[int?]?", "list[int | None] | None"),
        ("{Book}", "list[Book]"),
        ("Book?", "Book | None"),
        ("Color", "Color"),
        ("[Color?]", "list[Color | None]"),
        ("int<0:10>", "Annotated[int, Meta(ge=0, le=10)]"),
        ("int<-5:5:1>", "Annotated[int, Meta(ge=-5, le=5)]"),
        ("float<0:1>", "Annotated[float, Meta(ge=0.0, le=1.0)]"),
        ("str<1:20>", "str"),
        ("/^[a-z]+$/", "str"),
        ("any?", "Any"),
        ("[]", "list[Any]"),
    ],
)
def test_definitions(definition: str, python: str) -> None:
    assert python_type(definition, NAMES).text == python


@pytest.mark.parametrize("definition", ["date", "int<a:b>", "[x", "Unknown?", ""])
def test_an_unknown_definition_is_any_with_a_note(definition: str) -> None:
    found = python_type(definition, NAMES)
    assert (found.text, found.note) == ("Any", f"unknown definition {definition!r}")


ODD_TYPES = [
    {"name": "Ok", "fields": [["a", "str"], ["b", "date?"], ["c", 5], "junk"]},
    {"name": "class", "fields": [["datetime", "int"], ["from", "Ok"]]},
    {"fields": []},
    "not a type",
]
ODD_ENUMS = [
    {"name": "Mixed", "members": [["A", 1], ["B", "b"]]},
    {"name": "Floats", "members": [["A", 1.5]]},
    {"name": "Kw", "members": [["None", 0], ["name", 1]]},
]
ODD_PROCEDURES = [
    {"name": "p", "arguments": ["self", "timeout", "class", "min"], "doc": 'a "b"'},
    {"name": "class", "arguments": [], "with_side_effects": False},
    {"name": "bad", "arguments": "x"},
]


def odd_module(opts: Options | None = None) -> str:
    schema = schema_from_info("odd", ODD_TYPES, ODD_ENUMS, ODD_PROCEDURES)
    return write_module(schema, "localhost:9200", opts)


def test_odd_schema_writes_a_module_that_compiles() -> None:
    for opts in (Options(), Options(dataclasses=True, id_field="key")):
        text = odd_module(opts)
        compile(text, "odd.py", "exec")
        assert "# unknown definition 'date?'" in text
        flat = " ".join(text.split())
        assert "Left out, of a shape not understood: 2 type entries, 1 pro" in flat
        assert "Mixed: TypeAlias = Any" in text
        assert "class class_" in text
    assert 'datetime_: int | UnsetType = field(default=UNSET, name="datetime")' in (
        odd_module()
    )
    flat = " ".join(odd_module().split())
    assert "def p( self, self_: Any, timeout_: Any, class_: Any, min_: Any," in flat


def test_the_same_schema_gives_the_same_text() -> None:
    # the node's order of entries does not matter either
    one = write_module(
        schema_from_info("odd", ODD_TYPES, ODD_ENUMS, ODD_PROCEDURES), "n:1"
    )
    two = write_module(
        schema_from_info("odd", ODD_TYPES[::-1], ODD_ENUMS[::-1], ODD_PROCEDURES[::-1]),
        "n:1",
    )
    assert one == two


SMALL_TYPES = [
    {
        "name": "Book",
        "fields": [["title", "str"], ["by", "Author?"], ["tags", "[str]"]],
        "relations": {},
    },
    {"name": "Author", "fields": [["name", "str"]]},
]


@pytest.mark.parametrize("dataclasses", [False, True])
def test_both_kinds_of_module_read_results(
    dataclasses: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = schema_from_info("small", SMALL_TYPES, [], [])
    path = tmp_path / f"small_{'dc' if dataclasses else 'structs'}.py"
    path.write_text(write_module(schema, "n:1", Options(dataclasses=dataclasses)))
    m = load(path, monkeypatch)
    payload = msgspec.msgpack.encode(
        [{"#": 5, "title": "T", "by": {"#": 6}, "tags": []}, {"#": 7}]
    )
    first, second = result_decoder(list_of(m.Book)).decode(payload)
    assert (first.title, first.by.name, second.title) == ("T", UNSET, UNSET)
    if not dataclasses:
        assert (first.id, first.by.id, second.id) == (5, 6, 7)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ([], "give the collection with -s //NAME"),
        (["-s", "@thingsdb"], "@thingsdb is not a collection scope"),
        (["-s", "stuff", "--id-field", "1x"], "--id-field: '1x' is not a name"),
    ],
)
def test_bad_usage_is_status_2_before_connecting(
    argv: list[str],
    says: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("THINGSDB_SCOPE", raising=False)
    monkeypatch.delenv("THINGSDB_URL", raising=False)
    assert codegen_main(argv) == 2
    assert says in capsys.readouterr().err


# -- against a real node ---------------------------------------------------------------

SCHEMA = """\
set_enum('Color', {RED: 'r', GREEN: 'g'});
set_enum('Level', {LOW: 1, HIGH: 2});
set_enum('Odd', {A: 1.5, B: 2.5});
new_type('Author');
new_type('Book');
set_type('Author', {name: 'str', books: '{Book}'});
set_type('Book', {
    title: 'str', pages: 'int?', tags: '[str]', color: 'Color',
    added: 'datetime', score: 'int<0:10>', ratio: 'float', ok: 'bool',
    raw: 'bytes', any_: 'any', th: 'thing', by: 'Author?', authors: '{Author}',
    lv: 'Level?', ts: 'timeval', rx: 'regex', num: 'number', u: 'uint',
    pi: 'pint', nn: 'nint', ul: 'utf8', ra: 'raw', cl: 'closure?',
    s2: 'str<1:20>', f2: 'float<0:1>', ls2: '[int?]?', class: 'str',
    datetime: 'int', odd: 'Odd?',
});
mod_type('Book', 'rel', 'authors', 'books');
set_type('_Summary', {title: 'str', by: 'Author?'}, true);
set_type('Tagged', {key: '#', name: 'str'});
.books = [];
new_procedure('add_book', |v| {
    "Store a book from msgspec.to_builtins() of a generated Book.";
    b = Book{
        title: v.title, pages: v.pages, tags: v.tags, color: Color(v.color),
        added: datetime(v.added), score: v.score, ratio: v.ratio, ok: v.ok,
        raw: v.raw, any_: v.any_, th: v.th,
        lv: is_nil(v.lv) ? nil : Level(v.lv), ts: timeval(v.ts),
        rx: regex('a+', 'i'), num: v.num, u: v.u, pi: v.pi, nn: v.nn,
        ul: v.ul, ra: v.ra, s2: v.s2, f2: v.f2, ls2: v.ls2, class: v.class,
        datetime: v.datetime,
    };
    .books.push(b);
    b.id();
});
new_procedure('count_books', |min| {
    "Count the books of more than min pages.";
    .books.filter(|b| is_int(b.pages) && b.pages > min).len();
});
"""

USER_CODE = """\
from __future__ import annotations

from thingsdb.client import Client
from thingsdb.sync import Client as SyncClient

import {module} as m


async def titles(client: Client) -> list[str]:
    books = await client.typed(list[m.Book]).query(".books")
    one: m.Book = await client.idempotent.typed(m.Book).run("b", 1)
    del one
    return [b.title for b in books if isinstance(b.title, str)]


def count(client: SyncClient) -> int:
    n: int = m.BlockingProcedures(client).count_books(0)
    books = client.typed(list[m.Book]).query(".books")
    return n + len(books)


async def wrong(client: Client) -> int:
    return await client.typed(list[m.Book]).query(".books")  # the one error
"""


def generate(
    node: Node, collection: str, out: Path, *flags: str, status: int = 0
) -> str:
    """Run the command; its stderr."""
    host, port = node.address
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "thingsdb",
            "codegen",
            "-n",
            host,
            "-p",
            str(port),
            "-s",
            f"//{collection}",
            "-o",
            str(out),
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == status, done.stderr
    return done.stderr


def load(path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The generated module (Any to mypy: its classes are made at run time;
    the mypy test above checks code that imports it)."""
    monkeypatch.syspath_prepend(str(path.parent))
    return importlib.import_module(path.stem)


@pytest.fixture
def generated(
    thingsdb_node: Node,
    thingsdb_sync_client: SyncClient,
    thingsdb_collection: str,
    tmp_path: Path,
) -> Path:
    thingsdb_sync_client.query(SCHEMA)
    out = tmp_path / f"models_{uuid.uuid4().hex[:8]}.py"
    generate(thingsdb_node, thingsdb_collection, out)
    return out


@pytest.mark.node
@pytest.mark.timeout(180)
def test_generated_module_passes_mypy_strict_and_ruff(
    generated: Path,
    thingsdb_node: Node,
    thingsdb_collection: str,
    tmp_path: Path,
) -> None:
    text = generated.read_text()
    assert f"from //{thingsdb_collection} on {thingsdb_node.address[0]}:" in text
    # stable: the command again leaves the file as it is
    before = generated.stat().st_mtime_ns
    generate(thingsdb_node, thingsdb_collection, generated)
    assert (generated.read_text(), generated.stat().st_mtime_ns) == (text, before)
    missing = generate(thingsdb_node, "no_such_one", tmp_path / "x.py", status=2)
    assert "//no_such_one: collection `no_such_one` not found" in missing
    dc = tmp_path / "models_dc.py"
    generate(thingsdb_node, thingsdb_collection, dc, "--dataclasses")
    user = tmp_path / "user_code.py"
    user.write_text(USER_CODE.format(module=generated.stem))
    ruff = [sys.executable, "-m", "ruff"]
    config = ["--config", str(ROOT / "pyproject.toml")]
    for command in (
        [*ruff, "check", *config, str(generated), str(dc)],
        [*ruff, "format", "--check", *config, str(generated), str(dc)],
    ):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            str(generated),
            str(dc),
            str(user),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    # the one error is the one the user code makes on purpose: mypy knows
    # the typed result's type
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, done.stdout
    (line,) = [
        i for i, text in enumerate(USER_CODE.splitlines()) if "# the one error" in text
    ]
    assert f"user_code.py:{line + 1}: error: Incompatible return value" in errors[0]
    assert '(got "list[Book]", expected "int")' in errors[0]


def list_of(tp: Any) -> Any:
    """``list[tp]`` of a class made at run time (mypy takes no such class
    in ``list[...]``)."""
    return GenericAlias(list, (tp,))


def new_book(m: Any) -> Any:
    return m.Book(
        title="Typed",
        pages=None,
        tags=["a", "b"],
        color=m.Color.GREEN,
        added=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        score=7,
        ratio=0.5,
        ok=True,
        raw=b"\x00\xff",
        any_=[1, "x", None],
        th={"k": 1},
        by=None,
        authors=[],
        lv=m.Level.HIGH,
        ts=1700000000,
        rx="/a+/i",
        num=2.5,
        u=3,
        pi=4,
        nn=-5,
        ul="\u00fc",
        ra="r",
        cl=None,
        s2="abc",
        f2=0.25,
        ls2=[1, None],
        class_="c",
        datetime_=9,
        odd=None,
    )


@pytest.mark.node
@pytest.mark.timeout(60)
def test_every_definition_round_trips_blocking(
    generated: Path,
    thingsdb_sync_client: SyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m = load(generated, monkeypatch)
    client = thingsdb_sync_client
    book = new_book(m)
    key = client.run("add_book", msgspec.to_builtins(book, builtin_types=(bytes,)))
    # depth 2: the thing in `th` in full (with its own id)
    back = client.typed(m.Book).query("return thing(key), 2;", key=key)
    assert back.th == {"#": back.th["#"], "k": 1}
    assert back == msgspec.structs.replace(book, id=key, th=back.th)
    # procedures: with side effects through run(), without through idempotent
    assert m.BlockingProcedures(client).count_books(-1) == 0  # pages is nil
    assert client.typed(int).run("count_books", -1) == 0
    # relations at depth: the far side is the thing's id alone (UNSET fields)
    client.query(".ann = Author{name: 'Ann'}; thing(key).authors.add(.ann);", key=key)
    books = client.typed(list_of(m.Book)).query("return .books, 2;")
    (author,) = books[0].authors
    assert author.name == "Ann"
    assert author.books == [m.Book(id=key)]
    assert author.books[0].title is msgspec.UNSET
    # the wrap-only type, the '#' field
    summary = client.typed(list_of(m._Summary)).query(".books.map_wrap('_Summary');")
    assert summary == [m._Summary(id=key, title="Typed", by=None)]
    tagged = client.typed(m.Tagged).query(".tagged = Tagged{name: 't'};")
    assert tagged.name == "t"
    assert isinstance(tagged.key, int)
    # a result that does not fit
    with pytest.raises(ResultTypeError) as info:
        client.typed(list_of(m.Book)).query("[{title: 't'}, {title: 5}];")
    assert str(info.value) == "$[1].title: expected str, got int"
    assert client.query("1 + 1;") == 2  # the connection is fine


@pytest.mark.node
@pytest.mark.timeout(60)
async def test_every_definition_round_trips_asyncio(
    generated: Path,
    thingsdb_client: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m = load(generated, monkeypatch)
    client = thingsdb_client
    book = new_book(m)
    key = await m.Procedures(client).add_book(
        msgspec.to_builtins(book, builtin_types=(bytes,))
    )
    back = await client.idempotent.typed(m.Book).query("return thing(key), 2;", key=key)
    assert back == msgspec.structs.replace(book, id=key, th=back.th)
    assert await m.Procedures(client).count_books(-1) == 0
    assert await client.typed(int).run("count_books", -1) == 0
    with pytest.raises(ResultTypeError, match=r"^\$\[1\]\.title: expected str"):
        await client.typed(list_of(m.Book)).query("[{title: 't'}, {title: 5}];")
    # a type the decoder cannot take: refused at the call, nothing sent
    with pytest.raises(TypeError, match="cannot read results into"):
        client.typed(object.__new__)
    assert await client.query("1 + 1;") == 2


class Item(msgspec.Struct):
    n: int
    key: int | None = msgspec.field(default=None, name="#")


@pytest.mark.node
@pytest.mark.timeout(60)
async def test_typed_over_every_transport(client: Client, collection: str) -> None:
    """TCP, WebSocket on picows and on websockets (the `client` fixture):
    one answer per read or several, typed and plain side by side."""
    scope = f"//{collection}"
    await client.query(".items = range(500).map(|n| {n: n});", scope=scope)
    view = client.typed(list[Item])
    found = await asyncio.gather(
        *(view.query(".items", scope=scope) for _ in range(20)),
        *(client.query(".items.len()", scope=scope) for _ in range(20)),
    )
    assert all(len(items) == 500 and items[7].n == 7 for items in found[:20])
    assert found[20:] == [500] * 20
    assert isinstance(found[0][0].key, int)
