"""Typed helpers for the built-in functions of the @thingsdb and @node scopes.

Each helper is one query. Values always go in as query variables, never
pasted into the code. Helpers for @thingsdb functions query ``@thingsdb``;
helpers for @node functions take ``scope`` (``'@n'``, the node the client is
connected to, by default; ``'@node:2'`` for another node). The few functions
that work in every scope (user_info() without a name, the module lookups,
time_zones_info) take ``scope`` too, by default ``'@t'``. Every helper takes
``timeout`` (seconds, None for no limit) like ``query()``.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, Literal, TypeAlias

from .exceptions import ThingsDBError
from .features import VERSION_CODE, VERSION_SCOPE, missing_feature, too_old
from .querier import Querier

#: A point in time as the helpers take it: a ``datetime`` (a naive one is
#: local time, as ``datetime.timestamp()`` has it), a UNIX time stamp in
#: seconds, or a string the node's ``datetime()`` reads (``'2030-01-31'``,
#: ``'2030-01-31T12:00:00Z'``).
When: TypeAlias = datetime.datetime | int | float | str

#: A name, or a regular expression (its ``i``, ``s`` and ``m`` flags carry over).
NameOrPattern: TypeAlias = str | re.Pattern[str]

LOG_LEVELS = {"DEBUG": 0, "INFO": 1, "WARNING": 2, "ERROR": 3, "CRITICAL": 4}

_REGEX_FLAGS = {re.IGNORECASE: "i", re.DOTALL: "s", re.MULTILINE: "m"}

# The options of history() and del_history(), as a thing; the node leaves nil
# options out. `match` becomes a regex, `before` and `after` datetimes.
_HISTORY_OPTIONS = """
    scope: scope_,
    contains: contains,
    match: is_nil(pattern) ? nil : regex(pattern, flags),
    id: id,
    first: first,
    last: last,
    before: is_nil(before) ? nil : datetime(before),
    after: is_nil(after) ? nil : datetime(after),
    has_err: has_err,
