"""`--raw` and `--plain`: the answer's text only, written and flushed per delta."""

from __future__ import annotations

from typing import BinaryIO

from cvstream.errors import CvstreamError
from cvstream.events import Event, TextDelta
from cvstream.usage import Summary


class TextSink:
    wants_raw = False

    def __init__(self, out: BinaryIO, *, final_newline: bool = False) -> None:
        self._out = out
        self._final_newline = final_newline  # --plain on a terminal: end on a fresh line
        self._last = "\n"

    def event(self, event: Event) -> None:
        if type(event) is TextDelta and event.text:
            self._out.write(event.text.encode())
            self._out.flush()
            self._last = event.text

    def finish(self, summary: Summary, error: CvstreamError | None) -> None:
        if self._final_newline and not self._last.endswith("\n"):
            self._out.write(b"\n")
            self._out.flush()
