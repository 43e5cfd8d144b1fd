"""Plain-text CVs: each non-empty line is a bullet, except section labels, fields and the lines around them.

The rule (README, "Your whole CV"):
- a section label is kept: a line that ends with `:`, a line in ALL CAPS (two letters or more, none lower
  case), or a line followed by an underline (`===`, `---`, `~~~`; the underline is kept too);
- the lines before the first label (name, contact line) are kept;
- a line without a list marker of the form `Label: value` (`Skills: Python, SQL`, `Email: ...`) is a field
  and is kept; when its label names a section (scope.py: `Skills`, `Education`, `Experience`, ...) it
  also opens that section, so the lines below it belong to it;
- in a section where some lines start with a list marker (`-`, `*`, `+`, `•`, `1.`, `1)`), only those lines are
  bullets and the other lines (a company or role line) are kept and give the bullets below them their context;
  in a section without markers every other non-empty line is a bullet.
A file without any label is a plain bullets file (every line a bullet), handled as before. Which bullets
are then rewritten (not those under Skills or Education, not a `Languages: ...` item) is scope.py's rule.
"""

from __future__ import annotations

import re

from cvstream.documents.markdown import LINES
from cvstream.documents.model import Bullet, Document, build
from cvstream.documents.scope import ACHIEVEMENTS, field_label, kept_heading

MARKER = re.compile(r"[ \t]*(?:[-*+•]|\d{1,9}[.)])[ \t]+(?=\S)")
_UNDERLINE = re.compile(r"[ \t]*(?:={3,}|-{3,}|~{3,})[ \t]*")


def _is_caps(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 2 and not any(c.islower() for c in letters)


def _labels(bodies: list[str]) -> set[int]:
    """Indexes of label lines and underlines."""
    labels: set[int] = set()
    for index, body in enumerate(bodies):
        stripped = body.strip()
        if not stripped or MARKER.match(body):
            continue
        if _UNDERLINE.fullmatch(body):
            if index > 0 and bodies[index - 1].strip() and not MARKER.match(bodies[index - 1]):
                labels.update((index - 1, index))
            continue
        if stripped.endswith(":") or _is_caps(stripped):
            labels.add(index)
    return labels


def is_document(text: str) -> bool:
    """Does this text have section labels (and so is a CV, not a plain list of bullets)?"""
    return bool(_labels([line.rstrip("\r\n") for line in LINES.findall(text)]))


def _fields(bodies: list[str], labels: set[int], start: int) -> dict[int, str | None]:
    """Unmarked `Label: value` lines from `start` on (index -> the section they open, or None): always kept;
    `Skills: Python, SQL` also opens a section named Skills (its lines below are kept too)."""
    fields: dict[int, str | None] = {}
    for index in range(start, len(bodies)):
        body = bodies[index]
        if index in labels or MARKER.match(body) or (label := field_label(body.strip())) is None:
            continue
        fields[index] = label if kept_heading(label) or ACHIEVEMENTS.search(label) else None
    return fields


def parse(text: str) -> Document:
    lines = LINES.findall(text)
    bodies = [line.rstrip("\r\n") for line in lines]
    labels = _labels(bodies)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    spans: list[tuple[int, int, Bullet]] = []
    section: tuple[str, ...] = ()
    index = min(labels) if labels else 0
    opening = next((i for i, body in enumerate(bodies) if not body.strip()), len(bodies))
    if any(i >= opening for i in labels) and not any(MARKER.match(b) for b in bodies[:opening]):
        index = min(i for i in labels if i >= opening)
    fields = _fields(bodies, labels, index) if labels else {}
    opens = labels | {i for i, name in fields.items() if name is not None}
    while index < len(lines):
        if index in opens:
            if fields.get(index) is not None:
                section = (str(fields[index]),)
            elif not _UNDERLINE.fullmatch(bodies[index]) or index - 1 not in labels:
                section = (bodies[index].strip().rstrip(":").strip(),)
            index += 1
            continue
        end = index
        while end < len(lines) and end not in opens:
            end += 1
        marked = any(MARKER.match(bodies[i]) for i in range(index, end))
        lead: str | None = None
        for i in range(index, end):
            body = bodies[i]
            if not body.strip():
                continue
            match = MARKER.match(body)
            if (marked and match is None) or i in fields:
                lead = body.strip()
                continue
            column = match.end() if match else len(body) - len(body.lstrip())
            start, stop = offsets[i] + column, offsets[i] + len(body.rstrip())
            bullet = Bullet(0, " ".join(body[column:].split()), "", section, lead, column=column)
            spans.append((start, stop, bullet))
        index = end
    return build("text", text, spans)
