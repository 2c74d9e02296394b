"""The shell's list of built-in function names against a real node.

A node cannot list its functions, so the shell keeps a static list
(``thingsdb.shell.builtin_names``). This test asks the node about every
name: a call whose argument raises shows whether the node knows the name
(any error but "is undefined" / "has no function") without running it.
A list that drifts from the node (a function renamed or dropped) fails here.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import msgspec
import pytest

import realnode
from thingsdb.client import Client
from thingsdb.exceptions import LookupError as TiLookupError
from thingsdb.exceptions import ThingsDBError
from thingsdb.shell.builtin_names import FUNCTIONS, METHODS, METHODS_BY_TYPE

pytestmark = [pytest.mark.node, pytest.mark.timeout(60)]

#: evaluated first by every function that takes arguments; functions that
#: take none refuse the argument: either way nothing runs
PROBE = "raise('probe')"

#: a value of every type (by the name type() gives it) to call each method
#: on; set up in the collection, ``mp`` is a variable holding mpdata
RECEIVERS = {
    "nil": "nil",
    "true": "bool",
    "1": "int",
    "1.5": "float",
    "'a'": "str",
    "bytes('a')": "bytes",
    "/a/": "regex",
    "||nil": "closure",
    "err()": "error",
    "[]": "list",
    ".tup[0]": "tuple",
    "set()": "set",
    "{}": "thing",
    "T{}": "T",
    "E{A}": "E",
    "ano({})": "<anonymous>",
    "{}.wrap('T')": "<T>",
    "datetime()": "datetime",
    "timeval()": "timeval",
    "room()": "room",
    ".tsk": "task",
    "future(||nil)": "future",
    "mp": "mpdata",
}

#: the answer for a method a value does not have (the node words it a few
#: ways, and for ``set_args`` names another function)
_NO_METHOD = re.compile(
    r"(type|thing|enum) `[^`]*` has no (function|method|property or method) `\w+`"
)

#: mpdata: MessagePack the node keeps as it is (ext type 0)
MPDATA = msgspec.msgpack.Ext(0, msgspec.msgpack.encode({"a": 1}))


@pytest.fixture
async def probe_client(node: realnode.Node, collection: str) -> AsyncIterator[Client]:
    client = Client()
    await client.connect(*node.address, timeout=10)
    try:
        await client.authenticate(node.user, node.password, timeout=10)
        client.set_default_scope(f"//{collection}")
        await client.query(
            ".tup = [[1]]; .tsk = task(datetime(), ||nil);"
            "set_type('T', {}); set_enum('E', {A: 0}); nil"
        )
        yield client
    finally:
        await client.close_and_wait()


async def _function_known(client: Client, name: str) -> bool:
    try:
        await client.query(f"{name}({PROBE});")
    except TiLookupError as exc:
        return str(exc) != f"function `{name}` is undefined"
    except ThingsDBError:
        pass
    return True


async def _method_known(client: Client, name: str) -> bool:
    for receiver in RECEIVERS:
        try:
            await client.query(f"r = {receiver}; r.{name}({PROBE});", mp=MPDATA)
        except TiLookupError as exc:
            if not _NO_METHOD.fullmatch(str(exc)):
                return True
        except ThingsDBError:
            return True
        else:
            return True
    return False


async def test_the_receivers_are_all_valid(probe_client: Client) -> None:
    for receiver, type_name in RECEIVERS.items():
        code = f"r = {receiver}; type(r);"
        assert await probe_client.query(code, mp=MPDATA) == type_name


async def test_every_listed_function_exists(probe_client: Client) -> None:
    assert not await _function_known(probe_client, "no_such_function_here")
    assert not await _function_known(probe_client, "keys")  # a method only
    unknown = [
        n for n in sorted(FUNCTIONS) if not await _function_known(probe_client, n)
    ]
    assert unknown == [], f"the node has no function {unknown}"


async def test_every_listed_method_exists(probe_client: Client) -> None:
    assert not await _method_known(probe_client, "no_such_method_here")
    assert not await _method_known(probe_client, "now")  # a function only
    unknown = [n for n in sorted(METHODS) if not await _method_known(probe_client, n)]
    assert unknown == [], f"no value on the node has a method {unknown}"


#: the kinds of METHODS_BY_TYPE named otherwise than type() names them
_KIND = {"T": "typed thing", "E": "enum member", "<T>": "wrapped thing"}


async def _has_method(client: Client, receiver: str, name: str) -> bool:
    try:
        await client.query(f"r = {receiver}; r.{name}({PROBE});", mp=MPDATA)
    except TiLookupError as exc:
        return not _NO_METHOD.fullmatch(str(exc))
    except ThingsDBError:
        pass
    return True


async def test_the_methods_of_each_kind_of_value(probe_client: Client) -> None:
    kinds = {_KIND.get(t, t): r for r, t in RECEIVERS.items() if t != "<anonymous>"}
    assert set(METHODS_BY_TYPE) == set(kinds)
    wrong: dict[str, tuple[list[str], list[str]]] = {}
    for kind, receiver in kinds.items():
        has = {m for m in METHODS if await _has_method(probe_client, receiver, m)}
        listed = METHODS_BY_TYPE[kind]
        if has != listed:
            wrong[kind] = (sorted(has - listed), sorted(listed - has))
    # (missing from the list, listed but absent) for each kind that drifted
    assert wrong == {}
