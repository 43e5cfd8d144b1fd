"""`--json`: every server-sent event as the API sent it, one JSON object per line, then a summary line."""

from __future__ import annotations

import json
from typing import BinaryIO

from cvstream.errors import CvstreamError
from cvstream.events import Event, RawEvent
from cvstream.usage import Summary


class NdjsonSink:
    wants_raw = True

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def event(self, event: Event) -> None:
        if type(event) is RawEvent:
            data = event.data
            if "\n" in data or "\r" in data:  # a multi-line data field: one line per object, same JSON
                data = json.dumps(json.loads(data), ensure_ascii=False)
            self._out.write(data.encode() + b"\n")
            self._out.flush()

    def finish(self, summary: Summary, error: CvstreamError | None) -> None:
        line = summary.as_json()
        if error is not None:
            line["error"] = {"exit_status": int(error.status), "message": error.message}
        self._out.write(json.dumps(line).encode() + b"\n")
        self._out.flush()
