"""A whole CV document's batch answer -> the whole document, rebuilt as the streaming path rebuilds it.

The answer (`[n] rewritten bullet` lines) goes through the same `DocumentSink` that `cvstream enhance
cv.md` streams into, fed the whole text at once: the same reader, the same assembler, the same checks
(LaTeX braces), a bullet the answer misses or spoils kept as it was, a byte order mark kept, a Word file
written from its parsed copy. The document is the copy kept with the job when it was submitted, so a file
edited or moved since does not change what the answer is put back into.
"""

from __future__ import annotations

import io
from pathlib import Path

from cvstream.batch.state import Input


class MissingSource(Exception):
    """The copy of the document kept with the job is gone (its state directory was cleaned)."""


def rebuild(item: Input, sources: Path, text: str, stop_reason: str | None) -> tuple[bytes, str | None]:
    """(the rewritten document's bytes, the line naming the bullets kept as they were, or None)."""
    from cvstream.documents.job import DocumentOptions
    from cvstream.events import TextDelta
    from cvstream.rewrite import parse_document
    from cvstream.sinks.document import DocumentSink
    from cvstream.usage import Summary

    assert item.document is not None
    try:
        data = (sources / item.document["sha256"]).read_bytes()
    except OSError as exc:
        raise MissingSource(f"the copy of {item.label} kept with the job is gone ({exc.strerror})") from None
    job = parse_document(item.label, data, item.document["kind"])
    out = io.BytesIO()
    warnings: list[str] = []
    sink = DocumentSink(job, DocumentOptions(), out=out, warn=warnings.append)
    if text:
        sink.event(TextDelta(text))
    sink.finish(Summary(stop_reason=stop_reason, complete=True), None)
    kept = warnings[0].removeprefix("warning: ") if warnings else None
    return out.getvalue(), kept
