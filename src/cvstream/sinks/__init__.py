"""Output sinks: one module per output format, all fed the same events.

A sink receives every event of one answer (`event`), then `finish` once, with the summary and the
error that ended the stream, if any. Sinks write the answer; `run.py` writes everything else to stderr.
"""

from __future__ import annotations

from typing import Protocol

from cvstream.errors import CvstreamError
from cvstream.events import Event
from cvstream.usage import Summary


class Sink(Protocol):
    wants_raw: bool  # does it need the raw server-sent events (RawEvent)?

    def event(self, event: Event) -> None: ...

    def finish(self, summary: Summary, error: CvstreamError | None) -> None: ...
