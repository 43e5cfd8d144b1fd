"""The one execution path, for one input or many: source -> events -> sinks, the summary to stderr.

Each answer's items come from `_produce`, stamped as they arrive: produced on the main thread for one
input, by `--jobs` worker threads onto one queue for several. The main thread alone consumes them: it
folds each event into its answer's summary at once (timings stay right for an answer that waits its
turn) and feeds the sinks: each --out-dir file at once, stdout in input order (a later answer waits,
buffered). A stop (Ctrl-C, SIGTERM, SIGHUP, a closed stdout) never waits on a worker: responses are
closed, retries wake and stop, and the main thread keeps what arrived, prints the usage so far and
names the unfinished inputs. A signal waits for the item in hand to reach its sink (signals.py).
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from cvstream.context import Env
from cvstream.errors import CvstreamError, ExitStatus, Interrupted, OutputError
from cvstream.events import Event, Retrying, TextDelta, ThinkingDelta, ToolInputDelta
from cvstream.report import Reporter
from cvstream.signals import STEP, Signalled, signals_as_exceptions, step_over
from cvstream.sinks import OutputMode, Sink, make_sink, output_path, sink_error
from cvstream.usage import UNOBSERVED, Observer, Summary, usage_table

if TYPE_CHECKING:
    from cvstream.prices import Price
    from cvstream.rewrite import SinkFactory
    from cvstream.source import Client, Connection, Request

_CONTENT = (TextDelta, ThinkingDelta, ToolInputDelta)


@dataclass(frozen=True, slots=True)
class Options:
    method: str = "create"
    mode: OutputMode = OutputMode.RAW
    show_usage: bool = True
    show_thinking: bool = True
    jobs: int = 4
    out_dir: Path | None = None
    debug: bool = False
    price: Price | None = None  # the model's price (prices.toml): the usage line and summary show the cost


@dataclass(frozen=True, slots=True)
class Job:
    label: str  # the input's name, for headers, output files, error and usage lines
    request: Request
    make_sink: SinkFactory | None = None  # its own sink (a whole document: rewrite.sink_factory)
    filename: str | None = None  # its name in --out-dir, when not LABEL's stem + the mode's suffix
    observer: Observer = UNOBSERVED  # the history records through one


class _Cancelled(Exception):
    """Raised in a worker whose run was cancelled (by its retry wait, or between events)."""


@dataclass
class _End:
    error: CvstreamError | None


@dataclass
class _Answer:
    """One input's answer as the main thread sees it."""

    job: Job
    summary: Summary = field(default_factory=Summary)
    sink: Sink | None = None
    handle: BinaryIO | None = None  # its --out-dir file, while being written
    buffered: list[Event] = field(default_factory=list)  # events waiting for their turn on stdout
    error: CvstreamError | None = None
    begun: bool = False
    done: bool = False
    write_failed: bool = False
    response: Any = None  # the in-flight HTTP response, set by the worker: closed on cancel


