"""Markdown CVs: the bullets are the list items' first paragraphs, found with markdown-it-py's token line maps.

Everything else (headings, paragraphs, tables, code, HTML, link definitions, front matter, blank lines, the
list markers themselves) is kept byte for byte. An item that wraps over several lines is one bullet; a nested
item is a bullet of its own.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

from cvstream.documents.model import Bullet, Document, build

# One line with its ending; markdown-it counts lines the same way (it normalises \r\n and \r to \n).
LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_PREFIX = re.compile(r"[ \t>]*")
_MARKER = re.compile(r"[ \t>]*(?:[-*+]|\d{1,9}[.)])[ \t]*")


def parser() -> MarkdownIt:
    """CommonMark with tables, as rich renders it; block structure only (inline parsing is two thirds of the
    cost and nothing here needs it: an inline token's `content` is set by the block rules)."""
    return MarkdownIt("commonmark").enable("table").disable("inline")


def front_matter_lines(lines: list[str]) -> int:
    """How many lines a YAML front matter block (`---` ... `---` or `...`) takes at the top; 0 if none."""
    if not lines or lines[0].rstrip("\r\n") != "---":
        return 0
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n").rstrip() in ("---", "..."):
            return index + 1
    return 0


def _body(line: str) -> str:
    return line.rstrip("\r\n")


def _first_line_column(line: str, content: str) -> int:
    """Where the item's text starts on its first line (after indentation, quote marks and the marker)."""
    body = _body(line).rstrip()
    first = content.split("\n", 1)[0].strip()
    if first and body.endswith(first):
        return len(body) - len(first)
    match = _MARKER.match(body)
    return match.end() if match else 0


def parse(text: str) -> Document:
    lines = LINES.findall(text)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    skip = front_matter_lines(lines)
    # Front matter is blanked, not removed, so token line numbers stay those of `text`.
    tokens = parser().parse("\n" * skip + "".join(lines[skip:]))
    headings: list[tuple[int, str]] = []
    lead: str | None = None
    spans: list[tuple[int, int, Bullet]] = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            level = int(token.tag[1])
            title = _inline(tokens, index + 1)
            headings = [h for h in headings if h[0] < level] + [(level, title)]
            lead = None
        elif token.type == "paragraph_open" and token.level == 0 and token.map:
            lead = _inline(tokens, index + 1).split("\n", 1)[0].strip() or lead
        elif token.type == "list_item_open":
            span = _item(tokens, index, lines, offsets)
            if span is not None:
                start, end, first, count = span
                continuation = _PREFIX.match(_body(lines[first + 1])).group() if count > 1 else ""  # type: ignore[union-attr]
                bullet = Bullet(
                    number=0,
                    text=" ".join(_inline(tokens, index + 2).split()),
                    source="",
                    sections=tuple(title for _, title in headings),
                    lead=lead,
                    column=start - offsets[first],
                    continuation=continuation,
                    width=max(len(_body(line)) for line in lines[first : first + count]) if count > 1 else 0,
                    newline=lines[first][len(_body(lines[first])) :] or "\n",
                )
                spans.append((start, end, bullet))
    return build("markdown", text, spans)


def _inline(tokens: list[Token], index: int) -> str:
    if index < len(tokens) and tokens[index].type == "inline":
        return tokens[index].content
    return ""


def _item(tokens: list[Token], index: int, lines: list[str], offsets: list[int]) -> tuple[int, int, int, int] | None:
    """(start offset, end offset, first line, line count) of a list item's first paragraph, if it has one."""
    item = tokens[index]
    if index + 2 >= len(tokens) or item.map is None:
        return None
    paragraph = tokens[index + 1]
    if paragraph.type != "paragraph_open" or paragraph.map is None or paragraph.map[0] != item.map[0]:
        return None
    content = _inline(tokens, index + 2)
    if not content.strip():
        return None
    first, last = paragraph.map[0], paragraph.map[1] - 1
    start = offsets[first] + _first_line_column(lines[first], content)
    end = offsets[last] + len(_body(lines[last]).rstrip())
    if end <= start:
        return None
    return start, end, first, last - first + 1
