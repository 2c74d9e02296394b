"""Credentials as the HTTP API takes them: an ``Authorization`` header sent
with every request (the API keeps no session).

The forms accepted are the socket clients' ``authenticate()`` forms
(:func:`thingsdb.client.credentials.parse_credentials`): a token, or a user
name and password. A token goes as ``Bearer <token>``, a user as ``Basic``
with ``user:password`` in base64 (UTF-8), the forms the node reads.
"""

from __future__ import annotations

import base64

from ..engine.credentials import Credentials, parse_credentials


def credentials(auth: object) -> Credentials:
    """``auth=`` of the HTTP clients: a token (str) or a ``(user,
    password)`` tuple; TypeError/ValueError otherwise."""
    if isinstance(auth, (tuple, list)):
        return parse_credentials(tuple(auth))
    return parse_credentials((auth,))


def authorization(creds: Credentials) -> str:
    """The ``Authorization`` header's value."""
    if creds.user is None:
        return f"Bearer {creds.secret}"
    if ":" in creds.user:
        # basic auth splits at the first colon: such a user cannot log in
        raise ValueError(
            "a user name with ':' cannot log in over HTTP basic auth; use a token"
        )
    pair = f"{creds.user}:{creds.secret}".encode()
    return f"Basic {base64.b64encode(pair).decode('ascii')}"
