"""Request payload encoding and the checks that keep bad input off the wire."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from thingsdb.protocol import (
    auth_payload,
    check_name,
    check_scope,
    decode,
    encode,
    query_payload,
    run_payload,
)


def unpack(raw: bytes) -> Any:
    return msgspec.msgpack.decode(raw)


# --- query ------------------------------------------------------------------


def test_query_without_variables() -> None:
    raw = query_payload("@:stuff", "1 + 1;", {})
    assert unpack(raw) == ["@:stuff", "1 + 1;"]
    # a two-element array of two str (never bin)
    assert raw[0] == 0x92
    assert raw[1] == 0xA0 | len("@:stuff")


def test_query_with_variables() -> None:
    variables = {"a": 1, "_b2": [1, "x", None], "Name": {"k": b"\x00"}}
    assert unpack(query_payload("//stuff", "a;", variables)) == [
        "//stuff",
        "a;",
        variables,
    ]


def test_query_payload_strings_are_str_not_bin() -> None:
    decoded = unpack(query_payload("@t", "code", {"v": "s"}))
    assert all(type(x) is str for x in decoded[:2])


@pytest.mark.parametrize("name", ["1a", "a-b", "", "a" * 256, "é", "a b", "a.b"])
def test_query_bad_variable_name(name: str) -> None:
    with pytest.raises(ValueError, match="not a valid ThingsDB name"):
        query_payload("@t", "x;", {name: 1})


@pytest.mark.parametrize("name", [1, None, b"a", ("a",)])
def test_query_non_str_variable_name(name: Any) -> None:
    with pytest.raises(TypeError):
        query_payload("@t", "x;", {name: 1})


def test_query_longest_variable_name() -> None:
    name = "v" * 255
    assert unpack(query_payload("@t", "x;", {name: 1})) == ["@t", "x;", {name: 1}]


@pytest.mark.parametrize("code", [b"1;", None, 1, ["1;"]])
def test_query_non_str_code(code: Any) -> None:
    with pytest.raises(TypeError, match="code"):
        query_payload("@t", code, {})


# --- run --------------------------------------------------------------------


def test_run_without_arguments() -> None:
    assert unpack(run_payload("@:stuff", "proc", (), {})) == ["@:stuff", "proc"]


@pytest.mark.parametrize("args", [(1, "two", [3]), [1, "two", [3]]])
def test_run_positional(args: Any) -> None:
    assert unpack(run_payload("@:stuff", "proc", args, {})) == [
        "@:stuff",
        "proc",
        [1, "two", [3]],
    ]


def test_run_named() -> None:
    assert unpack(run_payload("/t", "proc", (), {"a": 1, "b_2": "x"})) == [
        "/t",
        "proc",
        {"a": 1, "b_2": "x"},
    ]


def test_run_with_args_and_kwargs() -> None:
    with pytest.raises(TypeError, match="not both"):
        run_payload("@t", "proc", (1,), {"a": 2})


@pytest.mark.parametrize("name", ["1a", "a-b", "", "a" * 256])
def test_run_bad_argument_name(name: str) -> None:
    with pytest.raises(ValueError, match="argument name"):
        run_payload("@t", "proc", (), {name: 1})


def test_run_non_str_argument_name() -> None:
    kwargs: dict[Any, Any] = {1: 1}
    with pytest.raises(TypeError):
        run_payload("@t", "proc", (), kwargs)


@pytest.mark.parametrize("procedure", [b"proc", None, 5])
def test_run_non_str_procedure(procedure: Any) -> None:
    with pytest.raises(TypeError, match="procedure"):
        run_payload("@t", procedure, (), {})


# --- scope ------------------------------------------------------------------


@pytest.mark.parametrize(
    "scope", ["@thingsdb", "@t", "@node", "@n", "@node:3", "@:stuff", "/t", "//x"]
)
def test_good_scopes(scope: str) -> None:
    assert check_scope(scope) == scope
    assert unpack(query_payload(scope, "1;", {}))[0] == scope
    assert unpack(run_payload(scope, "p", (), {}))[0] == scope


@pytest.mark.parametrize("scope", ["thingsdb", "", " @t", "collection:stuff"])
def test_scope_must_start_with_at_or_slash(scope: str) -> None:
    with pytest.raises(ValueError, match="is not a ThingsDB scope"):
        query_payload(scope, "1;", {})
    with pytest.raises(ValueError, match="is not a ThingsDB scope"):
        run_payload(scope, "p", (), {})


@pytest.mark.parametrize("scope", [b"@t", None, 1, ["@t"]])
def test_non_str_scope(scope: Any) -> None:
    with pytest.raises(TypeError, match="scope"):
        query_payload(scope, "1;", {})
    with pytest.raises(TypeError, match="scope"):
        run_payload(scope, "p", (), {})


# --- names ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "_", "A_1", "_9", "x" * 255, "abc_DEF_123"])
def test_check_name_good(name: str) -> None:
    assert check_name("variable name", name) == name


@pytest.mark.parametrize(
    "name", ["1a", "a-b", "", "x" * 256, "a\n", "\na", "ä", "a$", "a b"]
)
def test_check_name_bad(name: str) -> None:
    with pytest.raises(ValueError, match="variable name"):
        check_name("variable name", name)


@pytest.mark.parametrize("name", [1, None, b"abc", 1.5])
def test_check_name_not_str(name: object) -> None:
    with pytest.raises(TypeError, match="must be a str"):
        check_name("variable name", name)


# --- auth -------------------------------------------------------------------


def test_auth_token() -> None:
    token = "Fai6NmH7QYxA6WLYPdtgcy"
    raw = auth_payload(token)
    assert unpack(raw) == token
    assert raw[0] == 0xA0 | 22  # fixstr, not bin


@pytest.mark.parametrize("creds", [("admin", "pass"), ("user", "")])
def test_auth_user_password(creds: tuple[str, str]) -> None:
    assert unpack(auth_payload(creds)) == list(creds)


# --- values -----------------------------------------------------------------


def _fn() -> None:
    return None


@dataclasses.dataclass
class _Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [object(), _fn, len, type, 1j, _Point(1), uuid.UUID(int=1), decimal.Decimal(1)],
)
def test_unserialisable_values(value: Any) -> None:
    with pytest.raises(TypeError, match="cannot send this value"):
        query_payload("@t", "x;", {"x": value})
    with pytest.raises(TypeError, match="cannot send this value"):
        run_payload("@t", "p", (value,), {})
    with pytest.raises(TypeError, match="cannot send this value"):
        run_payload("@t", "p", (), {"x": [1, {"y": value}]})


class _Color(enum.IntEnum):
    RED = 1


class _Name(str):
    pass


def test_int_enum_members_go_as_their_values() -> None:
    payload = query_payload("@t", "x;", {"c": _Color.RED})
    assert unpack(payload)[2] == {"c": 1}


def test_other_subclasses_are_refused_by_the_codec() -> None:
    with pytest.raises(TypeError, match=r"cannot send this value.*_Name"):
        query_payload("@t", "x;", {"n": _Name("ann")})


@pytest.mark.parametrize("value", [{3, 1, 2}, frozenset({1}), set()])
def test_sets_are_refused_as_python_thingsdb_refuses_them(value: Any) -> None:
    """msgspec would send a set as an array; python-thingsdb's codec refuses
    it, and so does this one, wherever it hides."""
    with pytest.raises(TypeError, match=r"cannot send this value.*list"):
        query_payload("@t", "x;", {"x": value})
    with pytest.raises(TypeError, match="cannot send this value"):
        run_payload("@t", "p", (1, [2, {"k": [value]}]), {})
    with pytest.raises(TypeError, match="cannot send this value"):
        run_payload("@t", "p", (), {"k": (value,)})


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**30])
def test_ints_out_of_range_are_value_errors(value: int) -> None:
    with pytest.raises(ValueError, match=r"cannot send this value.*64-bit"):
        query_payload("@t", "x;", {"x": value})
    with pytest.raises(ValueError, match="out of range"):
        run_payload("@t", "p", ([value],), {})
    # not the built-in OverflowError that msgspec raises
    with pytest.raises(ValueError, match="out of range") as info:
        run_payload("@t", "p", (value,), {})
    assert not isinstance(info.value, OverflowError)


@pytest.mark.parametrize("value", [2**64 - 1, 2**63 - 1, -(2**63), 0, -1])
def test_ints_in_range(value: int) -> None:
    assert unpack(query_payload("@t", "x;", {"x": value}))[2] == {"x": value}


def test_deeply_nested_value_is_a_clean_value_error() -> None:
    root: list[Any] = []
    cur = root
    for _ in range(100_000):
        nxt: list[Any] = []
        cur.append(nxt)
        cur = nxt
    with pytest.raises(ValueError, match="nested too deeply"):
        query_payload("@t", "x;", {"x": root})
    with pytest.raises(ValueError, match="nested too deeply"):
        run_payload("@t", "p", (root,), {})
    # the encoder is still usable afterwards
    assert unpack(query_payload("@t", "x;", {"x": [[1]]}))[2] == {"x": [[1]]}


def test_encode_decode_roundtrip() -> None:
    value = {"a": [1, -2, 3.5, "s", b"b", None, True, False], "b": {}}
    assert decode(encode(value)) == value
    assert decode(memoryview(encode(value))) == value


# --- datetimes: one rule, checked at the call --------------------------------


@pytest.mark.parametrize(
    "moment",
    [
        datetime.datetime(2030, 1, 31, 12, 0),  # naive
        datetime.datetime(2030, 1, 31, 12, 0, tzinfo=datetime.timezone.utc),
        datetime.date(2030, 1, 31),
        datetime.time(12, 0),
        datetime.timedelta(seconds=5),
    ],
)
def test_every_date_and_time_is_refused_with_the_way_to_send_it(
    moment: object,
) -> None:
    makers: list[Callable[[], bytes]] = [
        lambda: query_payload("@t", "x", {"x": moment}),
        lambda: query_payload("@t", "x", {"x": [[moment]]}),
        lambda: query_payload("@t", "x", {"x": [1] * 20 + [moment]}),  # many
        lambda: run_payload("@t", "p", (moment,), {}),
        lambda: encode({"when": moment}),
    ]
    for make in makers:
        with pytest.raises(TypeError) as info:
            make()
        text = str(info.value)
        assert f"a datetime.{type(moment).__name__}: " in text
        assert "ThingsDB takes no date or time value from a client" in text
        assert "dt.timestamp()" in text
        assert "datetime(x)" in text


def test_the_list_of_values_taken_names_no_datetime() -> None:
    with pytest.raises(TypeError) as info:
        encode(decimal.Decimal(1))
    assert "datetime" not in str(info.value)
