"""The error classes and error_from_data."""

from __future__ import annotations

import asyncio
import builtins
import pickle

import pytest

from thingsdb import exceptions as exc
from thingsdb.protocol import Package, PackageType

# every code listed in protocol.md, with the class it must map to
BUILT_IN_CODES: list[tuple[int, type[exc.ThingsDBError]]] = [
    (-64, exc.CancelledError),
    (-63, exc.OperationError),
    (-62, exc.NumArgumentsError),
    (-61, exc.TypeError),
    (-60, exc.ValueError),
    (-59, exc.OverflowError),
    (-58, exc.ZeroDivisionError),
    (-57, exc.MaxQuotaError),
    (-56, exc.AuthError),
    (-55, exc.ForbiddenError),
    (-54, exc.LookupError),
    (-53, exc.BadDataError),
    (-52, exc.SyntaxError),
    (-51, exc.NodeError),
    (-50, exc.AssertionError),
    (-6, exc.ResultTooLargeError),
    (-5, exc.RequestTimeoutError),
    (-4, exc.RequestCancelError),
    (-3, exc.WriteUVError),
    (-2, exc.MemoryError),
    (-1, exc.InternalError),
]

BUILTIN_TWINS: list[tuple[type[exc.ThingsDBError], type[BaseException]]] = [
    (exc.LookupError, builtins.LookupError),
    (exc.TypeError, builtins.TypeError),
    (exc.ValueError, builtins.ValueError),
    (exc.OverflowError, builtins.OverflowError),
    (exc.ZeroDivisionError, builtins.ZeroDivisionError),
    (exc.AssertionError, builtins.AssertionError),
    (exc.MemoryError, builtins.MemoryError),
    (exc.SyntaxError, builtins.SyntaxError),
]


@pytest.mark.parametrize(("code", "cls"), BUILT_IN_CODES)
def test_error_from_data_maps_built_in_codes(
    code: int, cls: type[exc.ThingsDBError]
) -> None:
    err = exc.error_from_data({"error_code": code, "error_msg": f"msg {code}"})
    assert type(err) is cls
    assert isinstance(err, exc.ThingsDBError)
    assert err.error_code == code
    assert err.error_msg == f"msg {code}"
    assert cls.code == code
    assert err.args == (f"msg {code}",)


def test_every_code_has_a_distinct_class() -> None:
    classes = [cls for _, cls in BUILT_IN_CODES]
    assert len(set(classes)) == len(classes)


@pytest.mark.parametrize("code", [-100, -127, -65, -49, -7, 0, 5])
def test_unknown_code_gives_custom_error(code: int) -> None:
    err = exc.error_from_data({"error_code": code, "error_msg": "user error"})
    assert type(err) is exc.CustomError
    assert err.error_code == code
    assert err.error_msg == "user error"
    assert str(err) == "user error"


@pytest.mark.parametrize(
    "data",
    [
        None,
        "boom",
        42,
        [-54, "x"],
        {},
        {"error_code": -54},
        {"error_msg": "x"},
        {"error_code": "-54", "error_msg": "x"},
        {"error_code": -54, "error_msg": b"x"},
        {"error_code": -54.0, "error_msg": "x"},
    ],
)
def test_malformed_error_payload_gives_custom_error(data: object) -> None:
    err = exc.error_from_data(data)
    assert type(err) is exc.CustomError
    assert isinstance(err.error_code, int)
    assert "malformed" in err.error_msg
    assert repr(data) in err.error_msg


def test_extra_keys_are_ignored() -> None:
    err = exc.error_from_data({"error_code": -60, "error_msg": "bad", "x": 1})
    assert type(err) is exc.ValueError
    assert err.error_code == -60


@pytest.mark.parametrize(("cls", "builtin"), BUILTIN_TWINS)
def test_classes_named_after_builtins_are_those_builtins(
    cls: type[exc.ThingsDBError], builtin: type[BaseException]
) -> None:
    assert issubclass(cls, builtin)
    assert cls.__name__ == builtin.__name__
    err = exc.error_from_data({"error_code": cls.code, "error_msg": "m"})
    assert isinstance(err, builtin)
    with pytest.raises(builtin):
        raise err


