"""The document sink: a whole CV comes back with its bullets rewritten in place, as the answer streams.

It is fed the same events as every sink. Text deltas go to an `AnswerReader`; each completed `[n]` line
goes to an `Assembler`, which returns the document text that is now final; that text goes to the outputs:
- the document itself (`out`): raw bytes in a pipe or a file (--out-dir, --in-place), or a view on the
  terminal (Markdown rendered live for Markdown and Word, plain text for the others);
- with --diff, the changes instead: on a terminal each bullet before and after with the changed words
  highlighted, in a pipe a unified diff at the end (`patch -p1`, `git apply`);
- with --json, a `cvstream.bullet` line per bullet besides the API events.
Every other event goes to the view (thinking, tool blocks) or to the NDJSON sink. At the end the bullets
that never came back are written as they were, one warning line names them, and with --strict that is an
error (exit 6). A Word file is written whole at the end, from its parsed copy.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from cvstream.documents.answer import AnswerReader, Assembler, Done
from cvstream.documents.job import DocumentJob, DocumentOptions
from cvstream.errors import CvstreamError, IncompleteError, OutputError
from cvstream.events import Event, RawEvent, TextDelta
from cvstream.sinks import Sink
from cvstream.usage import Summary

if TYPE_CHECKING:
    from rich.console import Console


class DocumentSink:
    def __init__(
        self,
        job: DocumentJob,
        options: DocumentOptions,
        *,
        out: BinaryIO | None = None,
        view: Sink | None = None,
        ndjson: Sink | None = None,
        console: Console | None = None,
        warn: Callable[[str], None] = lambda text: None,
        label: str | None = None,
    ) -> None:
        from cvstream.documents import checker, fixer

        self.job, self.options = job, options
        self.wants_raw = ndjson is not None
        self.error: CvstreamError | None = None  # set by finish when --strict finds kept bullets
        self._out = out  # document bytes (or a unified diff at the end, with --diff)
        self._view = view  # a terminal sink shown the document text
        self._ndjson = ndjson
        self._console = console  # --diff on a terminal
        self._warn, self._label = warn, label
        self._reader = AnswerReader()
        self._assembler = Assembler(job.document, checker(job.document.kind), fixer(job.document.kind))
        self._begun = False
        self._in_place: tuple[BinaryIO, str] | None = None
        if options.in_place:
            assert job.path is not None
            fd, tmp = tempfile.mkstemp(dir=job.path.parent, prefix=f".{job.path.name}.", suffix=".tmp")
            self._in_place = (os.fdopen(fd, "wb"), tmp)

    # -- writing ----------------------------------------------------------------------------------------
    def _write(self, text: str, done: list[Done]) -> None:
        if self.options.diff:
            if self._console is not None:
                for item in done:
                    self._show_change(item)
        elif text:
            self._document_text(text)
        if self._ndjson is not None and self._out is not None:
            for item in done:
                self._out.write(json.dumps(self._bullet_event(item), ensure_ascii=False).encode() + b"\n")
            if done:
                self._out.flush()

    def _document_text(self, text: str) -> None:
        if self.job.word is None:  # a Word file is written whole at the end
            if self._in_place is not None:
                self._in_place[0].write(text.encode())
                self._in_place[0].flush()  # what arrived is on disk, for NAME.partial after a kill
            if self._out is not None and self._ndjson is None and self._in_place is None:
                self._out.write(text.encode())
                self._out.flush()
        if self._view is not None:
            self._view.event(TextDelta(text))

    def _bullet_event(self, item: Done) -> dict[str, Any]:
        line: dict[str, Any] = {"type": "cvstream.bullet"}
        if self._label is not None:
            line["input"] = self._label
        line.update(
            number=item.bullet.number,
            context=item.bullet.context,
            before=item.bullet.text,
            after=item.after if item.after is not None else item.bullet.text,
            rewritten=item.after is not None,
        )
        if item.reason is not None:
            line["kept_because"] = item.reason
        return line

    def _show_change(self, item: Done) -> None:
        from rich.text import Text

        from cvstream.documents.diff import word_changes

        assert self._console is not None
        bullet = item.bullet
        self._console.print(Text(f"[{bullet.number}] {bullet.context}", style="bold"))
        if item.after is None:
            self._console.print(Text(f"  {bullet.text}", style="dim"))
            self._console.print(Text(f"  kept as it was ({item.reason})", style="yellow"))
            self._console.print()
            return
        before, after = Text("- ", style="red"), Text("+ ", style="green")
        for kind, words in word_changes(bullet.text, item.after):
            if kind != "added":
                before.append(words + " ", style="red strike" if kind == "removed" else None)
            if kind != "removed":
                after.append(words + " ", style="bold green" if kind == "added" else None)
        self._console.print(before)
        self._console.print(after)
        self._console.print()

    # -- events -----------------------------------------------------------------------------------------
    def event(self, event: Event) -> None:
        if type(event) is TextDelta:
            if not self._begun:
                self._begin()
            for number, text in self._reader.feed(event.text):
                self._write(*self._assembler.accept(number, text))
            return
        if type(event) is RawEvent:
            if self._ndjson is not None:
                self._ndjson.event(event)
            return
        if self._view is not None and not self.options.diff:
            self._view.event(event)
        elif self._ndjson is not None:
            self._ndjson.event(event)

    def _begin(self) -> None:
        self._begun = True
        if self.job.bom and not self.options.diff:
            self._document_text("\ufeff")
        self._write(*self._assembler.start())

    def finish(self, summary: Summary, error: CvstreamError | None) -> None:
        complete = error is None and summary.stop_reason != "max_tokens"
        if error is None and not self._begun:
            self._begin()  # an empty answer: the document comes back as it was
        if self._begun:
            for number, text in self._reader.close(complete):
                self._write(*self._assembler.accept(number, text))
            self._write(*self._assembler.finish())
        kept = self._assembler.kept_line()
        if kept is not None and self._begun and self.options.strict and error is None:
            self.error = IncompleteError(
                f"{len(self._assembler.kept)} bullets did not come back rewritten (--strict)",
                "run again, or drop --strict to keep those bullets as they were",
            )
        failed = error is not None or self.error is not None
        if self.options.diff and self._console is None and self._out is not None and self._begun:
            self._out.write(self._unified().encode())
            self._out.flush()
        if self.job.word is not None and self._begun and self._out is not None and not self.options.diff:
            self._out.write(self._word_bytes())
            self._out.flush()
        if self._view is not None:
            self._view.finish(summary, error)  # before any warning: a line under a live region would break it
        if kept is not None and self._begun:
            self._warn(f"warning: {(self._label + ': ') if self._label else ''}{kept}")
        if self._in_place is not None:
            self._finish_in_place(failed)
        if self._ndjson is not None:
            self._ndjson.finish(summary, error or self.error)

    # -- results ------------------------------------------------------------------------------------------
    def _new_text(self) -> str:
        return self.job.document.with_rewrites(self._assembler.rewrites)

    def _unified(self) -> str:
        from cvstream.documents.diff import unified

        return unified(self.job.name, self.job.document.original(), self._new_text())

    def _word_bytes(self) -> bytes:
        from cvstream.documents import docx

        assert self.job.word is not None
        return docx.write(self.job.word, self._assembler.rewrites)

    def _finish_in_place(self, failed: bool) -> None:
        """After a complete answer: replace the file atomically, same permissions, NAME.orig kept unless
        --no-backup. Otherwise the file is untouched and what arrived is kept in NAME.partial."""
        assert self._in_place is not None and self.job.path is not None
        handle, tmp = self._in_place
        path = self.job.path
        try:
            if self.job.word is not None and self._begun:
                handle.write(self._word_bytes())
            handle.close()
            if failed:
                if self._begun:
                    os.replace(tmp, path.with_name(path.name + ".partial"))
                    self._warn(f"warning: {path.name} was not changed; what arrived is in {path.name}.partial")
                return
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
            if self.options.backup:
                shutil.copy2(path, path.with_name(path.name + ".orig"))
            os.replace(tmp, path)
        except OSError as exc:
            self.error = OutputError(f"cannot write {path} ({exc.strerror or exc})", "the file was not changed")
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
