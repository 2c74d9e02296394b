"""thingsdb.http against every release of the version tier: the HTTP API's
request format, auth header forms, status codes and error bodies read the
same on every node a user may run."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from test_real_node import BUILT_IN_ERRORS, VALUES
from thingsdb import exceptions as tdx
from thingsdb.http import LOGIN_REFUSED, Client
from thingsdb.testing import Node

pytestmark = [pytest.mark.node, pytest.mark.timeout(120)]

pytest.importorskip("httpx")


@pytest.fixture(scope="session")
def versioned(
    tier_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Node]:
    """A node of the release with its HTTP API on."""
    with Node(
        tier_binary, http_api=True, workdir=tmp_path_factory.mktemp("http")
    ) as node:
        yield node


@pytest.fixture
def client(versioned: Node) -> Iterator[Client]:
    with Client(versioned.http_url, auth=("admin", "pass")) as c:
        yield c


def test_values(client: Client) -> None:
    for value, expected in VALUES:
        assert client.query("v;", v=value) == expected
    assert client.query("range(10000);") == list(range(10000))


def test_errors(client: Client) -> None:
    for err, cls, code, msg in BUILT_IN_ERRORS:
        with pytest.raises(cls) as info:
            client.query(f"raise({err});")
        assert type(info.value) is cls
        assert info.value.error_code == code
        assert msg in info.value.error_msg
    with pytest.raises(tdx.ConnectionLostError, match="custom code"):
        client.query("raise(err(-100, 'mine'));")


def test_procedures_and_scopes(client: Client) -> None:
    client.query("new_procedure('add', |a, b| a + b);", scope="//stuff")
    assert client.run("add", 1, 2, scope="//stuff") == 3
    assert client.run("add", a=3, b=4, scope="@collection:stuff") == 7
    assert client.query("node_info().load().node_id;", scope="@node:0") == 0
    assert client.query("1;", scope="@t") == 1


def test_auth(versioned: Node, client: Client) -> None:
    token = client.query("new_token('admin');")
    with Client(versioned.http_url, auth=token) as by_token:
        assert by_token.query("'token';") == "token"
    with (
        Client(versioned.http_url, auth=("admin", "wrong")) as refused,
        pytest.raises(tdx.AuthError, match=re.escape(LOGIN_REFUSED)),
    ):
        refused.query("1;")
