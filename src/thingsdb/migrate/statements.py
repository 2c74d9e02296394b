"""Where the top-level statements of ThingsDB code begin.

The node names no line for an error raised while code runs (only syntax
errors carry one), so ``up`` marks the line of each top-level statement of a
migration as it runs (see :mod:`.query`). For that it must find statement
boundaries the way the node's parser does: a ``;`` outside every bracket,
string, template, comment and regular expression.

The rules follow the node's grammar (``grammar/grammar.py`` of ThingsDB):

* strings: ``'...'`` and ``"..."``, a doubled quote inside stands for one;
* templates: ``\\`...\\``` with ``{statement}`` inside, and ````` ``, ``{{``,
  ``}}`` as escapes;
* comments: ``// ...`` to the end of the line, ``/* ... */``;
* regular expressions: ``/.../flags`` on one line, ended by the first ``/``
  not preceded by a backslash. A ``/`` is one only where an expression
  starts; after an operand it divides.

Code this reader cannot follow (an open bracket or string at the end) gives
``None``: the caller then runs the code unmarked and names no line.
"""

from __future__ import annotations

#: after these words an expression starts (``return /x/``, ``else /x/``)
_EXPRESSION_WORDS = frozenset({"return", "else", "in", "if", "for"})
#: a ``(`` after these words holds a condition: a statement follows its ``)``
_CONDITION_WORDS = frozenset({"if", "for"})

_CLOSER = {"(": ")", "[": "]", "{": "}"}
#: stack entries besides the closers: inside a template's text, and inside
#: a ``{...}`` of a template
_TEMPLATE_TEXT = "`"
_TEMPLATE_EXPR = "${"


def _is_name_start(c: str) -> bool:
    return c == "_" or ("a" <= c <= "z") or ("A" <= c <= "Z")


def _is_name_char(c: str) -> bool:
    return _is_name_start(c) or ("0" <= c <= "9")


def _skip_string(code: str, i: int) -> int:
    """End (exclusive) of the string that starts at ``code[i]``; -1 when open.

    Quoted pieces that touch (``'it''s'``) are one string, as in the grammar.
    """
    quote = code[i]
    while True:
        end = code.find(quote, i + 1)
        if end < 0:
            return -1
        if end + 1 < len(code) and code[end + 1] == quote:
            i = end + 1
            continue
        return end + 1


def _skip_regex(code: str, i: int) -> int:
    """End (exclusive) of the regular expression at ``code[i]`` (its flags
    included); -1 when no ``/`` ends it on the same line."""
    j = i + 1
    n = len(code)
    while j < n:
        c = code[j]
        if c == "\n":
            return -1
        if c == "/" and code[j - 1] != "\\":
            j += 1
            while j < n and "a" <= code[j] <= "z":
                j += 1
            return j
        j += 1
    return -1


def statement_spans(code: str) -> list[tuple[int, int]] | None:
    """``(start, end)`` of each top-level statement of ``code``, in order
    (``end``: its ``;``, or the end of the code), or ``None`` when the code
    cannot be followed to its end."""
    starts: list[int] = []
    ends: list[int] = []
    stack: list[str] = []
    #: for each open ``(``: does a statement follow its ``)``?
    conditions: list[bool] = []
    expect_start = True
    operand = False  # the last token ends an operand: a ``/`` divides
    word = ""
    i = 0
    n = len(code)
    while i < n:
        if stack and stack[-1] == _TEMPLATE_TEXT:
            if code.startswith(("``", "{{", "}}"), i):
                i += 2
            elif code[i] == "`":
                stack.pop()
                operand = True
                i += 1
            elif code[i] == "{":
                stack.append(_TEMPLATE_EXPR)
                operand = False
                i += 1
            else:
                i += 1
            continue

        c = code[i]
        if c in " \t\r\n\f\v":
            i += 1
            continue
        if code.startswith("//", i):
            end = code.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if code.startswith("/*", i):
            end = code.find("*/", i + 2)
            if end < 0:
                return None
            i = end + 2
            continue

        if not stack and expect_start and c != ";":
            starts.append(i)
            expect_start = False
        previous_word, word = word, ""

        if c == ";":
            if not stack and not expect_start:
                ends.append(i)
                expect_start = True
            operand = False
            i += 1
        elif c in "'\"":
            end = _skip_string(code, i)
            if end < 0:
                return None
            operand = True
            i = end
        elif c == "`":
            stack.append(_TEMPLATE_TEXT)
            i += 1
        elif c == "/":
            if operand:  # division (or /=)
                operand = False
                i += 1
            else:
                end = _skip_regex(code, i)
                if end < 0:
                    return None
                operand = True
                i = end
        elif c in _CLOSER:
            stack.append(_CLOSER[c])
            if c == "(":
                conditions.append(previous_word in _CONDITION_WORDS)
            operand = False
            i += 1
        elif c in ")]}":
            if not stack:
                return None
            expected = stack.pop()
            if expected == _TEMPLATE_EXPR:
                if c != "}":
                    return None
                # back in the template's text (still on the stack)
            elif expected != c:
                return None
            operand = True
            if c == ")" and conditions and conditions.pop():
                operand = False  # `if (...) /re/...`: a statement follows
            i += 1
        elif _is_name_start(c):
            j = i + 1
            while j < n and _is_name_char(code[j]):
                j += 1
            word = code[i:j]
            operand = word not in _EXPRESSION_WORDS
            i = j
        elif "0" <= c <= "9":
            j = i + 1
            while j < n and (_is_name_char(code[j]) or code[j] == "."):
                j += 1
            operand = True
            i = j
        else:  # an operator or punctuation
            operand = False
            i += 1
    if stack:
        return None
    if len(ends) < len(starts):
        ends.append(len(code.rstrip()))
    return list(zip(starts, ends, strict=True))


def line_of(code: str, offset: int) -> int:
    """The 1-based line of ``offset`` in ``code``."""
    return code.count("\n", 0, offset) + 1


def mark_statements(code: str, spans: list[tuple[int, int]], marker: str) -> str:
    """``code`` with ``marker.format(n=N)`` put before its N-th top-level
    statement (``spans`` from :func:`statement_spans`). Markers add no line
    breaks, so every line of the code keeps its number."""
    parts: list[str] = []
    last = 0
    for n, (start, _end) in enumerate(spans, 1):
        parts.append(code[last:start])
        parts.append(marker.format(n=n))
        last = start
    parts.append(code[last:])
    return "".join(parts)
