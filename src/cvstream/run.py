"""Wiring: requests -> source -> events -> one sink, the summary to stderr, Ctrl-C and broken pipes.

`run` takes the answers to produce (one per input) and how to show them. One answer streams on the
main thread. Several run on worker threads (`--jobs` at a time) that only produce events; the main
thread feeds them to the sinks in input order, so output is never interleaved and a later answer
that finishes first waits, buffered, for its turn.
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from cvstream.context import Env
from cvstream.errors import CvstreamError, ExitStatus, Interrupted
from cvstream.events import Event, Retrying, TextDelta, ThinkingDelta, ToolInputDelta
from cvstream.report import Reporter
from cvstream.sinks import Sink
from cvstream.usage import Summary

if TYPE_CHECKING:
    from cvstream.source import Client, Connection, Request

_SUFFIX = {"raw": ".md", "plain": ".md", "live": ".md", "sse": ".sse", "json": ".ndjson"}
_CONTENT = (TextDelta, ThinkingDelta, ToolInputDelta)


@dataclass(frozen=True, slots=True)
class Options:
    method: str = "create"
    output: str = "raw"
    show_usage: bool = True
    show_thinking: bool = True
    jobs: int = 4
    out_dir: Path | None = None
    debug: bool = False


@dataclass(frozen=True, slots=True)
class Job:
    label: str  # the input's name, for headers, output files and the usage table
    request: Request


def make_sink(output: str, out: BinaryIO, env: Env, show_thinking: bool) -> Sink:
    if output == "sse":
        from cvstream.sinks.sse import SseSink

        return SseSink(out)
    if output == "json":
        from cvstream.sinks.ndjson import NdjsonSink

        return NdjsonSink(out)
    if output == "live":
        from cvstream.sinks.live import LiveSink

        return LiveSink(env.stdout_console(), show_thinking=show_thinking)
    from cvstream.sinks.text import TextSink

    return TextSink(out, final_newline=output == "plain")


def pump(events: Iterator[Event], sink: Sink, reporter: Reporter, summary: Summary) -> CvstreamError | None:
    """Feed one answer's events to its sink; return the error that ended it, if any."""
    clock = time.monotonic
    waiting = True
    try:
        for event in events:
            if type(event) is Retrying:
                reporter.retry(event)
                continue
            if waiting and isinstance(event, _CONTENT):
                reporter.stop_waiting()
                waiting = False
            summary.fold(event, clock())
            sink.event(event)
    except CvstreamError as exc:
        return exc
    except KeyboardInterrupt:
        return Interrupted("interrupted", "the text so far was kept")
    finally:
        reporter.stop_waiting()
        summary.ended_at = clock()
    return None


def _conclude(sink: Sink, summary: Summary, error: CvstreamError | None, reporter: Reporter, options: Options) -> None:
    sink.finish(summary, error)
    if error is None or error.status != ExitStatus.INTERRUPTED:
        reporter.stop_note(summary)
    interrupted = error is not None and error.status == ExitStatus.INTERRUPTED
    if options.show_usage and options.output != "json" and (summary.model or interrupted):
        reporter.summary(summary)  # only once an answer began (or Ctrl-C asks for what arrived)
    if error is not None:
        if options.debug:
            reporter.traceback(error)
        reporter.error(error)


def run(
    env: Env,
    reporter: Reporter,
    conn: Connection,
    jobs: list[Job],
    options: Options,
) -> ExitStatus:
    from cvstream import source

    client = source.make_client(conn)
    try:
        if options.out_dir is not None:
            return _run_to_files(env, reporter, client, conn, jobs, options)
        if len(jobs) == 1:
            return _run_one(env, reporter, client, conn, jobs[0], options)
        return _run_in_order(env, reporter, client, conn, jobs, options)
    except BrokenPipeError:  # the reader closed stdout (`| head`): stop quietly
        env.silence_stdout()
        return ExitStatus.BROKEN_PIPE
    finally:
        client.close()


def _events(client: Client, conn: Connection, job: Job, options: Options, raw: bool) -> Iterator[Event]:
    from cvstream import source

    return source.stream_events(client, conn, job.request, method=options.method, raw=raw)


def _run_one(env: Env, reporter: Reporter, client: Client, conn: Connection, job: Job, options: Options) -> ExitStatus:
    sink = make_sink(options.output, env.stdout, env, options.show_thinking)
    summary = Summary(started_at=time.monotonic())
    reporter.start_waiting(job.request.model)
    error = pump(_events(client, conn, job, options, sink.wants_raw), sink, reporter, summary)
    _conclude(sink, summary, error, reporter, options)
    return error.status if error else ExitStatus.OK


_DONE = object()


