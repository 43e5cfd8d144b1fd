"""`--json`: every server-sent event as the API sent it, one JSON object per line, then a summary line.

With several inputs on one stdout every line also carries `"input": "<label>"` (added as the first
key), so the whole output stays pure NDJSON that `jq` can split by input.
"""

from __future__ import annotations

import json
from typing import BinaryIO

from cvstream.errors import CvstreamError
from cvstream.events import Event, RawEvent
from cvstream.usage import Summary


class NdjsonSink:
    wants_raw = True

    def __init__(self, out: BinaryIO, *, label: str | None = None) -> None:
        self._out = out
        self._label = label

    def event(self, event: Event) -> None:
        if type(event) is RawEvent:
            data = event.data
            if self._label is not None:  # several inputs: the label first, then the event's fields as sent
                data = json.dumps({"input": self._label, **json.loads(data)}, ensure_ascii=False)
            elif "\n" in data or "\r" in data:  # a multi-line data field: one line per object, same JSON
                data = json.dumps(json.loads(data), ensure_ascii=False)
            self._out.write(data.encode() + b"\n")
            self._out.flush()

    def finish(self, summary: Summary, error: CvstreamError | None) -> None:
        line = summary.as_json()
        if error is not None:
            line["error"] = {"exit_status": int(error.status), "kind": error.kind, "message": error.message}
        if self._label is not None:
            line = {"input": self._label, **line}
        text = json.dumps(line)
        self._out.write(text.encode() + b"\n")
        self._out.flush()
