"""The document sink fed events directly: the document grows as `[n]` lines complete, nothing is lost."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

from cvstream.documents import load_text
from cvstream.documents.job import DocumentJob, DocumentOptions
from cvstream.errors import ExitStatus, IncompleteError
from cvstream.events import MessageDelta, RawEvent, TextDelta, UsageUpdate
from cvstream.sinks.document import DocumentSink
from cvstream.usage import Summary

CV = (
    "# Jane\n\n## Work\n\nAcme — Engineer\n\n"
    "- built the api\n- led a team\n  of four\n- cut costs\n\nReferences on request.\n"
)


def _job(text: str = CV, **extra: object) -> DocumentJob:
    return DocumentJob("cv.md", load_text("markdown", text), **extra)  # type: ignore[arg-type]


def _summary(stop: str = "end_turn") -> Summary:
    summary = Summary()
    summary.fold(MessageDelta(stop, None, UsageUpdate()), 0.0)
    return summary


def test_the_document_grows_as_lines_complete_and_ends_whole() -> None:
    out = io.BytesIO()
    warnings: list[str] = []
    sink = DocumentSink(_job(), DocumentOptions(), out=out, warn=warnings.append)
    sink.event(TextDelta("Sure, here you go:\n[1] Built the"))
    assert out.getvalue() == b"# Jane\n\n## Work\n\nAcme \xe2\x80\x94 Engineer\n\n- "
    sink.event(TextDelta(" API\n"))
    assert out.getvalue().endswith(b"- Built the API\n- ")
    sink.event(TextDelta("[3] Cut costs by rightsizing\n[3] again\n[7] out of range\n"))
    assert (
        out.getvalue()
        .decode()
        .endswith("- led a team\n  of four\n- Cut costs by rightsizing\n\nReferences on request.\n")
    )
    sink.finish(_summary(), None)
    assert out.getvalue().decode() == CV.replace("built the api", "Built the API").replace(
        "cut costs", "Cut costs by rightsizing"
    )
    assert warnings == ["warning: 1 of 3 bullets kept as they were (no rewrite came back): 2"]
    assert sink.error is None


def test_strict_makes_a_kept_bullet_an_error() -> None:
    sink = DocumentSink(_job(), DocumentOptions(strict=True), out=io.BytesIO())
    sink.event(TextDelta("[1] A\n[2] B"))
    sink.finish(_summary(), None)
    assert isinstance(sink.error, IncompleteError) and sink.error.status == ExitStatus.INCOMPLETE


def test_a_stream_cut_mid_bullet_keeps_the_original_for_the_rest() -> None:
    out = io.BytesIO()
    sink = DocumentSink(_job(), DocumentOptions(), out=out)
    sink.event(TextDelta("[1] Built the API\n[2] Led a te"))
    sink.finish(Summary(), IncompleteError("the stream ended early"))
    assert out.getvalue().decode() == CV.replace("built the api", "Built the API")


def test_a_reply_cut_at_max_tokens_does_not_use_its_last_line() -> None:
    out = io.BytesIO()
    sink = DocumentSink(_job(), DocumentOptions(), out=out)
    sink.event(TextDelta("[1] Built the API\n[2] Led a te"))
    sink.finish(_summary("max_tokens"), None)
    assert "Led a te" not in out.getvalue().decode()


def test_a_wrapped_bullet_is_rewrapped_in_the_output() -> None:
    out = io.BytesIO()
    sink = DocumentSink(_job(), DocumentOptions(), out=out)
    sink.event(TextDelta("[2] Led a team of four engineers through a long migration\n"))
    sink.finish(_summary(), None)
    assert "- Led a team\n  of four\n  engineers\n  through a\n  long\n  migration\n" in out.getvalue().decode()


def test_json_carries_a_bullet_event_per_bullet_besides_the_api_events() -> None:
    from cvstream.sinks.ndjson import NdjsonSink

    out = io.BytesIO()
    sink = DocumentSink(_job(), DocumentOptions(), out=out, ndjson=NdjsonSink(out))
    assert sink.wants_raw
    sink.event(RawEvent("content_block_delta", '{"type":"content_block_delta"}'))
    sink.event(TextDelta("[1] Built the API\n[2] Led a team of four\n"))
    sink.finish(_summary(), None)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    bullets = [line for line in lines if line.get("type") == "cvstream.bullet"]
    assert bullets[0] == {
        "type": "cvstream.bullet",
        "number": 1,
        "context": "Jane › Work › Acme — Engineer",
        "before": "built the api",
        "after": "Built the API",
        "rewritten": True,
    }
    assert bullets[2]["rewritten"] is False and bullets[2]["kept_because"] == "no rewrite came back"
    assert lines[0] == {"type": "content_block_delta"}
    assert lines[-1]["type"] == "cvstream.summary"


def test_diff_in_a_pipe_is_a_unified_diff() -> None:
    out = io.BytesIO()
    sink = DocumentSink(_job(), DocumentOptions(diff=True), out=out)
    sink.event(TextDelta("[1] Built the API\n"))
    sink.finish(_summary(), None)
    assert out.getvalue().decode().splitlines()[:3] == ["--- a/cv.md", "+++ b/cv.md", "@@ -4,7 +4,7 @@"]
    assert "-- built the api\n+- Built the API\n" in out.getvalue().decode()


def test_a_byte_order_mark_is_written_back() -> None:
    out = io.BytesIO()
    sink = DocumentSink(_job(bom=True), DocumentOptions(), out=out)
    sink.event(TextDelta("[1] X\n"))
    sink.finish(_summary(), None)
    assert out.getvalue().startswith(b"\xef\xbb\xbf# Jane")


def test_in_place_replaces_the_file_keeping_its_mode_and_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "cv.md"
    path.write_text(CV)
    os.chmod(path, 0o640)
    sink = DocumentSink(_job(path=path), DocumentOptions(in_place=True), out=io.BytesIO())
    sink.event(TextDelta("[1] Built the API\n[2] Led\n[3] Cut\n"))
    sink.finish(_summary(), None)
    assert path.read_text().count("- Built the API\n- Led\n- Cut\n") == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert (tmp_path / "cv.md.orig").read_text() == CV
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cv.md", "cv.md.orig"]


def test_in_place_never_touches_the_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "cv.md"
    path.write_text(CV)
    warnings: list[str] = []
    sink = DocumentSink(_job(path=path), DocumentOptions(in_place=True), out=io.BytesIO(), warn=warnings.append)
    sink.event(TextDelta("[1] Built the API\n"))
    sink.finish(Summary(), IncompleteError("the stream ended early"))
    assert path.read_text() == CV
    assert (tmp_path / "cv.md.partial").read_text() == CV.replace("built the api", "Built the API")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cv.md", "cv.md.partial"]
    assert warnings[-1] == "warning: cv.md was not changed; what arrived is in cv.md.partial"
