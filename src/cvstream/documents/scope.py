"""Pure: which of a document's bullets are achievements to rewrite, and which are kept as they are.

Every reader finds list items; not every list item is an experience or achievement bullet. The rule
(README, "Your whole CV"), the same for every format:

- the nearest heading above a bullet that names a kind of section decides: one naming a section of facts
  rather than achievements (Skills, Languages, Education, Certifications, Contact, Interests, References,
  Summary, ...; see `KEPT`) keeps it, one naming an achievement section (Experience, Projects, ...:
  `ACHIEVEMENTS`; it wins within one heading: `Education & Experience`) or none at all rewrites it;
- a field is kept wherever it is: a `Label: value` item whose label names such a section or a contact
  detail (`Skills: Python, SQL`, `**Languages:** English, German`, `Email: ...`), and an item holding an
  e-mail address or nothing but a link or a phone number;
- `--only TEXT` replaces the section rule (it can name a kept section: `--only Languages`); fields stay kept.

Kept bullets become kept text (their bytes unchanged, not sent); the others are renumbered from 1.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from cvstream.documents.model import Bullet, Document, Part

KEPT = re.compile(
    r"\b(?:skills?|competenc(?:e|es|ies)|expertise|proficienc(?:y|ies)|languages?|tools?|technolog(?:y|ies)"
    r"|tech(?:nical)? stack|stack|frameworks?|education|academic|degrees?|qualifications?|certifi\w*|licen[cs]es?"
    r"|courses?|coursework|training|contacts?|personal|details|e-?mail|phone|mobile|tel|address|location"
    r"|linkedin|github|website|links?|interests?|hobbies|references?|referees?|summary|profile|about"
    r"|objective|publications?|keywords)\b",
    re.IGNORECASE,
)
ACHIEVEMENTS = re.compile(
    r"\b(?:experience|work|employment|career|positions?|roles?|projects?|achievements?|accomplishments?"
    r"|highlights?|volunteer\w*|leadership|internships?|history|jobs?)\b",
    re.IGNORECASE,
)
# `Label: value` once markup is gone: a label of one to four words, then a colon and a value.
_FIELD = re.compile(r"([A-Za-z][\w&/+.' -]{0,40}?)\s*:\s+\S")
_MARKUP = re.compile(r"\\[a-zA-Z]+\*?\s*|[*_`{}]")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_LINK_OR_PHONE = re.compile(r"(?:<?(?:https?://|www\.)\S+>?|\[[^\]]*\]\([^)]*\)|\+?[\d ()./-]{7,})")


def plain(text: str) -> str:
    """The words of a bullet without Markdown emphasis or LaTeX commands (`\\textbf{Skills:}` -> `Skills:`)."""
    return " ".join(_MARKUP.sub(" ", text).split())


def field_label(text: str) -> str | None:
    """The label of a `Label: value` line (`Skills: Python, SQL` -> `Skills`), or None."""
    match = _FIELD.match(plain(text))
    if match is None or len(match.group(1).split()) > 4:
        return None
    return match.group(1).strip()


def kept_heading(title: str) -> bool:
    """Does this heading name a section of facts (skills, education, contact, ...) and no achievements?"""
    return bool(KEPT.search(title)) and not ACHIEVEMENTS.search(title)


def is_field(text: str) -> bool:
    """Is this bullet a field (a skills or contact line), kept wherever it stands?"""
    label = field_label(text)
    if label is not None and kept_heading(label):
        return True
    words = plain(text)
    return bool(_EMAIL.search(words)) or bool(_LINK_OR_PHONE.fullmatch(words))


def is_achievement(bullet: Bullet, patterns: Sequence[str] = ()) -> bool:
    """Is this bullet rewritten: not a field, and under an achievement section (or one --only names)?"""
    if is_field(bullet.text):
        return False
    if patterns:
        wanted = [p.casefold() for p in patterns]
        return any(w in s.casefold() for s in bullet.sections for w in wanted)
    for title in reversed(bullet.sections):  # the nearest heading that names a kind of section decides
        if ACHIEVEMENTS.search(title):
            return True
        if KEPT.search(title):
            return False
    return True


def select(document: Document, patterns: Sequence[str] = ()) -> tuple[Document, list[int]]:
    """The document with only its achievement bullets left as bullets (renumbered from 1), and the original
    number of each of them in order (a Word file's paragraphs are found by number)."""
    parts: list[Part] = []
    numbers: list[int] = []
    for part in document.parts:
        if isinstance(part, Bullet) and is_achievement(part, patterns):
            numbers.append(part.number)
            parts.append(replace(part, number=len(numbers)))
        elif isinstance(part, Bullet):
            parts.append(part.source)
        else:
            parts.append(part)
    merged: list[Part] = []
    for part in parts:  # adjacent kept text is one part
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return Document(document.kind, tuple(merged)), numbers
