"""parse_credentials and Credentials: shapes, payloads, no secret in repr."""

from __future__ import annotations

import pytest

from thingsdb.engine.credentials import Credentials, parse_credentials
from thingsdb.protocol import auth_payload, decode

TOKEN = "Fai6NmH7QYxA6WLYPdtgcy"
PASSWORD = "s3cr3t-Pa55word"


def test_token() -> None:
    cred = parse_credentials((TOKEN,))
    assert cred.user is None
    assert cred.secret == TOKEN
    assert cred.payload() == TOKEN
    assert decode(auth_payload(cred.payload())) == TOKEN


def test_user_and_password() -> None:
    cred = parse_credentials(("admin", PASSWORD))
    assert cred.user == "admin"
    assert cred.secret == PASSWORD
    assert cred.payload() == ("admin", PASSWORD)
    assert decode(auth_payload(cred.payload())) == ["admin", PASSWORD]


@pytest.mark.parametrize("pair", [("admin", PASSWORD), ["admin", PASSWORD]])
def test_user_password_tuple(pair: object) -> None:
    cred = parse_credentials((pair,))
    assert cred == Credentials("admin", PASSWORD)
    assert cred.payload() == ("admin", PASSWORD)


def test_empty_password_is_allowed() -> None:
    assert parse_credentials(("admin", "")).payload() == ("admin", "")


@pytest.mark.parametrize(
    "auth",
    [
        (),
        ("a", "b", "c"),
        ((),),
        (("a", "b", "c"),),
        (1,),
        (None,),
        (b"token",),
        ("admin", 1),
        (1, "pass"),
        ("admin", None),
        ((b"admin", "pass"),),
    ],
)
def test_wrong_shapes(auth: tuple[object, ...]) -> None:
    with pytest.raises(TypeError):
        parse_credentials(auth)


def test_empty_token() -> None:
    with pytest.raises(ValueError, match="empty"):
        parse_credentials(("",))


@pytest.mark.parametrize(
    "auth", [(TOKEN,), ("admin", PASSWORD), (("admin", PASSWORD),)]
)
def test_repr_never_shows_the_secret(auth: tuple[object, ...]) -> None:
    cred = parse_credentials(auth)
    for text in (repr(cred), str(cred), f"{cred}", repr([cred]), repr({"c": cred})):
        assert cred.secret not in text
        assert "***" in text


def test_repr_shows_the_user() -> None:
    assert repr(parse_credentials(("admin", PASSWORD))) == (
        "Credentials(user='admin', password=***)"
    )
    assert repr(parse_credentials((TOKEN,))) == "Credentials(token=***)"


def test_credentials_are_frozen() -> None:
    cred = parse_credentials((TOKEN,))
    with pytest.raises(AttributeError):
        cred.secret = "other"  # type: ignore[misc]
