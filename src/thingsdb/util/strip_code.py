"""Trim ThingsDB code before it is sent."""

from __future__ import annotations

import re

# Leading white space and comments only: removing comments further in would
# need a full tokenizer (strings, templates and regular expressions may hold
# '//' or '/*'), and the leading ones are what makes code indented in Python
# source larger than it needs to be.
_LEADING = re.compile(r"(?:\s+|//[^\n]*(?:\n|$)|/\*.*?\*/)+", re.DOTALL)


def strip_code(code: str) -> str:
    """Remove leading comments and white space, and trailing white space.

    >>> strip_code('''
    ...     // say hello
    ...     "Hello";  ''')
    '"Hello";'
    """
    if not isinstance(code, str):
        return code  # the caller's type check says what is wrong
    if code[:1].isspace() or code[:1] == "/":  # else there is nothing to strip
        match = _LEADING.match(code)
        if match is not None:
            code = code[match.end() :]
    return code.rstrip()
