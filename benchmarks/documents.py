"""Rewriting a whole CV costs little over printing the raw answer: a 400-bullet CV (about 60 KB of Markdown).

    python benchmarks/documents.py [--quick]

Two measurements, side by side, run by hand (never timed in CI):
1. in process: the same answer (400 `[n]` lines, split into token-sized deltas as the API sends them) fed
   to the --raw sink and to the document sink (parsing the CV included); CPU time and peak traced memory;
2. end to end: against `cvstream mock --text ANSWER` (the same stream for every request, as fast as it can
   go), `cvstream enhance cv.md` (the document) and `cvstream ask --raw < cv.md` (a request as big, the
   same stream printed as it is): the child's CPU time from wait4 and peak RSS.
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from _common import CVSTREAM, best_of, client_env, mock_process, row

from cvstream.documents import load_text
from cvstream.documents.job import DocumentJob, DocumentOptions
from cvstream.events import MessageDelta, TextDelta, UsageUpdate
from cvstream.mock.replies import split_deltas
from cvstream.sinks.document import DocumentSink
from cvstream.sinks.text import TextSink
from cvstream.usage import Summary

QUICK = "--quick" in sys.argv
TARGET = 1.05  # at most 5% CPU over --raw end to end


def cv(bullets: int = 400) -> str:
    """A Markdown CV: 40 roles of 10 bullets, some wrapped, some nested, bold and links."""
    parts = ["# Alex Morgan\n\nBerlin · alex@example.com · [site](https://example.com)\n\n## Experience\n\n"]
    for role in range(bullets // 10):
        parts.append(f"### Company {role} — Engineer ({2000 + role % 24}–{2001 + role % 24})\n\n")
        for item in range(10):
            indent = "  " if item % 5 == 4 else ""
            parts.append(
                f"{indent}- built the **service {role}.{item}** in Python and Postgres for "
                f"[team {item}](https://example.com/{role}/{item}), cutting latency by {item}0%\n"
            )
            if item % 3 == 0:
                parts.append(f"{indent}  and wrapping onto a second line of text for role {role}\n")
        parts.append("\n")
    return "".join(parts)


def answer(count: int) -> str:
    return "".join(
        f"[{n}] Built the **service {n}** in Python and Postgres for [team {n}](https://example.com/{n}), "
        f"cutting p99 latency by {n % 90}% across three regions\n"
        for n in range(1, count + 1)
    )


def in_process(text: str, deltas: list[str], rounds: int) -> None:
    end = MessageDelta("end_turn", None, UsageUpdate())

    def raw() -> None:
        sink = TextSink(io.BytesIO())
        for piece in deltas:
            sink.event(TextDelta(piece))
        sink.finish(Summary(), None)

    def document() -> None:
        job = DocumentJob("cv.md", load_text("markdown", text))
        sink = DocumentSink(job, DocumentOptions(), out=io.BytesIO())
        summary = Summary()
        for piece in deltas:
            sink.event(TextDelta(piece))
        summary.fold(end, 0.0)
        sink.finish(summary, None)

    def cpu(run: Callable[[], None]) -> float:
        start = time.process_time()
        for _ in range(rounds):
            run()
        return (time.process_time() - start) / rounds

    def peak(run: Callable[[], None]) -> int:
        tracemalloc.start()
        run()
        size = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return size

    raw_cpu, doc_cpu = cpu(raw), cpu(document)
    print(f"in process, {len(deltas):,} deltas, mean of {rounds} rounds:")
    print(f"  --raw sink              {raw_cpu * 1000:8.2f} ms CPU   peak {peak(raw) / 1024:8.0f} KiB")
    print(f"  document (parse + emit) {doc_cpu * 1000:8.2f} ms CPU   peak {peak(document) / 1024:8.0f} KiB")
    print(f"  per delta: {(doc_cpu - raw_cpu) / len(deltas) * 1e6:.2f} µs more than --raw")


def end_to_end(text: str, reply: str, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cv.md"
        path.write_text(text)
        answer_file = Path(tmp) / "answer.txt"
        answer_file.write_text(reply)
        with mock_process("--text", str(answer_file), "--tokens-per-second", "0", "--first-token-ms", "0") as url:
            env = client_env(url)
            ask = [CVSTREAM, "ask", "rewrite these", "--raw", "--no-usage", "--max-tokens", "64000"]
            raw = best_of(runs, ask, env=env, stdin=text.encode())  # a request as big, the same stream
            doc = best_of(runs, [CVSTREAM, "enhance", str(path), "--no-usage", "--max-tokens", "64000"], env=env)
    print(f"end to end, median of {runs} runs (cvstream as a child process, CPU from wait4):")
    print(row("cvstream enhance cv.md (document)", doc.cpu, raw.cpu, TARGET))
    print(f"{'  peak RSS':<44} {doc.max_rss_kb:9d} KB  ask --raw {raw.max_rss_kb:9d} KB")


def main() -> None:
    text, reply = cv(), answer(400)
    deltas = split_deltas(reply)
    print(f"CV: {len(text):,} bytes, {len(load_text('markdown', text).bullets)} bullets; answer {len(reply):,} bytes")
    in_process(text, deltas, 3 if QUICK else 20)
    end_to_end(text, reply, 3 if QUICK else 7)


if __name__ == "__main__":
    main()