"""


def _when(what: str, value: When | None) -> int | float | str | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(
            f"{what} must be a datetime, a time stamp (int or float), a str or "
            f"None, not {type(value).__name__}"
        )
    return value


def _pattern(what: str, value: NameOrPattern | None) -> tuple[str | None, str]:
    """``(pattern, flags)`` for ``regex(pattern, flags)``."""
    if value is None:
        return None, ""
    if isinstance(value, str):
        return value, ""
    if isinstance(value, re.Pattern) and isinstance(value.pattern, str):
        flags = value.flags & ~re.UNICODE
        letters = ""
        for flag, letter in _REGEX_FLAGS.items():
            if flags & flag:
                letters += letter
                flags &= ~flag
        if flags:
            raise ValueError(
                f"{what}: ThingsDB regular expressions know only the flags "
                "IGNORECASE, DOTALL and MULTILINE"
            )
        return value.pattern, letters
    raise TypeError(
        f"{what} must be a str, a compiled str pattern or None, not "
        f"{type(value).__name__}"
    )


def _history_vars(
    scope: str | None,
    contains: str | None,
    match: NameOrPattern | None,
    commit_id: int | None,
    first: int | None,
    last: int | None,
    before: When | None,
    after: When | None,
    has_err: bool | None,
) -> dict[str, Any]:
    pattern, flags = _pattern("match", match)
    return {
        "scope_": scope,
        "contains": contains,
        "pattern": pattern,
        "flags": flags,
        "id": commit_id,
        "first": first,
        "last": last,
        "before": _when("before", before),
        "after": _when("after", after),
        "has_err": has_err,
    }


class Builtins(Querier):
    """Mixed into Client: each helper is one query in the right scope."""

    async def _query_new(self, code: str, /, **kwargs: Any) -> Any:
        """query() for a helper whose functions older nodes lack: their
        answer ("function `history` is undefined") becomes a
        NodeVersionError naming the version needed and the node's."""
        try:
            return await self.query(code, **kwargs)
        except ThingsDBError as exc:
            feature = missing_feature(exc)
            if feature is None:
                raise
            try:
                version = await self.query(VERSION_CODE, scope=VERSION_SCOPE)
            except ThingsDBError:
                version = None
            raise too_old(
                feature, version if isinstance(version, str) else None, None
            ) from exc

    # -- @thingsdb: collections ------------------------------------------------

    async def collection_info(
        self, collection: str | int, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Information about one collection, by name or id."""
        info: dict[str, Any] = await self.query(
            "collection_info(c);", c=collection, scope="@t", timeout=timeout
        )
        return info

    async def collections_info(
        self, *, timeout: float | None = None
    ) -> list[dict[str, Any]]:
        """Information about every collection the user may see."""
        info: list[dict[str, Any]] = await self.query(
            "collections_info();", scope="@t", timeout=timeout
        )
        return info

    async def del_collection(
        self, collection: str | int, *, timeout: float | None = None
    ) -> None:
        """Delete a collection (by name or id) and everything in it."""
        await self.query(
            "del_collection(c);", c=collection, scope="@t", timeout=timeout
        )

    async def has_collection(
        self, name: str | int, *, timeout: float | None = None
    ) -> bool:
        """Whether a collection with this name (or id) exists."""
        found: bool = await self.query(
            "has_collection(c);", c=name, scope="@t", timeout=timeout
        )
        return found

    async def new_collection(self, name: str, *, timeout: float | None = None) -> str:
        """Create a collection; returns its name."""
        created: str = await self.query(
            "new_collection(name);", name=name, scope="@t", timeout=timeout
        )
        return created

    async def rename_collection(
        self, collection: str | int, new_name: str, *, timeout: float | None = None
    ) -> None:
        """Give a collection (by name or id) a new name."""
        await self.query(
            "rename_collection(c, new_name);",
            c=collection,
            new_name=new_name,
            scope="@t",
            timeout=timeout,
        )

    async def set_time_zone(
        self, collection: str | int, zone: str, *, timeout: float | None = None
    ) -> None:
        """Set a collection's time zone (one of time_zones_info())."""
        await self.query(
            "set_time_zone(c, zone);",
            c=collection,
            zone=zone,
            scope="@t",
            timeout=timeout,
        )

    async def set_default_deep(
        self, scope: str | int, deep: int, *, timeout: float | None = None
    ) -> None:
        """Set the default return depth (0..127) of a scope ('@:stuff',
        '@thingsdb') or collection (name or id)."""
        await self.query(
            "set_default_deep(s, deep);",
            s=scope,
            deep=deep,
            scope="@t",
            timeout=timeout,
        )

    async def time_zones_info(
        self, scope: str = "@t", *, timeout: float | None = None
    ) -> list[str]:
        """Every time zone the node knows (any scope will do)."""
        zones: list[str] = await self.query(
            "time_zones_info();", scope=scope, timeout=timeout
        )
        return zones

    # -- @thingsdb: commit history ---------------------------------------------

    async def set_history(
        self, scope: str, state: bool, *, timeout: float | None = None
    ) -> None:
        """Turn the commit history of '@thingsdb' or a collection scope on or
        off (off deletes it)."""
        await self._query_new(
            "set_history(s, state);", s=scope, state=state, scope="@t", timeout=timeout
        )

    async def history(
        self,
        *,
        scope: str | None = None,
        contains: str | None = None,
        match: NameOrPattern | None = None,
        commit_id: int | None = None,
        first: int | None = None,
        last: int | None = None,
        before: When | None = None,
        after: When | None = None,
        has_err: bool | None = None,
        detail: bool = False,
        timeout: float | None = None,
    ) -> list[dict[str, Any]]:
        """The commits that pass every filter given (at least one is needed);
        always a list, also when filtering by ``commit_id``."""
        hist: list[dict[str, Any]] = await self._query_new(
            # with an `id` option the node answers one commit or nil
            f"h = history({{{_HISTORY_OPTIONS}    detail: detail,\n}});\n"
            "is_list(h) ? h : is_nil(h) ? [] : [h];",
            detail=detail,
            scope="@t",
            timeout=timeout,
            **_history_vars(
                scope, contains, match, commit_id, first, last, before, after, has_err
            ),
        )
        return hist

    async def del_history(
        self,
        *,
        scope: str | None = None,
        contains: str | None = None,
        match: NameOrPattern | None = None,
        commit_id: int | None = None,
        first: int | None = None,
        last: int | None = None,
        before: When | None = None,
        after: When | None = None,
        has_err: bool | None = None,
        timeout: float | None = None,
    ) -> int:
        """Delete the commits that pass every filter given; returns how many."""
        deleted: int = await self._query_new(
            f"del_history({{{_HISTORY_OPTIONS}}});",
            scope="@t",
            timeout=timeout,
            **_history_vars(
                scope, contains, match, commit_id, first, last, before, after, has_err
            ),
        )
        return deleted

    # -- @thingsdb: users, tokens, access --------------------------------------

    async def new_user(self, name: str, *, timeout: float | None = None) -> str:
        """Create a user (no password, token or access yet); returns its name."""
        created: str = await self.query(
            "new_user(name);", name=name, scope="@t", timeout=timeout
        )
        return created

    async def del_user(self, name: str, *, timeout: float | None = None) -> None:
        """Delete a user and its tokens."""
        await self.query("del_user(name);", name=name, scope="@t", timeout=timeout)

    async def has_user(self, name: str, *, timeout: float | None = None) -> bool:
        """Whether the user exists."""
        found: bool = await self.query(
            "has_user(name);", name=name, scope="@t", timeout=timeout
        )
        return found

    async def rename_user(
        self, name: str, new_name: str, *, timeout: float | None = None
    ) -> None:
        """Give a user a new name."""
        await self.query(
            "rename_user(name, new_name);",
            name=name,
            new_name=new_name,
            scope="@t",
            timeout=timeout,
        )

    async def set_password(
        self,
        user: str,
        new_password: str | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        """Set a user's password; None removes it (tokens still work)."""
        await self.query(
            "set_password(user, pw);",
            user=user,
            pw=new_password,
            scope="@t",
            timeout=timeout,
        )

    async def user_info(
        self,
        user: str | None = None,
        scope: str = "@t",
        *,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Information about a user (asked in @thingsdb); without a name, the
        connected user, in any scope it may query."""
        if user is None:
            info: dict[str, Any] = await self.query(
                "user_info();", scope=scope, timeout=timeout
            )
        else:
            info = await self.query(
                "user_info(user);", user=user, scope=scope, timeout=timeout
            )
        return info

    async def users_info(self, *, timeout: float | None = None) -> list[dict[str, Any]]:
        """Information about every user."""
        info: list[dict[str, Any]] = await self.query(
            "users_info();", scope="@t", timeout=timeout
        )
        return info

    async def new_token(
        self,
        user: str,
        expiration_time: When | None = None,
        description: str = "",
        *,
        timeout: float | None = None,
    ) -> str:
        """Create a token for a user (None: it never expires); returns the
        token string."""
        token: str = await self.query(
            "new_token(user, is_nil(exp) ? nil : datetime(exp), description);",
            user=user,
            exp=_when("expiration_time", expiration_time),
            description=description,
            scope="@t",
            timeout=timeout,
        )
        return token

    async def del_token(self, key: str, *, timeout: float | None = None) -> None:
        """Delete a token."""
        await self.query("del_token(key);", key=key, scope="@t", timeout=timeout)

    async def has_token(self, token: str, *, timeout: float | None = None) -> bool:
        """Whether the token exists (ValueError for a malformed token)."""
        found: bool = await self.query(
            "has_token(token);", token=token, scope="@t", timeout=timeout
        )
        return found

    async def del_expired(self, *, timeout: float | None = None) -> None:
        """Delete every expired token."""
        await self.query("del_expired();", scope="@t", timeout=timeout)

    async def grant(
        self,
        target: str | int,
        user: str,
        mask: int,
        *,
        timeout: float | None = None,
    ) -> None:
        """Give ``user`` the privileges in ``mask`` (see Access) on the scope
        ``target`` ('@thingsdb', '@node', '@:stuff'), on top of what it has."""
        await self.query(
            "grant(target, user, mask);",
            target=target,
            user=user,
            mask=int(mask),
            scope="@t",
            timeout=timeout,
        )

    async def revoke(
        self,
        target: str | int,
        user: str,
        mask: int,
        *,
        timeout: float | None = None,
    ) -> None:
        """Take the privileges in ``mask`` (see Access) on ``target`` from
        ``user``."""
        await self.query(
            "revoke(target, user, mask);",
            target=target,
            user=user,
            mask=int(mask),
            scope="@t",
            timeout=timeout,
        )

    async def whitelist_add(
        self,
        user: str,
        whitelist: Literal["rooms", "procedures"],
        name: NameOrPattern | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        """Allow ``user`` a room or procedure by name or pattern; without a
        name, start an empty whitelist (which allows nothing)."""
        await self._whitelist("whitelist_add", user, whitelist, name, timeout)

    async def whitelist_del(
        self,
        user: str,
        whitelist: Literal["rooms", "procedures"],
        name: NameOrPattern | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        """Remove a name or pattern from a user's whitelist; without a name,
        remove the whitelist (which allows everything again)."""
        await self._whitelist("whitelist_del", user, whitelist, name, timeout)

    async def _whitelist(
        self,
        fn: str,
        user: str,
        whitelist: str,
        name: NameOrPattern | None,
        timeout: float | None,
    ) -> None:
        pattern, flags = _pattern("name", name)
        if isinstance(name, str):
            code = f"{fn}(user, wl, name);"
        elif pattern is not None:
            code = f"{fn}(user, wl, regex(pattern, flags));"
        else:
            code = f"{fn}(user, wl);"
        await self._query_new(
            code,
            user=user,
            wl=whitelist,
            name=name if isinstance(name, str) else None,
            pattern=pattern,
            flags=flags,
            scope="@t",
            timeout=timeout,
        )

    # -- @thingsdb: nodes ------------------------------------------------------

    async def new_node(
        self,
        secret: str,
        name: str,
        port: int | None = None,
        *,
        timeout: float | None = None,
    ) -> int:
        """Add a node (started with ``--secret``) to ThingsDB; returns its id.
        ``name`` is its address (host name or IP address), ``port`` its node
        port, 9220 when None."""
        node_id: int = await self.query(
            "is_nil(port) ? new_node(secret, name) : new_node(secret, name, port);",
            secret=secret,
            name=name,
            port=port,
            scope="@t",
            timeout=timeout,
        )
        return node_id

    async def del_node(self, node_id: int, *, timeout: float | None = None) -> None:
        """Remove a node, which must be offline, from ThingsDB."""
        await self.query("del_node(id);", id=node_id, scope="@t", timeout=timeout)

    async def has_node(self, node_id: int, *, timeout: float | None = None) -> bool:
        """Whether a node with this id exists."""
        found: bool = await self.query(
            "has_node(id);", id=node_id, scope="@t", timeout=timeout
        )
        return found

    async def restore(
        self,
        filename: str,
        options: dict[str, Any] | None = None,
        *,
        take_access: bool = False,
        restore_tasks: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Replace everything by the contents of a backup file. Needs empty
        collections and no tasks or modules; the connected client must
        authenticate again afterwards. ``options`` is the node's options
        thing (python-thingsdb's form); the keywords set its two options."""
        if options is None:
            options = {}
        elif not isinstance(options, dict):
            raise TypeError(
                f"options must be a dict or None, not {type(options).__name__}"
            )
        else:
            options = dict(options)
        if take_access:
            options["take_access"] = True
        if restore_tasks:
            options["restore_tasks"] = True
        await self.query(
            "restore(filename, options);",
            filename=filename,
            options=options,
            scope="@t",
            timeout=timeout,
        )

    # -- @thingsdb: modules ----------------------------------------------------

    async def new_module(
        self,
        name: str,
        source: str,
        configuration: Any = None,
        *,
        timeout: float | None = None,
    ) -> None:
        """Add a module from ``source`` (a file in the node's modules path or
        a 'github.com/...' address), with an optional configuration."""
        await self.query(
            "new_module(name, source, conf);",
            name=name,
            source=source,
            conf=configuration,
            scope="@t",
            timeout=timeout,
        )

    async def deploy_module(
        self,
        name: str,
        data: str | bytes | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        """Write new code (str for Python modules) or a binary (bytes) to a
        module on every node and restart it; None only restarts it."""
        await self.query(
            "deploy_module(name, data);",
            name=name,
            data=data,
            scope="@t",
            timeout=timeout,
        )

    async def del_module(self, name: str, *, timeout: float | None = None) -> None:
        """Stop and delete a module."""
        await self.query("del_module(name);", name=name, scope="@t", timeout=timeout)

    async def has_module(
        self, name: str, scope: str = "@t", *, timeout: float | None = None
    ) -> bool:
        """Whether the module exists (any scope will do)."""
        found: bool = await self.query(
            "has_module(name);", name=name, scope=scope, timeout=timeout
        )
        return found

    async def module_info(
        self, name: str, scope: str = "@t", *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Information about one module (any scope will do; a @node scope
        adds that node's tasks and restarts)."""
        info: dict[str, Any] = await self.query(
            "module_info(name);", name=name, scope=scope, timeout=timeout
        )
        return info

    async def modules_info(
        self, scope: str = "@t", *, timeout: float | None = None
    ) -> list[dict[str, Any]]:
        """Information about every module (as module_info())."""
        info: list[dict[str, Any]] = await self.query(
            "modules_info();", scope=scope, timeout=timeout
        )
        return info

    async def refresh_module(self, name: str, *, timeout: float | None = None) -> None:
        """Install a module's source again (for a changed github or file
        source) on every node."""
        await self.query(
            "refresh_module(name);", name=name, scope="@t", timeout=timeout
        )

    async def rename_module(
        self, name: str, new_name: str, *, timeout: float | None = None
    ) -> None:
        """Give a module a new name."""
        await self.query(
            "rename_module(name, new_name);",
            name=name,
            new_name=new_name,
            scope="@t",
            timeout=timeout,
        )

    async def set_module_conf(
        self, name: str, configuration: Any = None, *, timeout: float | None = None
    ) -> None:
        """Replace a module's configuration (None removes it)."""
        await self.query(
            "set_module_conf(name, conf);",
            name=name,
            conf=configuration,
            scope="@t",
            timeout=timeout,
        )

    async def set_module_scope(
        self, name: str, scope: str | None, *, timeout: float | None = None
    ) -> None:
        """Restrict a module to one scope ('@:stuff'); None lifts it."""
        await self.query(
            "set_module_scope(name, s);",
            name=name,
            s=scope,
            scope="@t",
            timeout=timeout,
        )

    # -- procedures (@thingsdb or a collection) --------------------------------
    # Made with ThingsDB code (new_procedure takes a closure); these look
    # after them. ``scope`` is where the procedure lives.

    async def has_procedure(
        self, name: str, scope: str = "@t", *, timeout: float | None = None
    ) -> bool:
        """Whether ``scope`` has a procedure called ``name``."""
        found: bool = await self.query(
            "has_procedure(name);", name=name, scope=scope, timeout=timeout
        )
        return found

    async def procedure_info(
        self, name: str, scope: str = "@t", *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Information about one procedure: its arguments, definition, doc."""
        info: dict[str, Any] = await self.query(
            "procedure_info(name);", name=name, scope=scope, timeout=timeout
        )
        return info

    async def procedures_info(
        self, scope: str = "@t", *, timeout: float | None = None
    ) -> list[dict[str, Any]]:
        """Information about every procedure of ``scope``."""
        info: list[dict[str, Any]] = await self.query(
            "procedures_info();", scope=scope, timeout=timeout
        )
        return info

    async def procedure_doc(
        self, name: str, scope: str = "@t", *, timeout: float | None = None
    ) -> str:
        """The doc string of a procedure ('' without one)."""
        doc: str = await self.query(
            "procedure_doc(name);", name=name, scope=scope, timeout=timeout
        )
        return doc

    async def rename_procedure(
        self,
        name: str,
        new_name: str,
        scope: str = "@t",
        *,
        timeout: float | None = None,
    ) -> None:
        """Give a procedure a new name."""
        await self.query(
            "rename_procedure(name, new_name);",
            name=name,
            new_name=new_name,
            scope=scope,
            timeout=timeout,
        )

    async def del_procedure(
        self, name: str, scope: str = "@t", *, timeout: float | None = None
    ) -> None:
        """Delete a procedure."""
        await self.query(
            "del_procedure(name);", name=name, scope=scope, timeout=timeout
        )

    # -- @node -----------------------------------------------------------------

    async def node_info(
        self, scope: str = "@n", *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Information about the node of ``scope``."""
        info: dict[str, Any] = await self.query(
            "node_info();", scope=scope, timeout=timeout
        )
        return info

    async def nodes_info(
        self, scope: str = "@n", *, timeout: float | None = None
    ) -> list[dict[str, Any]]:
        """Every node of ThingsDB as the node of ``scope`` sees it."""
        info: list[dict[str, Any]] = await self.query(
            "nodes_info();", scope=scope, timeout=timeout
        )
        return info

    async def counters(
        self, scope: str = "@n", *, timeout: float | None = None
    ) -> dict[str, Any]:
        """The node's counters (queries, changes, durations...)."""
        info: dict[str, Any] = await self.query(
            "counters();", scope=scope, timeout=timeout
        )
        return info

    async def reset_counters(
        self, scope: str = "@n", *, timeout: float | None = None
    ) -> None:
        """Set the node's counters back to zero."""
        await self.query("reset_counters();", scope=scope, timeout=timeout)

    async def set_log_level(
        self, log_level: int | str, scope: str = "@n", *, timeout: float | None = None
    ) -> None:
        """Set the node's log level: 'DEBUG', 'INFO', 'WARNING', 'ERROR',
        'CRITICAL' or 0..4."""
        if isinstance(log_level, str):
            try:
                level = LOG_LEVELS[log_level.upper()]
            except KeyError:
                raise ValueError(
                    f"log_level must be one of {', '.join(LOG_LEVELS)}, not "
                    f"{log_level!r}"
                ) from None
        elif isinstance(log_level, int) and not isinstance(log_level, bool):
            level = log_level
        else:
            raise TypeError(
                f"log_level must be a str or an int, not {type(log_level).__name__}"
            )
        await self.query(
            "set_log_level(level);", level=level, scope=scope, timeout=timeout
        )

    async def shutdown(
        self, scope: str = "@n", *, timeout: float | None = None
    ) -> None:
        """Shut the node of ``scope`` down (cleanly)."""
        await self.query("shutdown();", scope=scope, timeout=timeout)

    async def restart_module(
        self, name: str, scope: str = "@n", *, timeout: float | None = None
    ) -> None:
        """Restart a module on the node of ``scope`` only."""
        await self.query(
            "restart_module(name);", name=name, scope=scope, timeout=timeout
        )

    async def new_backup(
        self,
        file_template: str,
        start_ts: When | None = None,
        repeat: int | None = 0,
        max_files: int | None = 7,
        scope: str = "@n",
        *,
        timeout: float | None = None,
    ) -> int:
        """Schedule a backup to a file (ending in .tar.gz; {DATE}, {TIME},
        {CHANGE_ID} are filled in), at ``start_ts`` (None: now), again every
        ``repeat`` seconds (0: once), keeping ``max_files``; returns its id."""
        backup_id: int = await self.query(
            "new_backup(file, is_nil(start) ? nil : datetime(start), repeat, keep);",
            file=file_template,
            start=_when("start_ts", start_ts),
            repeat=0 if repeat is None else repeat,
            keep=7 if max_files is None else max_files,
            scope=scope,
            timeout=timeout,
        )
        return backup_id

    async def backup_info(
        self, backup_id: int, scope: str = "@n", *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Information about one backup schedule."""
        info: dict[str, Any] = await self.query(
            "backup_info(id);", id=backup_id, scope=scope, timeout=timeout
        )
        return info

    async def backups_info(
        self, scope: str = "@n", *, timeout: float | None = None
    ) -> list[dict[str, Any]]:
        """Information about every backup schedule of the node."""
        info: list[dict[str, Any]] = await self.query(
            "backups_info();", scope=scope, timeout=timeout
        )
        return info

    async def backups_ok(
        self, scope: str = "@n", *, timeout: float | None = None
    ) -> bool:
        """False when the last run of any backup schedule failed."""
        ok: bool = await self.query("backups_ok();", scope=scope, timeout=timeout)
        return ok

    async def has_backup(
        self, backup_id: int, scope: str = "@n", *, timeout: float | None = None
    ) -> bool:
        """Whether the backup schedule exists."""
        found: bool = await self.query(
            "has_backup(id);", id=backup_id, scope=scope, timeout=timeout
        )
        return found

    async def del_backup(
        self,
        backup_id: int,
        delete_files: bool = False,
        scope: str = "@n",
        *,
        timeout: float | None = None,
    ) -> None:
        """Delete a backup schedule, and with ``delete_files`` its files."""
        await self.query(
            "del_backup(id, delete_files);",
            id=backup_id,
            delete_files=delete_files,
            scope=scope,
            timeout=timeout,
        )
