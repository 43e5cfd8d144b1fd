"""Pure: a CV document (Markdown, plain text, LaTeX, Word) -> kept text + numbered bullets, and back.

`kind_of` decides how a file is read; `load` reads it. A plain list of bullets (no headings, no section
labels; examples/bullets.txt) is not a document: `kind_of` says "bullets" and `enhance` keeps its flat flow.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePath

from cvstream.documents.model import Bullet, Document

__all__ = ["Bullet", "Document", "checker", "fixer", "kind_of", "load_text"]

_ATX = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)", re.MULTILINE)
SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".tex": "latex", ".docx": "docx"}


def kind_of(name: str, text: str | None) -> str:
    """ "markdown", "text", "latex", "docx", or "bullets" (a plain bullets file, the flat flow)."""
    kind = SUFFIXES.get(PurePath(name).suffix.lower())
    if kind is not None:
        return kind
    from cvstream.documents import text as plain

    if text is not None and _ATX.search(text):
        return "markdown"
    if text is not None and plain.is_document(text):
        return "text"
    return "bullets"


def load_text(kind: str, text: str) -> Document:
    """Parse a text document (every kind but docx)."""
    if kind == "markdown":
        from cvstream.documents import markdown

        return markdown.parse(text)
    if kind == "latex":
        from cvstream.documents import latex

        return latex.parse(text)
    from cvstream.documents import text as plain

    return plain.parse(text)


def checker(kind: str) -> Callable[[str], str | None]:
    """Why a rewritten bullet cannot go into a document of this kind (None: it can)."""
    if kind == "latex":
        from cvstream.documents import latex

        return latex.check
    return lambda text: None


def fixer(kind: str) -> Callable[[str], str]:
    """What a rewritten bullet needs before it goes into a document of this kind."""
    if kind == "latex":
        from cvstream.documents import latex

        return latex.fix
    return lambda text: text
