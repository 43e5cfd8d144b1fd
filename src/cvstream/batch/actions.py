"""What each `cvstream batch` subcommand does, given its parsed inputs: submit, wait, results, list,
status, cancel, delete. Output: tables and the job id on stdout, everything else on stderr."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvstream.batch import display
from cvstream.batch.follow import download, refresh, wait
from cvstream.batch.state import BatchRef, Job, Store
from cvstream.context import Env
from cvstream.errors import ExitStatus, UsageError
from cvstream.report import Reporter
from cvstream.signals import Signalled, signals_as_exceptions

if TYPE_CHECKING:
    from cvstream.batch.follow import Progress
    from cvstream.batch.plan import Item
    from cvstream.history.store import Recorder
    from cvstream.source.batches import BatchApi, BatchInfo


@dataclass
class Session:
    env: Env
    reporter: Reporter
    store: Store
    offline: bool  # answered by a mock that ends with this process
    connect: Callable[[], BatchApi]  # called on first use of `api`: the SDK loads meanwhile (~1 s)
    no_log: bool = False  # --no-log: results are not recorded in the history

    @cached_property
    def api(self) -> BatchApi:
        return self.connect()


def _print(env: Env, text: str) -> None:
    env.stdout.write(text.encode() + b"\n")
    env.stdout.flush()


def _usable(s: Session, job: Job) -> None:
    if job.offline and not s.offline:
        raise UsageError(
            f"job {job.id} ran on the built-in offline mock, which ended with that run",
            "submit it again (with --offline --wait, results are written in the same run)",
        )


def _progress(s: Session, job: Job) -> Progress:
    since = datetime.fromisoformat(job.batches[0].created_at or job.created_at)
    if s.reporter.quiet:
        return display.Silent()
    if s.env.stderr_isatty and not s.env.dumb_terminal:
        return display.LiveProgress(s.reporter, job.id, since)
    return display.LinesProgress(s.reporter, job.id, since)


def submit(
    s: Session,
    items: list[Item],
    *,
    command: str,
    out_dir: Path | None,
    options: dict[str, Any],
    limits: dict[str, int],
) -> Job:
    from cvstream.batch.submit import submit as create

    def announce(info: BatchInfo, index: int, count: int) -> None:
        of = f" {index + 1} of {count}" if count > 1 else ""
        s.reporter.note(f"submitted batch{of}: {info.id} ({info.total:,} requests)")

    job = create(
        items,
        s.api,
        s.store,
        command=command,
        out_dir=out_dir,
        cwd=s.env.cwd,
        options=options,
        offline=s.offline,
        announce=announce,
        **limits,
    )
    _print(s.env, job.id)
    return job


def follow(s: Session, job: Job, out_dir: Path | None) -> int:
    """Wait for the job's batches to end, then write the results; Ctrl-C leaves them running."""
    _usable(s, job)
    progress = _progress(s, job)
    try:
        with signals_as_exceptions():
            wait(job, s.api, s.store, progress)
    except (KeyboardInterrupt, Signalled) as stop:
        progress.close()
        if s.offline:
            s.reporter.line("stopped waiting: the offline mock's batches end with this run")
        else:
            ids = ", ".join(b.id for b in job.batches)
            s.reporter.line(f"stopped waiting: {ids} keep{'s' if len(job.batches) == 1 else ''} running")
            s.reporter.line(f"resume with: cvstream batch wait {job.id}")
        return stop.status if isinstance(stop, Signalled) else ExitStatus.INTERRUPTED
    finally:
        progress.close()
    return results(s, job, out_dir)


def results(s: Session, job: Job, out_dir: Path | None) -> int:
    _usable(s, job)
    infos = refresh(job, s.api, s.store)
    running = [i.id for i in infos if not i.ended]
    if running:
        raise UsageError(
            f"{', '.join(running)} {'has' if len(running) == 1 else 'have'} not ended yet",
            f"`cvstream batch wait {job.id}` waits for it, then writes the results",
        )
    target = out_dir if out_dir is not None else Path(job.out_dir)
    history = _history(s)
    record = None
    if history is not None:
        from cvstream.batch.record import JobRecorder

        record = JobRecorder(history, job)
    try:
        with signals_as_exceptions():
            attempts = s.api.conn.max_retries + 1
            outcome = download(
                job, s.api, target, s.reporter.note, attempts=attempts, record=record, sources=s.store.sources
            )
    except (KeyboardInterrupt, Signalled) as stop:
        s.reporter.line(f"stopped: the files written so far are kept; resume with: cvstream batch results {job.id}")
        return stop.status if isinstance(stop, Signalled) else ExitStatus.INTERRUPTED
    finally:
        if history is not None:
            history.close()
    display.report_outcome(s.reporter, outcome, str(target))
    return ExitStatus.SOME_FAILED if outcome.failed else ExitStatus.OK