def test_except_lookup_error_catches_the_node_error() -> None:
    caught: BaseException | None = None
    try:
        raise exc.error_from_data({"error_code": -54, "error_msg": "no such thing"})
    except builtins.LookupError as e:
        caught = e
    assert isinstance(caught, exc.LookupError)


def test_cancelled_error_is_not_asyncio_cancelled() -> None:
    err = exc.error_from_data({"error_code": -64, "error_msg": "cancelled"})
    assert isinstance(err, exc.CancelledError)
    assert not isinstance(err, asyncio.CancelledError)
    assert not issubclass(exc.CancelledError, asyncio.CancelledError)
    assert isinstance(err, Exception)


def test_no_error_class_is_a_cancelled_error() -> None:
    for name in exc.__all__:
        obj = getattr(exc, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert not issubclass(obj, asyncio.CancelledError), name
            assert issubclass(obj, Exception), name


@pytest.mark.parametrize(
    "cls", [exc.ConnectionLostError, exc.NotConnectedError, exc.ProtocolError]
)
def test_connection_errors(cls: type[Exception]) -> None:
    assert issubclass(cls, builtins.ConnectionError)
    assert issubclass(cls, OSError)
    assert not issubclass(cls, exc.ThingsDBError)


def test_timeout_error() -> None:
    assert issubclass(exc.TimeoutError, builtins.TimeoutError)
    assert issubclass(exc.TimeoutError, asyncio.TimeoutError)
    assert not issubclass(exc.TimeoutError, exc.ThingsDBError)
    assert exc.TimeoutError is not builtins.TimeoutError
    with pytest.raises(asyncio.TimeoutError):
        raise exc.TimeoutError("slow")


def test_protocol_error_attributes() -> None:
    err = exc.ProtocolError("bad")
    assert str(err) == "bad"
    assert err.payload is None
    assert err.packages == []
    err2 = exc.ProtocolError("bad", payload=b"\x92")
    assert err2.payload == b"\x92"


@pytest.mark.parametrize(("code", "cls"), BUILT_IN_CODES)
def test_pickle_round_trip(code: int, cls: type[exc.ThingsDBError]) -> None:
    err = exc.error_from_data({"error_code": code, "error_msg": "message é"})
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    assert back.error_code == code
    assert back.error_msg == "message é"
    assert str(back) == "message é"


def test_pickle_custom_error_keeps_code() -> None:
    err = exc.error_from_data({"error_code": -100, "error_msg": "custom"})
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is exc.CustomError
    assert back.error_code == -100
    assert back.error_msg == "custom"


def test_pickle_protocol_error_keeps_payload_and_packages() -> None:
    err = exc.ProtocolError("bad", payload=b"\xc1")
    err.packages = [Package(1, PackageType.OK, None)]
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is exc.ProtocolError
    assert str(back) == "bad"
    assert back.payload == b"\xc1"
    assert back.packages == [Package(1, PackageType.OK, None)]


def test_str_of_syntax_error_is_the_message() -> None:
    msg = "error at line 1, position 3, unexpected character `?`"
    err = exc.error_from_data({"error_code": -52, "error_msg": msg})
    assert str(err) == msg
    assert err.error_msg == msg


def test_str_of_node_errors_is_the_message() -> None:
    for code, _ in BUILT_IN_CODES:
        err = exc.error_from_data({"error_code": code, "error_msg": "the msg"})
        assert str(err) == "the msg"


def test_direct_construction_uses_the_class_code() -> None:
    err = exc.LookupError("not found")
    assert err.error_code == -54
    assert err.error_msg == "not found"
    assert str(err) == "not found"
    base = exc.ThingsDBError()
    assert base.error_code == 0
    assert base.error_msg == ""
    assert exc.CustomError("x").error_code == 0
