"""`--sse`: the web route's wire format, also used by `cvstream serve`.

`data: {"text": "<chunk>"}` and a blank line per text delta, `data: [DONE]` and a blank line at the
end. JSON is ASCII-escaped, so a reader that decodes each network chunk on its own (as the web app's
browser loop does) can never split a multi-byte character. A failure ends the stream without
`[DONE]`, after an SSE comment line naming the error, which such readers ignore.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any, BinaryIO

from cvstream.errors import CvstreamError
from cvstream.events import Event, TextDelta
from cvstream.usage import Summary

DONE = b"data: [DONE]\n\n"


def text_frame(text: str) -> bytes:
    # exactly json.dumps({"text": text}), at a tenth of its cost (this runs once per delta)
    return b'data: {"text": ' + encode_basestring_ascii(text).encode() + b"}\n\n"


def comment_frame(label: str, value: Any) -> bytes:
    """An SSE comment line (`: label ...`), ignored by EventSource and by the app's loop."""
    body = json.dumps(value) if not isinstance(value, str) else value
    return f": {label} {' '.join(body.splitlines())}\n\n".encode()


class SseSink:
    wants_raw = False

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def event(self, event: Event) -> None:
        if type(event) is TextDelta and event.text:
            self._out.write(text_frame(event.text))
            self._out.flush()

    def finish(self, summary: Summary, error: CvstreamError | None) -> None:
        if error is not None:
            self._out.write(comment_frame("error", error.message))
        else:
            self._out.write(DONE)
        self._out.flush()
