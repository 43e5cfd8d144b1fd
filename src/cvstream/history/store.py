"""Recording answers as they stream: a row when the answer begins, its text every 2 s, the outcome at the end.

A `Recorder` holds the run's one connection (shared by `--jobs` worker threads behind a lock). Each
answer gets a `Recording`, an observer of that answer's event stream: the run path hands it every
event (with the time it already read for the usage fold) and, at the end, the summary and the error.
Per delta it writes the text to a buffer and compares two floats; a write happens when the answer
begins, at most every `PROGRESS_EVERY` seconds after that, and once at the end. So a Ctrl-C, a
failure mid-answer, SIGTERM or even SIGKILL leaves what arrived (up to the last 2 s for SIGKILL) with
status `partial`, and a request that fails before any answer is kept as `failed` with its error. The
full-text index takes the answer once, at the end (a row cut by SIGKILL is found by its message only).

The history must never cost the user an answer: any SQLite failure (read-only disk, corrupt file,
full disk) prints one warning naming the file and the reason, recording stops, the answer streams on.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvstream.errors import CvstreamError, redact
from cvstream.events import Event, MessageStarted, TextDelta, ThinkingDelta
from cvstream.history.db import HistoryError, connect, db_path, logging_enabled, write_transaction

if TYPE_CHECKING:
    from cvstream.usage import Summary

PROGRESS_EVERY = 2.0  # seconds between writes of the text so far

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base 32, lower case


def new_id(now: float | None = None) -> str:
    """A 26-character ULID-like id: 48 bits of milliseconds then 80 random bits; ids sort by time."""
    ms = int((time.time() if now is None else now) * 1000)
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


@dataclass(frozen=True)  # (no slots: a slotted dataclass is built twice, at import)
class AnswerMeta:
    """What is known of an answer before it begins."""

    conversation_id: str | None  # None: the answer starts a conversation (whose id is then the answer's)
    command: str
    label: str | None
    model: str
    method: str
    system: str | None
    message: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls, params: Mapping[str, Any], *, conversation_id: str | None, command: str, label: str | None, method: str
    ) -> AnswerMeta:
        """From a request's parameters: the last message is the one recorded; the earlier turns are
        already in the history and the system text has its own column, so neither is kept twice."""
        system = params.get("system")
        kept = {k: v for k, v in params.items() if k not in ("messages", "system")}
        return cls(
            conversation_id=conversation_id,
            command=command,
            label=label,
            model=str(params["model"]),
            method=method,
            system=system if isinstance(system, str) else None,
            message=str(params["messages"][-1]["content"]),
            params={**kept, "method": method},
        )


class Recorder:
    """The history of one run: opened once, shared by every answer of the run (and their threads)."""

    def __init__(self, path: Path, warn: Callable[[str], None], secrets: Iterable[str] = ()) -> None:
        self.path = path
        self._warn = warn
        self._secrets = tuple(secrets)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._broken = False
        try:
            self._conn = connect(path)
            # It writes and hardly reads: a 256 KB page cache, not 2 MB, keeps a long answer's pages out of memory.
            self._conn.execute("PRAGMA cache_size = -256")
            self._index_ended()
        except HistoryError as exc:
            self._fail(exc.reason)
        except sqlite3.Error as exc:
            self._fail(str(exc))

    @property
    def working(self) -> bool:
        return self._conn is not None and not self._broken

    @property
    def connection(self) -> sqlite3.Connection | None:
        return self._conn if self.working else None

    def recording(self, meta: AnswerMeta) -> Recording:
        return Recording(self, meta)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except sqlite3.Error:
                    pass
                self._conn = None

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def _index_ended(self) -> None:
        """Index the answers that ended but are still listed as unindexed: the index write at their end failed
        (a full disk) or never ran (a signal raised between the two writes of `Recording.end`). Their text is
        final (no process writes a row again after its end), so any run may index it; a failure here leaves
        them listed, as they were, and the first write of the run warns if the file cannot be written."""
        assert self._conn is not None
        try:
            for (answer_id,) in self._conn.execute(_ENDED_UNINDEXED).fetchall():
                self._conn.execute(_INDEX, (answer_id,))
        except sqlite3.Error:
            pass

    def write(self, sql: str, args: tuple[Any, ...], failed: str | None = None) -> bool:
        """Run one statement (its own transaction); on any failure warn once (`failed`, with the file and the
        reason, says what was lost) and stop recording."""
        with self._lock:
            if self._conn is None or self._broken:
                return False
            try:
                self._conn.execute(sql, args)
                return True
            except sqlite3.Error as exc:
                self._fail(str(exc), failed)
                return False

    def write_many(self, sql: str, rows: list[tuple[Any, ...]]) -> bool:
        """Run one statement per row, all in one transaction (many answers at once, as a batch's results)."""
        with self._lock:
            if self._conn is None or self._broken:
                return False
            try:
                with write_transaction(self._conn):
                    self._conn.executemany(sql, rows)
                return True
            except sqlite3.Error as exc:
                self._fail(str(exc))
                return False

    def read(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """The rows of one query; on any failure warn once, stop recording and return none."""
        with self._lock:
            if self._conn is None or self._broken:
                return []
            try:
                return list(self._conn.execute(sql, args))
            except sqlite3.Error as exc:
                self._fail(str(exc))
                return []

    def _fail(self, reason: str, failed: str | None = None) -> None:
        if not self._broken:
            self._broken = True
            what = (failed or "the answer is not recorded in {path}").format(path=self.path)
            self._warn(f"warning: {what} ({reason})")


_INSERT = """INSERT INTO answers (id, conversation_id, created, command, label, model, method, system, message,
    answer, thinking, status, params) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'partial', ?)"""
_PROGRESS = "UPDATE answers SET answer = ?, thinking = ? WHERE id = ?"
_END = """UPDATE answers SET answer = ?, thinking = ?, model = ?, stop_reason = ?, status = ?, error_kind = ?,
    error_message = ?, input_tokens = ?, output_tokens = ?, cache_read_tokens = ?, cache_write_tokens = ?,
    ttft = ?, duration = ? WHERE id = ?"""
# Inserted `partial`, the row is listed as not indexed by the insert trigger until it ends (history/db.py):
# one statement, so nothing (not a Ctrl-C raised between two statements) can leave a row without its listing.
# A transaction of its own after _END: the full-text index then tokenizes the answer once the row is written,
# so SQLite never holds the row's pages and copies and the index's working memory at once (one transaction
# for both: +1 MB of peak memory at 100,000 deltas, for 0.3 ms). Its trigger reads the row, never rewrites it.
_INDEX = "DELETE FROM answers_unindexed WHERE id = ?"
_NOT_INDEXED = "the answer is recorded in {path} but not in its full-text index until the next run that records"
# Ended (only the end writes `duration`) yet listed: its index write failed or never ran.
_ENDED_UNINDEXED = "SELECT u.id FROM answers_unindexed u JOIN answers a ON a.id = u.id WHERE a.duration IS NOT NULL"


class TextBuffer:
    """An answer's text so far, kept as pieces of a few hundred deltas each.

    Not a list of deltas (100,000 small strings cost ~25 MB) and not an io.StringIO, whose buffer grows
    by copying and left ~6 MB of freed copies in the heap at 100,000 deltas (README, Performance)."""

    PIECE = 500  # deltas per piece

    def __init__(self) -> None:
        self._pieces: list[str] = []
        self._pending: list[str] = []

    def write(self, text: str) -> None:
        self._pending.append(text)
        if len(self._pending) >= self.PIECE:
            self._pieces.append("".join(self._pending))
            self._pending.clear()

    def getvalue(self) -> str:
        return "".join([*self._pieces, *self._pending])  # one allocation of the whole text


class Recording:
    """One answer's row: `event` per event, `end` once (later calls do nothing)."""

    def __init__(self, recorder: Recorder, meta: AnswerMeta) -> None:
        self.recorder = recorder
        self.meta = meta
        self.id = new_id()
        self._text = TextBuffer()
        self._thinking = TextBuffer()
        self._begun = False
        self._ended = False
        self._next_write = 0.0
        self._model = meta.model

    def event(self, event: Event, now: float) -> None:
        kind = type(event)
        if kind is TextDelta:
            self._text.write(event.text)  # type: ignore[union-attr]
        elif kind is ThinkingDelta:
            self._thinking.write(event.text)  # type: ignore[union-attr]
        elif kind is MessageStarted and event.model:  # type: ignore[union-attr]
            self._model = event.model  # type: ignore[union-attr]
        if now >= self._next_write:
            self._next_write = now + PROGRESS_EVERY
            if self._begun:
                self.recorder.write(_PROGRESS, (self._text.getvalue(), self._thinking.getvalue(), self.id))
            else:
                self._begin()

    def _begin(self) -> None:
        self._begun = True
        meta = self.meta
        self.recorder.write(
            _INSERT,
            (
                self.id,
                meta.conversation_id or self.id,
                time.time(),
                meta.command,
                meta.label,
                self._model,
                meta.method,
                meta.system,
                meta.message,
                self._text.getvalue(),
                self._thinking.getvalue(),
                json.dumps(dict(meta.params), sort_keys=True),
            ),
        )

    def end(self, summary: Summary, error: CvstreamError | None) -> None:
        if self._ended:
            return
        self._ended = True
        if not self._begun:
            self._begin()
        text, thinking = self._text.getvalue(), self._thinking.getvalue()
        self._text, self._thinking = TextBuffer(), TextBuffer()  # one copy of the text from here on
        if error is None and summary.complete:
            status = "complete"
        elif text or thinking:
            status = "partial"
        else:
            status = "failed"
        u = summary.usage
        ended = (
            text,
            thinking,
            summary.model or self._model,
            summary.stop_reason,
            status,
            None if error is None else error.kind,
            None if error is None else self.recorder.redact(error.message),
            u.input_tokens,
            summary.output_tokens(),  # a cut answer: its estimate
            u.cache_read_tokens,
            u.cache_write_tokens,
            summary.ttft,
            (summary.ended_at or time.monotonic()) - summary.started_at,  # (a cut answer: until now)
            self.id,
        )
        del text, thinking  # the statement's tuple holds the one copy
        if self.recorder.write(_END, ended):
            del ended
            self.recorder.write(_INDEX, (self.id,), _NOT_INDEXED)


def recorder(
    environ: Mapping[str, str], no_log: bool, warn: Callable[[str], None], secrets: Iterable[str] = ()
) -> Recorder | None:
    """An open recorder, or None when logging is off. A database that cannot be opened warns once."""
    if no_log or not logging_enabled(environ)[0]:
        return None
    return Recorder(db_path(environ), warn, secrets)
