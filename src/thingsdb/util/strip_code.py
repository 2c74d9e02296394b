"""Trim ThingsDB code before it is sent."""

from __future__ import annotations

import re

# Leading white space and comments only: removing comments further in would
# need a full tokenizer (strings, templates and regular expressions may hold
# '//' or '/*'), and the leading ones are what makes code indented in Python
# source larger than it needs to be.
_LEADING = re.compile(r"(?:\s+|//[^\n]*(?:\n|$)|/\*.*?\*/)+", re.DOTALL)


#: Every character ``str.isspace()`` knows: none lies above U+3000 (a test
#: checks the whole Unicode range). Looking one character up in a set is
#: much quicker than slicing and asking ``isspace()``, and this runs once
#: per query.
SPACE = frozenset(c for c in map(chr, range(0x3001)) if c.isspace())
_STRIP_FIRST = SPACE | {"/"}


def strip_code(code: str) -> str:
    """Remove leading comments and white space, and trailing white space.

    >>> strip_code('''
    ...     // say hello
    ...     "Hello";  ''')
    '"Hello";'
    """
    if not isinstance(code, str) or not code:
        return code  # the caller's type check says what is wrong
    if code[0] in _STRIP_FIRST:  # else there is nothing to strip in front
        match = _LEADING.match(code)
        if match is not None:
            code = code[match.end() :]
    if code and code[-1] in SPACE:
        code = code.rstrip()
    return code
