"""Word CVs (.docx, with python-docx): the bullets are list paragraphs, rewritten in a copy of the file.

A list paragraph has numbering properties (`w:numPr`, what Word's bullet button adds) or a `List ...` style.
The document is also given a Markdown view (headings as `#`, list paragraphs as `- ` items, other paragraphs
as paragraphs, table cells in reading order) so it can stream live on the terminal and be diffed like the
text formats; `write` makes the new file: each rewritten paragraph's text goes into its first run, which
keeps that run's formatting for the whole paragraph, and the other runs are emptied. A paragraph with a
hyperlink is kept as it is (its text cannot move into a run without losing the link).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cvstream.documents.model import Bullet, Document, build

if TYPE_CHECKING:
    from docx.text.paragraph import Paragraph

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@dataclass
class WordFile:
    """The parsed file and the paragraph of each bullet (by number), for `write`."""

    package: Any  # docx.document.Document
    paragraphs: dict[int, Paragraph]


def _paragraphs(container: Any) -> Iterator[Paragraph]:
    """Every paragraph in reading order, the paragraphs of table cells included."""
    from docx.table import Table

    for block in container.iter_inner_content():
        if isinstance(block, Table):
            seen: set[Any] = set()  # a merged cell repeats in `row.cells`: its first paragraph's element is its id
            for row in block.rows:
                for cell in row.cells:
                    key = cell.paragraphs[0].paragraph_format.element if cell.paragraphs else None
                    if key is not None and key in seen:
                        continue
                    seen.add(key)
                    yield from _paragraphs(cell)
        else:
            yield block


def _list_level(paragraph: Paragraph) -> int | None:
    """The list level of a list paragraph (0 = top), or None if it is not one."""
    element = paragraph.paragraph_format.element
    num_pr = element.find(f"{_W}pPr/{_W}numPr")
    if num_pr is not None:
        level = num_pr.find(f"{_W}ilvl")
        value = level.get(f"{_W}val") if level is not None else None
        return int(value) if value and value.isdigit() else 0
    name = paragraph.style.name if paragraph.style is not None else ""
    if name and name.startswith("List"):
        digits = name.rsplit(" ", 1)[-1]
        return int(digits) - 1 if digits.isdigit() else 0
    return None


def _heading_level(paragraph: Paragraph) -> int | None:
    name = paragraph.style.name if paragraph.style is not None else ""
    if name == "Title":
        return 1
    if name and name.startswith("Heading"):
        digits = name.rsplit(" ", 1)[-1]
        return min(6, int(digits) + 1) if digits.isdigit() else 2  # below the Title
    return None


def parse(data: bytes) -> tuple[Document, WordFile]:
    import docx

    package = docx.Document(io.BytesIO(data))
    text_parts: list[str] = []
    spans: list[tuple[int, int, Bullet]] = []
    order: list[Paragraph] = []
    headings: list[tuple[int, str]] = []
    lead: str | None = None
    length = 0
    in_list = False

    def add(text: str) -> None:
        nonlocal length
        text_parts.append(text)
        length += len(text)

    for paragraph in _paragraphs(package):
        text = " ".join(paragraph.text.split())
        level = _list_level(paragraph)
        if level is not None and text:
            in_list = True
            add("  " * level + "- ")
            if paragraph.hyperlinks or not paragraph.runs:
                add(text)
            else:
                bullet = Bullet(0, text, "", tuple(t for _, t in headings), lead, column=2 + 2 * level)
                spans.append((length, length + len(text), bullet))
                order.append(paragraph)
                add(text)
            add("\n")
            continue
        if in_list:
            add("\n")
            in_list = False
        if not text:
            continue
        heading = _heading_level(paragraph)
        if heading is not None:
            headings = [h for h in headings if h[0] < heading] + [(heading, text)]
            lead = None
            add("#" * heading + " " + text + "\n\n")
        else:
            lead = text
            add(text + "\n\n")
    document = build("docx", "".join(text_parts), spans)
    return document, WordFile(package, dict(zip(range(1, len(order) + 1), order, strict=True)))


def write(word: WordFile, rewrites: dict[int, str]) -> bytes:
    """The .docx with the given bullets' text replaced."""
    for number, text in rewrites.items():
        paragraph = word.paragraphs.get(number)
        if paragraph is None or not paragraph.runs:
            continue
        first, *rest = paragraph.runs
        first.text = text
        for run in rest:
            run.text = ""
    out = io.BytesIO()
    word.package.save(out)
    return out.getvalue()
