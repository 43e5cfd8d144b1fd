"""The request log: one line per request, written by a thread so the event loop never blocks on stderr.

A server whose stderr is a pipe nobody reads must keep answering: lines go into a bounded queue that a
writer thread drains. When the queue is full, lines are dropped and counted, and the count is written
as soon as the writer can write again. Every line is redacted (the API key, the serve token) and made
one line (a client-chosen path cannot forge log lines).
"""

from __future__ import annotations

import io
import logging
import os
import queue
import threading
from collections.abc import Iterable
from typing import TextIO

from cvstream.errors import redact

_STOP = object()


def one_line(text: str, limit: int = 300) -> str:
    """`text` with control characters escaped and cut to `limit` characters (for client-chosen text)."""
    shown = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


class RequestLog:
    """Lines in, written to `stream` by a daemon thread; `line()` never blocks."""

    def __init__(self, stream: TextIO, secrets: Iterable[str | None] = (), capacity: int = 10_000) -> None:
        self._stream = stream
        self._secrets = [s for s in secrets if s]
        self._queue: queue.Queue[object] = queue.Queue(maxsize=capacity)
        self._dropped = 0
        self._lock = threading.Lock()
        self._fd = _raw_fd(stream)
        self._thread = threading.Thread(target=self._run, name="cvstream-serve-log", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        return self._dropped

    def line(self, text: str) -> None:
        try:
            self._queue.put_nowait(redact(text, self._secrets))
        except queue.Full:
            with self._lock:
                self._dropped += 1

    def close(self, timeout: float = 1.0) -> None:
        """Write what is queued, waiting at most `timeout` s (a blocked stderr must not stop the exit)."""
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            text = str(item) + "\n"
            with self._lock:
                dropped, self._dropped = self._dropped, 0
            if dropped:
                text = f"serve: {dropped} log lines dropped (stderr was not read)\n" + text
            try:
                self._write(text)
            except (OSError, ValueError):  # stderr closed: nothing to log to, keep serving
                pass

    def _write(self, text: str) -> None:
        if self._fd is None:
            self._stream.write(text)
            self._stream.flush()
            return
        data = text.encode("utf-8", "replace")
        while data:  # os.write on the descriptor: no Python-level lock shared with the rest of the process
            data = data[os.write(self._fd, data) :]


def _raw_fd(stream: TextIO) -> int | None:
    try:
        fd = stream.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        return None
    try:
        stream.flush()
    except (OSError, ValueError):
        pass
    return fd


class ToRequestLog(logging.Handler):
    """uvicorn's own warnings and errors, as one line each in the request log (never a traceback)."""

    # uvicorn says this when an app ends a response it could not finish; `serve` does that on purpose
    # to a client that stopped reading (`--client-timeout`), and logs that request itself.
    QUIET = ("ASGI callable returned without completing response.",)

    def __init__(self, log: RequestLog) -> None:
        super().__init__(logging.WARNING)
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message in self.QUIET:
            return
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            message += f" ({type(exc).__name__}: {exc})"
        self._log.line("uvicorn: " + one_line(message, 1000))