class Runner:
    def __init__(self, env: Env, reporter: Reporter, conn: Connection, jobs: list[Job], options: Options) -> None:
        self.env, self.reporter, self.conn, self.options = env, reporter, conn, options
        self.answers = [_Answer(job, Summary(price=options.price)) for job in jobs]
        self.several = len(jobs) > 1
        self.cancel = threading.Event()
        self.events: queue.SimpleQueue[tuple[int, object, float]] = queue.SimpleQueue()
        self.turn = 0  # stdout: the answer whose events are printed now

    def _sleep(self, seconds: float) -> None:
        if self.cancel.wait(seconds):
            raise _Cancelled

    def _work(self, client: Client, todo: queue.SimpleQueue[int]) -> None:
        """A worker thread (several inputs): answers taken from `todo`, their items onto the queue."""
        put = self.events.put
        while not self.cancel.is_set():
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            for item in self._produce(client, index):
                put(item)

    def _produce(self, client: Client, index: int) -> Iterator[tuple[int, object, float]]:
        """One answer's items, each stamped with the time it arrived: None (started), its events, an `_End`."""
        from cvstream import source

        clock, cancel, answer = time.monotonic, self.cancel, self.answers[index]
        yield index, None, clock()  # started: its clock starts now
        error: CvstreamError | None = None
        try:
            events = source.stream_events(
                client,
                self.conn,
                answer.job.request,
                method=self.options.method,
                raw=self.options.mode.wants_raw,
                sleep=self._sleep,
                on_response=lambda response: setattr(answer, "response", response),
            )
            for event in events:
                if cancel.is_set():
                    raise _Cancelled
                yield index, event, clock()
        except _Cancelled:
            return
        except CvstreamError as exc:
            error = exc
        except Exception as exc:  # an answer must always report back; the main thread prints it
            if cancel.is_set():
                return  # the response was closed under it
            error = CvstreamError(
                f"unexpected failure: {type(exc).__name__}: {exc}",
                "run again with --debug and report it",
                status=ExitStatus.INTERNAL,
                kind="internal",
            )
            error.__cause__ = exc
        yield index, _End(error), clock()

    def _stop_workers(self, error: CvstreamError) -> None:
        """Cancel every request in flight and every pending retry, without waiting for any; then _drain."""
        self.cancel.set()
        responses = [a.response for a in self.answers if a.response is not None and not a.done]

        def close_all() -> None:
            for response in responses:
                with contextlib.suppress(Exception):
                    response.close()

        threading.Thread(target=close_all, daemon=True).start()
        self._drain(error)

    # -- the main thread -------------------------------------------------------------------------------
    def run(self, client: Client) -> ExitStatus:
        if self.several:
            todo: queue.SimpleQueue[int] = queue.SimpleQueue()
            for index in range(len(self.answers)):
                todo.put(index)
            for _ in range(max(1, min(self.options.jobs, len(self.answers)))):
                threading.Thread(target=self._work, args=(client, todo), daemon=True).start()
            items: Iterator[tuple[int, object, float]] = iter(self.events.get, None)
        else:  # one answer is produced on this thread: no queue to fill faster than the sink drains it
            self.reporter.start_waiting(self.answers[0].job.request.model)
            items = self._produce(client, 0)
        try:
            with signals_as_exceptions():
                self._consume(items)
        except KeyboardInterrupt:
            return self._interrupted(ExitStatus.INTERRUPTED)
        except Signalled as exc:
            return self._interrupted(exc.status)
        except BrokenPipeError:  # the reader closed stdout (`| head`): stop quietly
            self._stop_workers(OutputError("stdout was closed by its reader"))
            self.env.silence_stdout()
            return ExitStatus.BROKEN_PIPE
        except OSError as exc:  # stdout itself failed (a full disk, /dev/full)
            closed = exc.errno == errno.EBADF
            error = OutputError(
                f"cannot write to stdout ({exc.strerror or exc})",
                "redirect stdout to a file or /dev/null" if closed else "free some space, or write elsewhere",
            )
            self._stop_workers(error)
            self.env.silence_stdout()
            self.reporter.error(error)
            return error.status
        finally:
            self.reporter.stop_waiting()
        self._table()
        return next((a.error.status for a in self.answers if a.error), ExitStatus.OK)  # the first failure's

    def _table(self) -> None:
        """With --out-dir: one usage row per input, at the end (and so far, on Ctrl-C)."""
        if self.options.out_dir is None or not self.options.show_usage:
            return
        rows = []
        for answer in self.answers:
            target = output_path(self.options.out_dir, answer.job.label, self.options.mode, answer.job.filename).name
            shown = target if answer.error is None else (target + ".partial" if answer.handle else "-")
            rows.append((answer.job.label, shown, answer.summary, int(answer.error.status) if answer.error else None))
        for line, bold in usage_table(rows):
            self.reporter.line(line, "bold" if bold else None)

    def _consume(self, items: Iterator[tuple[int, object, float]]) -> None:
        remaining = len(self.answers)
        for index, item, stamp in items:
            STEP.active = True  # a signal waits for this event to reach the history and the sink (signals.py)
            try:
                if self._step(index, item, stamp):
                    remaining -= 1
                    if not remaining:
                        return
            finally:
                step_over()

    def _step(self, index: int, item: object, stamp: float) -> bool:
        """One item to its answer's summary, observer and sink; True when it ends the answer."""
        answer = self.answers[index]
        if item is None:
            answer.summary.started_at = stamp
            return False
        if type(item) is Retrying:
            self.reporter.retry(item, answer.job.label if self.several else None)
            return False
        if isinstance(item, _End):
            answer.summary.ended_at = stamp
            answer.job.observer.end(answer.summary, item.error)
            if item.error is not None and self.several:
                item.error.label = answer.job.label
            answer.error = answer.error or item.error  # an output error already met stays first
            answer.done = True
        else:
            answer.summary.fold(item, stamp)  # type: ignore[arg-type]
            answer.job.observer.event(item, stamp)  # type: ignore[arg-type]  # as it arrives
        if self.options.out_dir is not None:
            self._to_file(answer, item)
        else:
            self._to_stdout(answer, item)
        return isinstance(item, _End)

    def _drain(self, error: CvstreamError) -> None:
        """After a stop: keep what arrived (history, .partial files); unfinished answers' observers hear `error`."""
        with contextlib.suppress(queue.Empty, OSError):
            while True:
                index, item, stamp = self.events.get_nowait()
                answer = self.answers[index]
                if isinstance(item, _End) and item.error is None and not answer.done:
                    answer.job.observer.end(answer.summary, None)  # it completed (an error now is the stop's)
                if item is None or isinstance(item, _End | Retrying) or answer.done:
                    continue
                answer.summary.fold(item, stamp)  # type: ignore[arg-type]
                answer.job.observer.event(item, stamp)  # type: ignore[arg-type]
                if self.options.out_dir is not None:
                    self._to_file(answer, item)
        for answer in (a for a in self.answers if not a.done):
            answer.job.observer.end(answer.summary, error)

    def _to_stdout(self, answer: _Answer, item: object) -> None:
        if answer is not self.answers[self.turn]:
            if not isinstance(item, _End):
                answer.buffered.append(item)  # type: ignore[arg-type]
            return
        self._deliver(answer, item)
        while answer.done and self.turn + 1 < len(self.answers):  # the next answer's turn: print what it has
            self.turn += 1
            answer = self.answers[self.turn]
            buffered, answer.buffered = answer.buffered, []
            for event in buffered:
                self._deliver(answer, event)
            if answer.done:
                self._deliver(answer, _End(answer.error))

    def _deliver(self, answer: _Answer, item: object) -> None:
        if answer.sink is None:
            if self.several and self.options.mode is not OutputMode.JSON:
                header = f"{'' if answer is self.answers[0] else chr(10)}==> {answer.job.label} <==\n"
                self.env.stdout.write(header.encode())
                self.env.stdout.flush()
            answer.sink = self._new_sink(answer, self.env.stdout, to_file=False)
        if isinstance(item, _End):
            self._conclude(answer)
            return
        if not answer.begun and isinstance(item, _CONTENT):
            answer.begun = True
            self.reporter.stop_waiting()
        answer.sink.event(item)  # type: ignore[arg-type]

    def _new_sink(self, answer: _Answer, out: BinaryIO, *, to_file: bool) -> Sink:
        label = answer.job.label if self.several and not to_file else None
        if answer.job.make_sink is not None:  # a whole document brings its own
            return answer.job.make_sink(out, to_file, label, self.reporter.warning)
        mode = self.options.mode.for_file if to_file else self.options.mode
        return make_sink(mode, out, self.env, show_thinking=self.options.show_thinking and not to_file, label=label)

    def _to_file(self, answer: _Answer, item: object) -> None:
        assert self.options.out_dir is not None
        target = output_path(self.options.out_dir, answer.job.label, self.options.mode, answer.job.filename)
        partial = target.with_name(target.name + ".partial")
        if not answer.write_failed:
            try:
                if answer.handle is None:
                    answer.handle = open(partial, "wb")  # noqa: SIM115  # closed at the answer's end
                    answer.sink = self._new_sink(answer, answer.handle, to_file=True)
                assert answer.sink is not None
                if isinstance(item, _End):
                    answer.sink.finish(answer.summary, answer.error)
                    answer.error = answer.error or sink_error(answer.sink)
                    answer.handle.close()
                    if answer.error is None:
                        os.replace(partial, target)  # readers never see half a file under the real name
                else:
                    answer.sink.event(item)  # type: ignore[arg-type]
            except OSError as exc:  # keep going with the other inputs; this one fails with an output error
                answer.write_failed = True
                if answer.handle is not None:
                    with contextlib.suppress(OSError):
                        answer.handle.close()
                answer.error = OutputError(
                    f"cannot write {partial} ({exc.strerror or exc})",
                    "check the directory's permissions and free space; what was written is kept there",
                )
                answer.error.label = answer.job.label if self.several else None
        if isinstance(item, _End):
            self._report(answer)

    def _conclude(self, answer: _Answer) -> None:
        assert answer.sink is not None
        answer.sink.finish(answer.summary, answer.error)
        answer.error = answer.error or sink_error(answer.sink)
        self._report(answer)

    def _report(self, answer: _Answer) -> None:
        """The stderr lines of one finished answer: a stop note, its usage line, its error."""
        error, summary, label = answer.error, answer.summary, answer.job.label if self.several else None
        self.reporter.stop_waiting()
        self.reporter.stop_note(summary, label)
        if (
            self.options.show_usage
            and self.options.mode is not OutputMode.JSON
            and summary.model
            and not self.options.out_dir
        ):
            self.reporter.summary(summary, label, so_far=not summary.complete)  # only once an answer began
        if error is not None:
            if self.options.debug:
                self.reporter.traceback(error)
            self.reporter.error(error)

    def _interrupted(self, status: ExitStatus) -> ExitStatus:
        """Keep what arrived, say what was not finished, print the usage so far."""
        why = {ExitStatus.INTERRUPTED: "interrupted", ExitStatus.TERMINATED: "terminated (SIGTERM)"}.get(
            status, "hung up (SIGHUP)"
        )
        hint = "the text so far was kept" if any(a.summary.received_chars for a in self.answers) else "no text had come"
        self._stop_workers(Interrupted(why, hint, status=status))
        unfinished = [a for a in self.answers if not a.done]
        now = time.monotonic()
        for answer in unfinished:
            answer.error = Interrupted(why, hint, status=status)
            answer.summary.ended_at = answer.summary.ended_at or now
            if answer.sink is not None:
                with contextlib.suppress(OSError):
                    answer.sink.finish(answer.summary, answer.error)
            if answer.handle is not None:
                with contextlib.suppress(OSError):
                    answer.handle.close()
        self.reporter.stop_waiting()
        shown = [a for a in unfinished if a.summary.model or a.sink is not None]
        if self.options.out_dir is not None:
            self._table()
        elif self.options.show_usage and self.options.mode is not OutputMode.JSON:
            for answer in shown:
                self.reporter.summary(answer.summary, answer.job.label if self.several else None, so_far=True)
        kept = " (what arrived is kept in their .partial files)" if self.options.out_dir is not None else ""
        self.reporter.error(Interrupted(why, None if self.several else hint, status=status))
        if self.several:
            names = ", ".join(a.job.label for a in unfinished)
            self.reporter.line(f"not finished: {names}{kept}", "yellow")
        return status


def run(env: Env, reporter: Reporter, conn: Connection, jobs: list[Job], options: Options) -> ExitStatus:
    """Stream `jobs`; --out-dir was prepared and checked before any request (sinks.check_out_dir)."""
    from cvstream import source

    client = source.make_client(conn)
    runner = Runner(env, reporter, conn, jobs, options)
    try:
        return runner.run(client)
    finally:
        if not runner.cancel.is_set():
            client.close()
