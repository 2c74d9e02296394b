"""Access flags for grant() and revoke()."""

from __future__ import annotations

import enum


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
