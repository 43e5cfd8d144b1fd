"""The shared model of a CV document: kept text and numbered bullets, in order, and how a bullet is written back.

Every reader (markdown, text, latex, docx) turns a file into a `Document`: a sequence of parts, each either
text kept byte for byte (headings, markers, blank lines, tables, ...) or a `Bullet`: the span of one bullet's
words. Joining the kept parts with each bullet's original `source` gives the input back exactly; joining
them with rewritten bullets gives the output. A bullet's span starts after its marker and ends before the
line end, so markers, indentation and line endings always live in kept text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

# Words that must not begin a continuation line when a bullet is rewrapped: at the start of a line they
# would open a new block (a list item, a heading, a quote, a setext underline) instead of continuing.
_UNSAFE_START = re.compile(r"[-+*]|#{1,6}|\d{1,9}[.)]|[=-]+|>.*|%.*")


@dataclass(frozen=True, slots=True)
class Bullet:
    number: int  # 1-based, in document order, among the bullets sent to the model
    text: str  # the words as sent to the model: the source's lines joined by single spaces
    source: str  # the original span, byte for byte (what is kept when no usable rewrite arrives)
    sections: tuple[str, ...]  # the heading path above it
    lead: str | None  # the nearest non-bullet line above its list (a role line, a company line)
    column: int = 0  # characters before the span on its first line (marker and indentation)
    continuation: str = ""  # what starts each continuation line
    width: int = 0  # rewrap at this many characters; 0 = the bullet is one line and stays one line
    newline: str = "\n"

    @property
    def context(self) -> str:
        """The heading path and the lead line, as shown to the model: `Experience › Acme Corp — Engineer`."""
        parts = [*self.sections, *([self.lead] if self.lead else [])]
        return " › ".join(parts)

    def render(self, text: str) -> str:
        """The span for a rewritten `text`: one line, or rewrapped at the original width and indent."""
        words = text.split()
        if not self.width:
            return " ".join(words)
        lines: list[str] = []
        current = ""
        room = self.width - self.column
        for word in words:
            if current and len(current) + 1 + len(word) > room and not _UNSAFE_START.fullmatch(word):
                lines.append(current)
                current, room = word, self.width - len(self.continuation)
            else:
                current = f"{current} {word}" if current else word
        lines.append(current)
        return (self.newline + self.continuation).join(lines)


Part = str | Bullet


@dataclass(frozen=True, slots=True)
class Document:
    kind: str  # "markdown", "text", "latex" or "docx"
    parts: tuple[Part, ...]

    @property
    def bullets(self) -> list[Bullet]:
        return [p for p in self.parts if isinstance(p, Bullet)]

    def original(self) -> str:
        return "".join(p if isinstance(p, str) else p.source for p in self.parts)

    def with_rewrites(self, rewrites: dict[int, str]) -> str:
        """The whole document with the given bullets rewritten (the others as they were)."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            elif part.number in rewrites:
                out.append(part.render(rewrites[part.number]))
            else:
                out.append(part.source)
        return "".join(out)


def build(kind: str, text: str, spans: Iterable[tuple[int, int, Bullet]]) -> Document:
    """A document from `text` and its bullets' (start, end) offsets, in order; bullets are numbered here."""
    parts: list[Part] = []
    position = 0
    number = 0
    for start, end, bullet in spans:
        if start < position or end <= start:
            continue  # overlapping or empty: keep as text
        number += 1
        if start > position:
            parts.append(text[position:start])
        parts.append(replace(bullet, number=number, source=text[start:end]))
        position = end
    if position < len(text):
        parts.append(text[position:])
    return Document(kind, tuple(parts))


def words(lines: Iterable[str]) -> str:
    """Lines of one bullet joined into the text sent to the model."""
    return " ".join(" ".join(line.split()) for line in lines if line.strip())
