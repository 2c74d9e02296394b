"""Typed results without a node: the decoder per type, its cache, the
types refused at the call, ResultTypeError's path, the id mapping."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import pickle
from typing import Any, Optional, TypedDict

import msgspec
import pytest

from thingsdb.exceptions import ProtocolError, ResultTypeError, error_from_answer
from thingsdb.protocol import Package, PackageDecoder, PackageType, frame
from thingsdb.protocol.typed import (
    ResultDecoder,
    TypedPayload,
    check_result_type,
    result_decoder,
    result_type_error,
)


class Color(enum.Enum):
    RED = "r"
    GREEN = "g"


class Book(msgspec.Struct, kw_only=True):
    key: int | None = msgspec.field(default=None, name="#")
    title: str
    pages: int | None = None
    color: Color = Color.RED


@dataclasses.dataclass
class Page:
    number: int
    text: str = ""


class Row(TypedDict):
    title: str
    pages: int


# the functional form takes the key "#"
RowWithId = TypedDict("RowWithId", {"#": int, "title": str})


def pack(value: Any) -> bytes:
    return msgspec.msgpack.encode(value)


def test_struct_list_with_id_mapped_to_a_field() -> None:
    payload = pack([{"#": 12, "title": "A", "pages": 3, "color": "g"}])
    books = result_decoder(list[Book]).decode(payload)
    assert books == [Book(key=12, title="A", pages=3, color=Color.GREEN)]


def test_dataclass_typeddict_enum_optional_and_plain_types() -> None:
    assert result_decoder(Page).decode(pack({"number": 2})) == Page(2)
    row = result_decoder(Row).decode(pack({"title": "A", "pages": 1, "#": 4}))
    assert row == {"title": "A", "pages": 1}  # TypedDict: unknown keys dropped
    assert result_decoder(RowWithId).decode(pack({"#": 4, "title": "A"})) == {
        "#": 4,
        "title": "A",
    }
    assert result_decoder(Color).decode(pack("r")) is Color.RED
    assert result_decoder(Optional[Book]).decode(pack(None)) is None  # noqa: UP045
    assert result_decoder(datetime.datetime).decode(
        pack("2026-12-06T18:08:43Z")
    ) == datetime.datetime(2026, 12, 6, 18, 8, 43, tzinfo=datetime.timezone.utc)
    assert result_decoder(dict[str, list[int]]).decode(pack({"a": [1]})) == {"a": [1]}


def test_decoders_are_cached_per_type() -> None:
    assert result_decoder(list[Book]) is result_decoder(list[Book])
    one: object = result_decoder(Book)
    assert one is not result_decoder(list[Book])


def test_decodes_from_a_memoryview() -> None:
    buf = bytearray(b"\x00" * 8 + pack({"number": 5}))
    assert result_decoder(Page).decode(memoryview(buf)[8:]) == Page(5)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            [{"title": "a", "pages": 1}] * 3 + [{"title": "b", "pages": "x"}],
            "$[3].pages: expected int | null, got str",
        ),
        ([{"#": 1}], "$[0]: object missing required field title"),
        (5, "$: expected array, got int"),
        ([{"title": "a", "color": "blue"}], "$[0].color: invalid enum value 'blue'"),
        ([{"title": "a", "#": "x"}], "$[0].#: expected int | null, got str"),
    ],
)
def test_a_result_that_does_not_fit_names_the_path(value: Any, message: str) -> None:
    with pytest.raises(ResultTypeError) as info:
        result_decoder(list[Book]).decode(pack(value))
    assert str(info.value) == message
    assert info.value.result_type == list[Book]
    assert isinstance(info.value, ValueError)
    assert info.value.path == message.split(":")[0]


def test_result_type_error_pickles_and_reads_messages_without_a_path() -> None:
    exc = result_type_error("Expected `int`, got `str`", int)
    assert (exc.path, exc.problem) == ("$", "expected int, got str")
    copy = pickle.loads(pickle.dumps(exc))
    assert (str(copy), copy.result_type) == (str(exc), int)


class NotAType:
    pass


class Nowhere(msgspec.Struct):
    x: Missing  # type: ignore[name-defined]  # noqa: F821 - the point


@pytest.mark.parametrize(
    ("tp", "says"),
    [
        (NotAType, "NotAType is not a type msgspec can build"),
        (list[NotAType], "NotAType is not a type msgspec can build"),
        (dict[str, Optional[NotAType]], "NotAType is not a type"),  # noqa: UP045
        (Book | Page, "unions may not contain more than one dict-like type"),
        (5, "cannot read results into 5"),
        ("Book", "cannot read results into 'Book'"),
        (Nowhere, "name 'Missing' is not defined"),
    ],
)
def test_a_type_the_decoder_cannot_take_is_a_type_error(tp: Any, says: str) -> None:
    with pytest.raises(TypeError, match="cannot read results into") as info:
        result_decoder(tp)
    assert says.lower() in str(info.value).lower()
    with pytest.raises(TypeError):
        check_result_type(tp)


class Holder(msgspec.Struct):
    inner: NotAType


def test_a_struct_with_a_field_of_a_custom_class_is_refused() -> None:
    with pytest.raises(TypeError, match=r"Holder: .*NotAType"):
        result_decoder(Holder)


class Node(msgspec.Struct):
    name: str
    kids: list[Node] = []


def test_recursive_types_are_taken() -> None:
    decoder: ResultDecoder[Node] = result_decoder(Node)
    tree = decoder.decode(pack({"name": "a", "kids": [{"name": "b"}]}))
    assert tree.kids[0].name == "b"


# -- the package decoder: typed answers, for both clients ------------------------------

DATA, ERROR = int(PackageType.DATA), int(PackageType.ERROR)


def test_the_package_decoder_reads_a_registered_pid_as_its_type() -> None:
    decoder = PackageDecoder()
    decoder.expect(7, result_decoder(list[Book]))
    stream = frame(7, DATA, pack([{"title": "A"}])) + frame(8, DATA, pack([1]))
    # whole, and split at every byte (the general path)
    assert decoder.feed(stream) == [
        Package(7, DATA, [Book(title="A")]),
        Package(8, DATA, [1]),
    ]
    assert decoder.feed(frame(7, DATA, pack([{"title": "A"}]))) == [
        Package(7, DATA, [{"title": "A"}])  # the entry went with the answer
    ]
    decoder.expect(9, result_decoder(Page))
    found: list[Package] = []
    for i in range(len(stream := frame(9, DATA, pack({"number": 3})))):
        found += decoder.feed(stream[i : i + 1])
    assert found == [Package(9, DATA, Page(3))]


def test_a_misfit_is_an_error_package_and_the_node_s_errors_stay_errors() -> None:
    decoder = PackageDecoder()
    decoder.expect(1, result_decoder(list[int]))
    decoder.expect(2, result_decoder(list[int]))
    decoder.expect(3, result_decoder(list[int]))
    error = {"error_code": -54, "error_msg": "nope"}
    (misfit,) = decoder.feed(frame(1, DATA, pack([1, "x"])))
    ((pid, tp, exc),) = [misfit]
    assert (pid, tp) == (1, ERROR)
    assert isinstance(exc, ResultTypeError)
    assert str(exc) == "$[1]: expected int, got str"
    assert error_from_answer(exc) is exc
    assert decoder.feed(
        frame(2, ERROR, pack(error)) + frame(3, int(PackageType.OK))
    ) == [
        Package(2, ERROR, error),
        Package(3, int(PackageType.OK), None),
    ]
    assert type(error_from_answer(error)).__name__ == "LookupError"


def test_a_typed_answer_that_is_no_messagepack_is_a_protocol_error() -> None:
    decoder = PackageDecoder()
    decoder.expect(1, result_decoder(list[int]))
    with pytest.raises(ProtocolError, match="cannot decode the payload"):
        decoder.feed(frame(1, DATA, b"\xc1"))


class Checked(msgspec.Struct):
    n: int

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ArithmeticError("negative")


def test_an_error_of_the_type_s_own_code_goes_to_the_caller() -> None:
    decoder = PackageDecoder()
    decoder.expect(1, result_decoder(Checked))
    ((_, tp, exc),) = decoder.feed(frame(1, DATA, pack({"n": -1})))
    assert tp == ERROR
    assert isinstance(exc, ArithmeticError)


def test_a_typed_payload_carries_its_decoder() -> None:
    decoder = result_decoder(list[Book])
    payload = TypedPayload.of(b"\x92\xa1a\xa1b", decoder)
    assert payload == b"\x92\xa1a\xa1b"
    assert payload.decoder is decoder
    assert frame(1, 0x22, payload)[8:] == payload


def test_a_pid_given_back_unanswered_is_forgotten() -> None:
    decoder = PackageDecoder()
    decoder.expect(3, result_decoder(list[int]))
    decoder.forget(3)
    decoder.forget(4)  # nothing expected: nothing to do
    assert decoder.feed(frame(3, DATA, pack(["x"]))) == [Package(3, DATA, ["x"])]
