"""Following a job: polling its batches until they end, then writing their results to files.

Polling backs off from 5 s to 60 s (a batch takes minutes to hours; polling faster only spends rate
limit) and never waits less than a `retry-after` the API sent. A failed poll is announced and tried
again at the next turn, up to `POLL_FAILURES` in a row. The clock and the sleep are parameters, so
tests run the loop without sleeping.

Results stream line by line into one file per input, each written atomically (a temporary file, then
a rename) and skipped when it is already there: a download that breaks off, or a second run of
`cvstream batch results`, loses nothing and redoes nothing.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cvstream.batch.state import Input, Job, Store
from cvstream.errors import CvstreamError, ExitStatus, IncompleteError, OutputError

if TYPE_CHECKING:
    from cvstream.batch.record import JobRecorder
    from cvstream.source.batches import BatchApi, BatchInfo, BatchResult

FIRST_DELAY = 5.0
MAX_DELAY = 60.0
POLL_FAILURES = 5


def poll_delay(polls_so_far: int, retry_after: float | None = None) -> float:
    """Seconds before the next poll: 5, 10, 20, 40, then 60; never less than the API's retry-after."""
    delay = min(FIRST_DELAY * 2 ** min(polls_so_far, 8), MAX_DELAY)
    return float(max(delay, retry_after or 0.0))


class Progress(Protocol):
    def update(self, infos: list[BatchInfo]) -> None: ...

    def note(self, text: str) -> None: ...

    def close(self) -> None: ...


def remember(job: Job, index: int, info: BatchInfo) -> bool:
    """Record what was seen of a batch in the job; True if it changed."""
    ref = job.batches[index]
    counts = {
        "processing": info.processing,
        "succeeded": info.succeeded,
        "errored": info.errored,
        "canceled": info.canceled,
        "expired": info.expired,
    }
    ended = info.ended_at.isoformat() if info.ended_at else None
    before = (ref.status, ref.counts, ref.ended_at)
    ref.status, ref.counts, ref.ended_at = info.status, counts, ended
    ref.created_at, ref.expires_at = info.created_at.isoformat(), info.expires_at.isoformat()
    return before != (ref.status, ref.counts, ref.ended_at)


def refresh(job: Job, api: BatchApi, store: Store | None) -> list[BatchInfo]:
    """Retrieve every batch of the job once (the ended ones too: their counts are final)."""
    infos = [api.retrieve(ref.id) for ref in job.batches]
    changed = [remember(job, i, info) for i, info in enumerate(infos)]
    if store is not None and any(changed):
        store.save(job)
    return infos


def wait(
    job: Job,
    api: BatchApi,
    store: Store | None,
    progress: Progress,
    sleep: Callable[[float], None] = time.sleep,
) -> list[BatchInfo]:
    """Poll until every batch of the job has ended; Ctrl-C (KeyboardInterrupt) propagates."""
    polls = failures = 0
    while True:
        try:
            infos = refresh(job, api, store)
        except CvstreamError as exc:
            transient = exc.status in (ExitStatus.RATE_LIMITED, ExitStatus.NETWORK) or (exc.upstream_status or 0) >= 500
            failures += 1
            if not transient or failures >= POLL_FAILURES:
                raise
            delay = poll_delay(polls, exc.retry_after)
            progress.note(f"polling failed ({exc.message}); trying again in {delay:g} s")
            sleep(delay)
            polls += 1
            continue
        failures = 0
        progress.update(infos)
        if all(info.ended for info in infos):
            return infos
        sleep(poll_delay(polls))
        polls += 1


# -- results -> files -------------------------------------------------------------------------------------


@dataclass
class Outcome:
    written: int = 0
    skipped: int = 0  # already there from an earlier run
    errored: list[tuple[str, str]] = field(default_factory=list)  # (label, reason)
    expired: list[str] = field(default_factory=list)
    canceled: list[str] = field(default_factory=list)
    not_submitted: list[str] = field(default_factory=list)
    cut: list[str] = field(default_factory=list)  # stopped at max_tokens
    kept: list[tuple[str, str]] = field(default_factory=list)  # documents with bullets kept as they were
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def failed(self) -> int:
        return len(self.errored) + len(self.expired) + len(self.canceled) + len(self.not_submitted)


def _write_atomically(target: Path, data: bytes) -> None:
    """As the streaming commands write --out-dir files: `NAME.partial` (mode 0666 less the umask), then
    renamed, so a reader never sees half a file under the real name."""
    partial = target.with_name(target.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)  # unbuffered: one write per file
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(partial, target)


def _error_reason(error: dict[str, object] | None) -> str:
    inner = error.get("error") if isinstance(error, dict) else None
    if isinstance(inner, dict):
        return f"{inner.get('type')}: {inner.get('message')}"
    return "errored"


