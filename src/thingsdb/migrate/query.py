"""The ThingsDB code ``thingsdb.migrate`` sends, and how its answers and
errors are read back.

Applying migration N is one query (see :func:`apply_code`):

1. the expected-version check: the record must say N - 1, else the query
   raises before it changes anything (another deployer was first);
2. ``commit()`` with the migration's number and description, when commit
   history is on for the collection (``try`` leaves it out when it is off);
3. the record gets the entry for N and version N;
4. the migration's code runs, inside a closure (so a ``return`` in it ends
   the migration, not the query) that marks each top-level statement
   (its number) before it runs;
5. when the code raised, the record is put back as it was (removed, if
   this query made it) and the error is raised again, its message prefixed
   with a token of this query, the statement's number and the original
   error code.

ThingsDB keeps what a query changed before it raised (it has no rollback),
which is why step 5 undoes step 3 by hand, and why the record is written
before the code runs: if the code turned the root into a typed thing whose
type has no field for the record, writing it afterwards would fail after
the migration ran.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from ..exceptions import ThingsDBError, error_from_data
from .folder import MigrationFile
from .statements import mark_statements, statement_spans
from .status import RECORD

#: wrapper names start with this; migrations should not use them
PRIVATE = "__mg_"

READ_RECORD = f"""\
{PRIVATE}r = .get('{RECORD}');
if (is_nil({PRIVATE}r)) return nil;
if (!is_thing({PRIVATE}r)) return 0;
{PRIVATE}a = {PRIVATE}r.get('applied');
[{PRIVATE}r.get('version'), is_list({PRIVATE}a) ? {PRIVATE}a.map(|e| is_thing(e) \
? [e.get('number'), e.get('name'), e.get('checksum'), e.get('applied_at'), \
e.get('by')] : e) : {PRIVATE}a];
"""

# The variables of the query: mg_tok (this query's token), mg_number,
# mg_entry ({number, name, checksum}), mg_message (the commit message).
_APPLY_HEAD = f"""\
{PRIVATE}r = .get('{RECORD}');
{PRIVATE}v = is_nil({PRIVATE}r) ? 0 : (is_thing({PRIVATE}r) \
? {PRIVATE}r.get('version', -1) : -1);
if ({PRIVATE}v != mg_number - 1) raise(`{{mg_tok}} conflict {{{PRIVATE}v}}`);
try(commit(mg_message));
{PRIVATE}f = is_nil({PRIVATE}r);
if ({PRIVATE}f) {{
    {PRIVATE}n = try(.{RECORD} = {{version: 0, applied: []}});
    if (is_err({PRIVATE}n)) raise(`{{mg_tok}} record {{{PRIVATE}n.msg()}}`);
    {PRIVATE}r = .{RECORD};
}};
mg_entry.applied_at = datetime();
mg_entry.by = user_info().load().name;
{PRIVATE}r.applied.push(mg_entry);
{PRIVATE}r.version = mg_number;
{PRIVATE}at = {{s: 0, done: false}};
{PRIVATE}x = try((||{{{PRIVATE}y = (||{{
"""

_APPLY_TAIL = f"""
}}).call(); {PRIVATE}at.done = true; {PRIVATE}y;}}).call());
if (!{PRIVATE}at.done) {{
    {PRIVATE}r.applied.pop();
    {PRIVATE}r.version = mg_number - 1;
    if ({PRIVATE}f) try(.del('{RECORD}'));
    {PRIVATE}c = {PRIVATE}x.code();
    raise(err(({PRIVATE}c >= -127 && {PRIVATE}c <= -50) ? {PRIVATE}c : -100, \
`{{mg_tok}} stmt {{{PRIVATE}at.s}} code {{{PRIVATE}c}}: {{{PRIVATE}x.msg()}}`));
}};
mg_number;
"""

#: lines of the query before the migration's first line
HEAD_LINES = _APPLY_HEAD.count("\n")

_MARKER = PRIVATE + "at.s={n};"

# Marking a migration applied without running it (``baseline``): the same
# check, commit and record entry.
MARK_CODE = _APPLY_HEAD.split(f"{PRIVATE}at = ", 1)[0] + "mg_number;\n"

EXPORT_CODE = "export();"


def new_token() -> str:
    return secrets.token_hex(8)


Spans = list[tuple[int, int]]


def apply_code(
    migration: MigrationFile, *, marked: bool = True
) -> tuple[str, Spans | None]:
    """The query that applies ``migration``, and the spans of the top-level
    statements it marks (``None``: not marked, also when the code cannot be
    followed)."""
    text = migration.text
    spans = statement_spans(text) if marked else None
    if spans is not None:
        text = mark_statements(text, spans, _MARKER)
    return _APPLY_HEAD + text + _APPLY_TAIL, spans


def check_code(migration: MigrationFile) -> str:
    """The query that only parses ``migration`` as ``up`` will send it: it
    raises (with its token) before anything runs, unless the code has a
    syntax error, which the node reports first."""
    return "raise(mg_tok); " + apply_code(migration, marked=False)[0]


def apply_variables(migration: MigrationFile, token: str) -> dict[str, Any]:
    return {
        "mg_tok": token,
        "mg_number": migration.number,
        "mg_entry": {
            "number": migration.number,
            "name": migration.name,
            "checksum": migration.checksum,
        },
        "mg_message": migration.commit_message,
    }


# -- reading errors back ------------------------------------------------------------


@dataclass(frozen=True)
class Conflict:
    """The record was not at the expected version (it was at ``version``;
    -1: not a record)."""

    version: int


@dataclass(frozen=True)
class RecordNotWritable:
    """The record could not be made in the collection; ``message`` is the
    node's reason."""

    message: str


@dataclass(frozen=True)
class CodeRaised:
    """The migration's code raised ``error`` in its ``statement``-th
    top-level statement (0: not known)."""

    statement: int
    error: ThingsDBError


@dataclass(frozen=True)
class NotOurs:
    """An error raised before the wrapper ran (no token): a syntax error,
    no access, a node that is not ready..."""

    error: ThingsDBError


Outcome = Conflict | RecordNotWritable | CodeRaised | NotOurs

_CODE_RAISED = re.compile(r" stmt (\d+) code (-?\d+): ", re.S)


def read_error(exc: ThingsDBError, token: str) -> Outcome:
    """What an error answer to an apply (or mark) query means."""
    msg = exc.error_msg
    if not msg.startswith(token + " "):
        return NotOurs(exc)
    rest = msg[len(token) :]
    if rest.startswith(" conflict "):
        try:
            return Conflict(int(rest[len(" conflict ") :]))
        except ValueError:
            return Conflict(-1)
    if rest.startswith(" record "):
        return RecordNotWritable(rest[len(" record ") :])
    match = _CODE_RAISED.match(rest)
    if match is None:
        return NotOurs(exc)
    statement, code = int(match.group(1)), int(match.group(2))
    original = error_from_data({"error_code": code, "error_msg": rest[match.end() :]})
    return CodeRaised(statement, original)


_SYNTAX_AT = re.compile(r"^error at line (\d+)")


def syntax_line(exc: ThingsDBError, migration: MigrationFile) -> tuple[int, str]:
    """For a syntax error in the query of :func:`apply_code`: the line in
    the file, and the node's message with that line put in."""
    match = _SYNTAX_AT.match(exc.error_msg)
    if match is None:
        return 0, exc.error_msg
    lines = migration.text.count("\n") + 1
    line = min(max(int(match.group(1)) - HEAD_LINES, 1), lines)
    return line, f"error at line {line}" + exc.error_msg[match.end() :]
