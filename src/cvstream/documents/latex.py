"""LaTeX CVs: the bullets are the `\\item` entries of `itemize` and `enumerate` lists.

An item's text runs from after `\\item` (and its optional `[label]`) to the next `\\item`, `\\begin{...}`,
`\\end{...}` or comment, whichever comes first; trailing spaces stay outside. `\\section{}`, `\\subsection{}`
and `\\subsubsection{}` titles give the heading path, and the last text line above a list (a company or role
line) its lead. Everything else, comments included, is kept byte for byte. A rewrite whose braces do not
balance, or that would add a comment, an `\\item` or an environment boundary, is refused (`check`).
"""

from __future__ import annotations

import re

from cvstream.documents.model import Bullet, Document, build

_LISTS = "itemize|enumerate"
_TOKEN = re.compile(
    r"(?P<comment>(?<!\\)%[^\r\n]*)"
    rf"|\\begin\{{(?P<begin>{_LISTS})\*?\}}"
    rf"|\\end\{{(?P<end>{_LISTS})\*?\}}"
    r"|\\begin\{[^}]*\}|\\end\{[^}]*\}"
    r"|(?P<item>\\item(?![A-Za-z@]))"
    r"|\\(?P<section>(?:sub){0,2})section\*?\{"
)
_LABEL = re.compile(r"[ \t]*\[[^\]\r\n]*\]")
_SPACE = re.compile(r"\s*")
_COMMENT = re.compile(r"(?<!\\)%.*")


def _group(text: str, start: int) -> tuple[str, int]:
    """The contents of the brace group opened just before `start`, and the offset after its `}`."""
    depth = 1
    index = start
    while index < len(text) and depth:
        char = text[index]
        if char == "\\":
            index += 2
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        index += 1
    return text[start : index - 1], index


def _lead(text: str, start: int, end: int) -> str | None:
    """The last non-blank, non-comment line of text[start:end], spaces collapsed."""
    for line in reversed(text[start:end].splitlines()):
        stripped = _COMMENT.sub("", line).strip()
        if stripped and not stripped.startswith("%") and not stripped.startswith("\\begin"):
            return " ".join(stripped.split())
    return None


def parse(text: str) -> Document:
    spans: list[tuple[int, int, Bullet]] = []
    headings: list[tuple[int, str]] = []
    depth = 0
    after_heading = 0
    lead: str | None = None
    item_start: int | None = None

    def close(end: int) -> None:
        nonlocal item_start
        if item_start is None:
            return
        stop = end
        while stop > item_start and text[stop - 1].isspace():
            stop -= 1
        if stop > item_start:
            spans.append((item_start, stop, _bullet(text, item_start, stop, headings, lead)))
        item_start = None

    for match in _TOKEN.finditer(text):
        if match.group("section") is not None:
            close(match.start())
            title, after = _group(text, match.end())
            level = len(match.group("section")) // 3
            headings = [h for h in headings if h[0] < level] + [(level, " ".join(title.split()))]
            after_heading, lead = after, None
            continue
        close(match.start())
        if match.group("begin"):
            if depth == 0:
                lead = _lead(text, after_heading, match.start())
            depth += 1
        elif match.group("end"):
            depth = max(0, depth - 1)
            after_heading = max(after_heading, match.end()) if depth == 0 else after_heading
        elif match.group("item") and depth:
            position = match.end()
            label = _LABEL.match(text, position)
            if label:
                position = label.end()
            item_start = _SPACE.match(text, position).end()  # type: ignore[union-attr]
    close(len(text))
    return build("latex", text, spans)


def _bullet(text: str, start: int, stop: int, headings: list[tuple[int, str]], lead: str | None) -> Bullet:
    source = text[start:stop]
    line_start = text.rfind("\n", 0, start) + 1
    lines = source.splitlines()
    multi = len(lines) > 1
    continuation = ""
    width = 0
    if multi:
        second = lines[1]
        continuation = second[: len(second) - len(second.lstrip())]
        first_width = start - line_start + len(lines[0])
        width = max(first_width, *(len(line) for line in lines[1:]))
    newline = "\r\n" if "\r\n" in source else "\n"
    return Bullet(
        number=0,
        text=" ".join(source.split()),
        source="",
        sections=tuple(title for _, title in headings),
        lead=lead,
        column=start - line_start,
        continuation=continuation,
        width=width,
        newline=newline,
    )


_FORBIDDEN = re.compile(r"(?<!\\)%|\\item(?![A-Za-z@])|\\begin\{|\\end\{|\\(?:sub){0,2}section")


def fix(text: str) -> str:
    """A rewrite that starts with `[` would become the `\\item`'s optional label: `{}` in front prevents it."""
    return "{}" + text if text.lstrip().startswith("[") else text


def check(text: str) -> str | None:
    """Why a rewritten item cannot go into the document, or None if it can."""
    depth = 0
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return "unbalanced braces"
        index += 1
    if depth:
        return "unbalanced braces"
    if _FORBIDDEN.search(text):
        return "a comment, \\item or environment boundary"
    return None