def _history(s: Session) -> Recorder | None:
    """The history to record the results in, or None when logging is off."""
    from cvstream.config import known_secrets
    from cvstream.history.store import recorder

    return recorder(s.env.environ, s.no_log, s.reporter.warning, known_secrets(s.env.environ, s.env.cwd))


def adhoc(batch_id: str, out_dir: Path | None) -> Job:
    """A job for a batch submitted elsewhere: results are named by custom id."""
    if out_dir is None:
        raise UsageError(f"{batch_id} is not a local job, so it has no output directory", "pass --out-dir")
    return Job(batch_id, "unknown", "", str(out_dir), {}, False, [BatchRef(batch_id, 0)], [])


def _row(info: BatchInfo, job: str) -> tuple[str, ...]:
    def when(moment: datetime | None) -> str:
        return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else "-"

    counts = f"{info.succeeded}/{info.errored}/{info.expired}/{info.canceled}/{info.processing}"
    return (info.id, info.status, counts, when(info.created_at), when(info.ended_at), when(info.expires_at), job)


def _table(env: Env, rows: list[tuple[str, ...]]) -> None:
    header = ("id", "status", "ok/err/exp/canc/proc", "created", "ended", "expires", "job")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        _print(env, "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _job_note(job: Job) -> str:
    return f"{job.command} {len(job.inputs):,} inputs -> {job.out_dir}"


def status(s: Session, job: Job) -> int:
    _usable(s, job)
    infos = refresh(job, s.api, s.store)
    _table(s.env, [_row(info, _job_note(job) if n == 0 else f"(part {n + 1})") for n, info in enumerate(infos)])
    s.reporter.line(f"{job.id}: {display.counts_line(infos, infos[0].created_at)}")
    return ExitStatus.OK


def listing(s: Session, limit: int) -> int:
    """The account's recent batches, marked with their local job; then local jobs not among them."""
    jobs = list(s.store.jobs())
    owner = {ref.id: job for job in jobs for ref in job.batches}
    recent = s.api.recent(limit)
    seen = {info.id for info in recent}
    rows = [_row(info, _job_note(owner[info.id]) if info.id in owner else "") for info in recent]
    for job in jobs:
        for ref in job.batches:
            if ref.id in seen or (job.offline and not s.offline):
                continue
            c = ref.counts
            counts = "/".join(str(c.get(k, 0)) for k in ("succeeded", "errored", "expired", "canceled", "processing"))
            day = ref.created_at[:16].replace("T", " ") or "-"
            rows.append(
                (
                    ref.id,
                    f"{ref.status} (last seen)",
                    counts,
                    day,
                    (ref.ended_at or "-")[:16],
                    ref.expires_at[:16],
                    _job_note(job),
                )
            )
    if not rows:
        s.reporter.line("no batches yet")
        return ExitStatus.OK
    _table(s.env, rows)
    return ExitStatus.OK


def cancel(s: Session, job: Job) -> int:
    _usable(s, job)
    for index, ref in enumerate(job.batches):
        info = s.api.retrieve(ref.id)
        if not info.ended:
            info = s.api.cancel(ref.id)
        from cvstream.batch.follow import remember

        remember(job, index, info)
        s.reporter.line(f"{ref.id}: {info.status}")
    s.store.save(job)
    s.reporter.note(f"requests already done keep their results: `cvstream batch results {job.id}` once it has ended")
    return ExitStatus.OK


def delete(s: Session, job: Job, local: bool) -> int:
    """Delete the job's batches (and their results) from the API, then the local record."""
    _usable(s, job)
    infos = refresh(job, s.api, None)
    running = [i.id for i in infos if not i.ended]
    if running:
        raise UsageError(f"{', '.join(running)} is still running", f"cancel it first: cvstream batch cancel {job.id}")
    for info in infos:
        s.api.delete(info.id)
        s.reporter.line(f"deleted {info.id}")
    if local:
        s.store.remove(job.id)
    return ExitStatus.OK
