"""What one document run needs besides the request: the parsed document, where it came from, the options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cvstream.documents.model import Document

if TYPE_CHECKING:
    from cvstream.documents.docx import WordFile


@dataclass
class DocumentJob:
    """One document to rewrite: its name (for diffs and messages), the parsed document and what to write."""

    name: str
    document: Document
    bom: bool = False  # the file began with a byte order mark: it is written back
    word: WordFile | None = None  # a .docx: the output file is made from this
    path: Path | None = None  # the input file (for --in-place)


@dataclass(frozen=True)
class DocumentOptions:
    strict: bool = False
    diff: bool = False
    in_place: bool = False
    backup: bool = True
