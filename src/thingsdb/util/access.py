"""Access flags for grant() and revoke(), and collection names from scopes."""

from __future__ import annotations

import enum
import re

#: A collection name as the node accepts it.
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")


class Access(enum.IntFlag):
    """The privileges a user can have on a scope (the node's ``TI_AUTH_*``).

    Combine them with ``|``: ``Access.QUERY | Access.RUN``. Granting GRANT
    also grants CHANGE (the node adds it).
    """

    NO_ACCESS = 0
    #: run queries that change nothing
    QUERY = 0x01
    #: run queries that change data
    CHANGE = 0x02
    #: grant and revoke privileges
    GRANT = 0x04
    #: join and leave rooms
    JOIN = 0x08
    #: run procedures
    RUN = 0x10
    #: everything but GRANT, the mask the node calls USER
    USER = QUERY | CHANGE | JOIN | RUN
    #: everything
    FULL = QUERY | CHANGE | GRANT | JOIN | RUN

    @classmethod
    def parse(cls, privileges: str) -> Access:
        """Read a privileges string as ``user_info()`` shows it, such as
        ``'FULL'``, ``'USER|GRANT'`` or ``'QUERY|RUN'``; ValueError for an
        unknown name."""
        if not isinstance(privileges, str):
            raise TypeError(
                f"privileges must be a str, not {type(privileges).__name__}"
            )
        mask = cls.NO_ACCESS
        for part in privileges.split("|"):
            try:
                mask |= cls[part.strip().upper()]
            except KeyError:
                raise ValueError(
                    f"unknown privilege {part.strip()!r} in {privileges!r}; "
                    f"expected names like {', '.join(_MEMBER_NAMES)}"
                ) from None
        return mask


_MEMBER_NAMES = tuple(Access.__members__)


def collection_name(scope: str) -> str:
    """The collection name in a collection scope.

    ``'//stuff'``, ``'@:stuff'``, ``'@collection:stuff'`` (or any shorter
    start of ``collection``, as the node allows) and ``'/collection/stuff'``
    all give ``'stuff'``. A scope that names no collection (``'@thingsdb'``,
    ``'@node:1'``) or an invalid name raise ValueError.
    """
    if not isinstance(scope, str):
        raise TypeError(f"scope must be a str, not {type(scope).__name__}")
    if len(scope) > 2 and scope[0] in "@/":
        sep = ":" if scope[0] == "@" else "/"
        kind, found, name = scope[1:].partition(sep)
        if found and "collection".startswith(kind) and _NAME_RE.fullmatch(name):
            return name
    raise ValueError(
        f"{scope!r} is not a collection scope; expected '//name', '@:name' "
        "or '@collection:name' with a valid collection name"
    )


#: The name the established ``python-thingsdb`` package uses.
cnscope = collection_name
