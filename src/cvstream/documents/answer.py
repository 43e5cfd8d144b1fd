"""Reading the streamed `[n] text` answer and putting the document back together as it arrives.

`AnswerReader` is fed text deltas and yields `(n, text)` as soon as each line is complete. `Assembler` takes
those and returns the document text that can now be written: everything up to and including bullet n,
then the kept text up to the next bullet. Nothing is lost: a bullet whose line never arrives, or whose
rewrite is unusable, keeps its original text; duplicates, numbers out of range and numbers already passed
are ignored; text outside `[n]` lines never reaches the document.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from cvstream.documents.model import Bullet, Document

# `[3] text`, tolerating spaces or a list marker before it, bold around the number (`**[3]**`), or the
# number written as a list item (`3. text`, `3) text`), as models sometimes do despite the instructions.
_LINE = re.compile(r"\s*(?:[-*+]\s+)?(?:\*\*)?(?:\[(\d{1,6})\]|(\d{1,6})[.)](?=\s))(?:\*\*)?[ \t]*(.*)")
# A second `[m] ` inside one line: the model merged two lines.
_INNER = re.compile(r"\s\[(\d{1,6})\]\s")


class AnswerReader:
    """Incremental: holds only the unfinished last line."""

    def __init__(self) -> None:
        self._tail = ""
        self.stray_lines = 0  # non-empty lines that were not `[n] text`

    def feed(self, text: str) -> list[tuple[int, str]]:
        if "\n" not in text:
            self._tail += text
            return []
        *lines, self._tail = (self._tail + text).split("\n")
        out: list[tuple[int, str]] = []
        for line in lines:
            out.extend(self._line(line))
        return out

    def close(self, complete: bool) -> list[tuple[int, str]]:
        """The last line, if the answer ended normally (a line cut off mid-stream is not used)."""
        tail, self._tail = self._tail, ""
        return self._line(tail) if complete else []

    def _line(self, line: str) -> list[tuple[int, str]]:
        match = _LINE.fullmatch(line.rstrip("\r"))
        if match is None:
            if line.strip():
                self.stray_lines += 1
            return []
        number, text = int(match.group(1) or match.group(2)), match.group(3)
        out: list[tuple[int, str]] = []
        for inner in _INNER.finditer(text):
            if int(inner.group(1)) > number:  # `[2] a [3] b`: split, so [3] is not lost inside [2]
                out.append((number, text[: inner.start()]))
                out.extend(self._line(text[inner.start() :]))
                return out
        return [(number, text.strip())]


@dataclass(frozen=True, slots=True)
class Done:
    """One bullet as it went into the document."""

    bullet: Bullet
    after: str | None  # the rewritten text; None = kept as it was
    reason: str | None = None  # why it was kept (None when rewritten)


@dataclass
class Assembler:
    document: Document
    check: Callable[[str], str | None] = lambda text: None  # why a rewrite is unusable, or None
    fix: Callable[[str], str] = lambda text: text  # what a usable rewrite needs (LaTeX: `{}` before a `[`)
    rewrites: dict[int, str] = field(default_factory=dict)
    kept: list[Done] = field(default_factory=list)
    ignored: int = 0  # duplicate, out-of-range or out-of-order lines
    count: int = 0  # how many bullets the document has (set from it)
    _next: int = 0  # index of the first part not yet emitted
    _passed: int = 0  # the last bullet number emitted

    def __post_init__(self) -> None:
        self.count = len(self.document.bullets)

    def start(self) -> tuple[str, list[Done]]:
        """The kept text before the first bullet."""
        return self._emit(0)

    def accept(self, number: int, text: str) -> tuple[str, list[Done]]:
        """Take `[number] text`; return the document text that is now final and the bullets in it."""
        if not 1 <= number <= self.count or number <= self._passed:
            self.ignored += 1
            return "", []
        reason = "empty" if not text.strip() else self.check(text)
        if reason is None:
            self.rewrites[number] = self.fix(text)
        return self._emit(number, {number: reason} if reason else {})

    def finish(self) -> tuple[str, list[Done]]:
        """Everything not yet emitted, with the originals of the bullets that never arrived."""
        return self._emit(self.count)

    def _emit(self, through: int, refused: dict[int, str] | None = None) -> tuple[str, list[Done]]:
        parts = self.document.parts
        out: list[str] = []
        done: list[Done] = []
        while self._next < len(parts):
            part = parts[self._next]
            if isinstance(part, Bullet):
                if part.number > through:
                    break
                after = self.rewrites.get(part.number)
                if after is None:
                    reason = (refused or {}).get(part.number, "no rewrite came back")
                    item = Done(part, None, reason)
                    self.kept.append(item)
                    out.append(part.source)
                else:
                    item = Done(part, after)
                    out.append(part.render(after))
                done.append(item)
                self._passed = part.number
            else:
                out.append(part)
            self._next += 1
        return "".join(out), done

    def kept_line(self) -> str | None:
        """One warning line naming the bullets kept as they were, or None when every bullet was rewritten."""
        if not self.kept:
            return None
        numbers = ", ".join(str(d.bullet.number) for d in self.kept)
        reasons = sorted({d.reason or "" for d in self.kept})
        noun = "bullet" if self.count == 1 else "bullets"
        return f"{len(self.kept)} of {self.count} {noun} kept as they were ({'; '.join(reasons)}): {numbers}"
