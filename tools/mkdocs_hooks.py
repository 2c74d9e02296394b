"""MkDocs hooks of the documentation site (mkdocs.yml: ``hooks``).

The docstrings name other parts of the package with Sphinx's roles
(``:class:`Node```, ``:meth:`~Client.query```), which the reference's
generator leaves as they are: ``:class:`` before the code. This shows the
code alone, as Sphinx would (``~`` keeps the last part of the name), and
a paragraph ending in ``::`` before a literal block ends in one colon.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(
    r":(?:py:)?(?:mod|class|meth|func|attr|exc|data|obj|const):<code>(~?)([^<]*)</code>"
)


def _code(match: re.Match[str]) -> str:
    short, name = match.groups()
    return f"<code>{name.rsplit('.', 1)[-1] if short else name}</code>"


#: reST's "text::" before a literal block, which shows as "text:"
_LITERAL = re.compile(r"::</p>")


def on_page_content(html: str, **kwargs: Any) -> str:
    return _LITERAL.sub(":</p>", _ROLE.sub(_code, html))
