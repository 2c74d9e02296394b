"""Credentials: checked once, kept for re-authentication, never shown."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Credentials:
    """A token, or a user name and password. The secret is left out of
    ``repr()`` so it cannot end up in a log or a traceback."""

    user: str | None
    secret: str = field(repr=False)

    def __repr__(self) -> str:
        if self.user is None:
            return "Credentials(token=***)"
        return f"Credentials(user={self.user!r}, password=***)"

    def payload(self) -> str | tuple[str, str]:
        return self.secret if self.user is None else (self.user, self.secret)


def parse_credentials(auth: tuple[object, ...]) -> Credentials:
    """Accept ``(token,)``, ``(user, password)`` or ``((user, password),)``."""
    if len(auth) == 1 and isinstance(auth[0], (tuple, list)):
        auth = tuple(auth[0])
    if len(auth) == 1:
        (token,) = auth
        if not isinstance(token, str):
            raise TypeError(f"a token must be a str, not {type(token).__name__}")
        if not token:
            raise ValueError("the token is empty")
        return Credentials(None, token)
    if len(auth) == 2:
        user, password = auth
        if not isinstance(user, str) or not isinstance(password, str):
            raise TypeError("user name and password must both be str")
        return Credentials(user, password)
    raise TypeError(
        "authenticate with a token, a user name and password, or a "
        f"(user, password) tuple; got {len(auth)} arguments"
    )