def _produce(make: Callable[[], Iterator[Event]], out: queue.Queue[object], cancel: threading.Event) -> None:
    """Worker: run one answer, putting its events (then its error or None, then _DONE) on `out`."""
    error: CvstreamError | None = None
    try:
        for event in make():
            if cancel.is_set():
                break
            out.put(event)
    except CvstreamError as exc:
        error = exc
    except Exception as exc:  # a worker must always report back; main prints it like any error
        error = CvstreamError(f"unexpected failure: {type(exc).__name__}: {exc}")
    out.put(error)
    out.put(_DONE)


def _queued(source_queue: queue.Queue[object]) -> Iterator[Event]:
    """The events a worker produced, in order; raises the worker's error at the end."""
    error: object = None
    while True:
        item = source_queue.get()
        if item is _DONE:
            break
        if item is None or isinstance(item, CvstreamError):
            error = item
            continue
        yield item  # type: ignore[misc]
    if isinstance(error, CvstreamError):
        raise error


def _run_in_order(
    env: Env, reporter: Reporter, client: Client, conn: Connection, jobs: list[Job], options: Options
) -> ExitStatus:
    queues: list[queue.Queue[object]] = [queue.Queue() for _ in jobs]
    cancel = threading.Event()
    statuses: list[ExitStatus] = []
    raw = options.output == "json"
    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        for job, out in zip(jobs, queues, strict=True):
            pool.submit(_produce, partial(_events, client, conn, job, options, raw), out, cancel)
        try:
            for index, (job, out) in enumerate(zip(jobs, queues, strict=True)):
                header = f"{'' if index == 0 else chr(10)}==> {job.label} <==\n"
                env.stdout.write(header.encode())
                env.stdout.flush()
                sink = make_sink(options.output, env.stdout, env, options.show_thinking)
                summary = Summary(started_at=time.monotonic())
                error = pump(_queued(out), sink, reporter, summary)
                _conclude(sink, summary, error, reporter, options)
                statuses.append(error.status if error else ExitStatus.OK)
                if error is not None and error.status == ExitStatus.INTERRUPTED:
                    break
        finally:
            cancel.set()
            pool.shutdown(wait=False, cancel_futures=True)
    return _overall(statuses)


def _overall(statuses: list[ExitStatus]) -> ExitStatus:
    """The exit status of a run over several inputs: the first failure's, in input order."""
    if ExitStatus.INTERRUPTED in statuses:
        return ExitStatus.INTERRUPTED
    return next((s for s in statuses if s != ExitStatus.OK), ExitStatus.OK)


def output_path(out_dir: Path, label: str, output: str) -> Path:
    return out_dir / (Path(label).stem + _SUFFIX[output])


def _run_to_files(
    env: Env, reporter: Reporter, client: Client, conn: Connection, jobs: list[Job], options: Options
) -> ExitStatus:
    """Each answer to its own file in --out-dir, written atomically; a usage table at the end."""
    assert options.out_dir is not None
    out_dir = options.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    output = "raw" if options.output in ("live", "plain") else options.output
    quiet_reporter = Reporter(env, quiet=True)

    def one(job: Job) -> tuple[Summary, CvstreamError | None, Path]:
        target = output_path(out_dir, job.label, output)
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{target.name}.", suffix=".tmp")
        summary = Summary(started_at=time.monotonic())
        with os.fdopen(fd, "wb") as handle:
            sink = make_sink(output, handle, env, False)
            error = pump(_events(client, conn, job, options, sink.wants_raw), sink, quiet_reporter, summary)
            sink.finish(summary, error)
        if error is None:
            os.replace(tmp, target)
        else:  # keep what arrived, beside the (untouched) target
            os.replace(tmp, target.with_name(target.name + ".partial"))
        return summary, error, target

    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        results = list(pool.map(one, jobs))
    statuses = []
    for job, (_, error, _) in zip(jobs, results, strict=True):
        statuses.append(error.status if error else ExitStatus.OK)
        if error is not None:
            reporter.line(f"{job.label}: {error.message}", "bold red")
    if options.show_usage:
        _usage_table(reporter, jobs, results)
    return _overall(statuses)


def _usage_table(
    reporter: Reporter, jobs: list[Job], results: list[tuple[Summary, CvstreamError | None, Path]]
) -> None:
    """One row per input, columns aligned (plain text: it is often read from a log)."""
    header = ("input", "output", "status", "in", "out", "cache read", "cache write", "stop", "time")
    rows = [header]
    for job, (summary, error, target) in zip(jobs, results, strict=True):
        u = summary.usage
        rows.append(
            (
                job.label,
                target.name if error is None else target.name + ".partial",
                "ok" if error is None else f"failed ({int(error.status)})",
                f"{u.input_tokens:,}",
                f"{u.output_tokens:,}",
                f"{u.cache_read_tokens:,}",
                f"{u.cache_write_tokens:,}",
                summary.stop_reason or "-",
                f"{summary.duration or 0.0:.2f} s",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    numeric = {3, 4, 5, 6, 8}
    for row in rows:
        cells = [
            cell.rjust(w) if i in numeric else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        reporter.line("  ".join(cells).rstrip(), "bold" if row is header else None)