def _document(item: Input, sources: Path | None, result: BatchResult, out_dir: Path, outcome: Outcome) -> bytes | None:
    """The whole document rebuilt around the answer; None (and listed as errored, with the answer kept in
    <name>.error.json) when the job's copy of the document is gone."""
    from cvstream.batch.documents import MissingSource, rebuild

    try:
        if sources is None:
            raise MissingSource(f"no copy of {item.label} is kept with this job")
        data, kept = rebuild(item, sources, result.text, result.stop_reason)
    except MissingSource as exc:
        outcome.errored.append((item.label, f"{exc}; the answer is in {item.name}.error.json"))
        body = {"custom_id": result.custom_id, "input": item.label, "error": str(exc), "answer": result.text}
        target = out_dir / f"{item.name}.error.json"
        if not target.exists():
            _write(target, json.dumps(body, indent=2, ensure_ascii=False).encode())
        return None
    if kept is not None:
        outcome.kept.append((item.label, kept))
    return data


def _write(target: Path, data: bytes) -> None:
    try:
        _write_atomically(target, data)
    except OSError as exc:
        raise OutputError(f"cannot write {target} ({exc.strerror})", "check the output directory") from None


def save_results(
    results: Iterator[BatchResult],
    job: Job,
    batch: int,
    out_dir: Path,
    outcome: Outcome,
    record: JobRecorder | None = None,
    sources: Path | None = None,
) -> None:
    """Write each result to its file (skipping those already written); list the failed ones; hand each
    result to `record` (the history), which skips those it recorded before."""
    inputs = job.by_custom_id(batch)
    for result in results:
        item = inputs.get(result.custom_id)
        if record is not None:
            record.add(batch, item, result)
        label, name = (item.label, item.name) if item else (result.custom_id, result.custom_id)
        if result.kind == "succeeded":
            outcome.input_tokens += result.input_tokens
            outcome.output_tokens += result.output_tokens
            if result.stop_reason == "max_tokens":
                outcome.cut.append(label)
            target = out_dir / (item.filename if item else f"{name}.md")
            if item is not None and item.document and not target.exists():
                written = _document(item, sources, result, out_dir, outcome)
                if written is None:
                    continue
                data = written
            else:
                data = result.text.encode() + (b"" if result.text.endswith("\n") else b"\n")
        elif result.kind == "errored":
            outcome.errored.append((label, _error_reason(result.error)))
            target = out_dir / f"{name}.error.json"
            data = json.dumps({"custom_id": result.custom_id, "input": label, "error": result.error}, indent=2).encode()
        else:
            (outcome.expired if result.kind == "expired" else outcome.canceled).append(label)
            continue
        if target.exists():
            outcome.skipped += 1
            continue
        _write(target, data)
        outcome.written += 1


def download(
    job: Job,
    api: BatchApi,
    out_dir: Path,
    on_retry: Callable[[str], None],
    attempts: int = 3,
    record: JobRecorder | None = None,
    sources: Path | None = None,
) -> Outcome:
    """Results of every batch of the job into `out_dir`; a download that breaks off is started again
    (what was written is skipped) up to `attempts` times in all, then raises `IncompleteError`."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out_dir} ({exc.strerror})", "pass another --out-dir") from None
    outcome = Outcome(not_submitted=[i.label for i in job.inputs if i.batch < 0])
    for index, ref in enumerate(job.batches):
        carried = 0  # files written by a download that then broke off: the next one finds them there
        for attempt in range(1, attempts + 1):
            partial = Outcome()
            try:
                save_results(api.results(ref.id), job, index, out_dir, partial, record, sources)
            except IncompleteError as exc:
                carried += partial.written
                if attempt >= attempts:
                    raise
                on_retry(f"{exc.message}; downloading again (files written are kept)")
                continue
            finally:
                if record is not None:
                    record.flush()
            partial.written += carried
            partial.skipped -= carried
            _merge(outcome, partial)
            break
    order = {item.label: n for n, item in enumerate(job.inputs)}  # results come in any order: list in input order
    for listed in (outcome.expired, outcome.canceled, outcome.cut):
        listed.sort(key=lambda label: (order.get(label, len(order)), label))
    for pairs in (outcome.errored, outcome.kept):
        pairs.sort(key=lambda pair: (order.get(pair[0], len(order)), pair[0]))
    return outcome


def _merge(total: Outcome, part: Outcome) -> None:
    total.written += part.written
    total.skipped += part.skipped
    total.errored += part.errored
    total.expired += part.expired
    total.canceled += part.canceled
    total.cut += part.cut
    total.kept += part.kept
    total.input_tokens += part.input_tokens
    total.output_tokens += part.output_tokens
