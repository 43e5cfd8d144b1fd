"""How a job's progress and results are shown on stderr: a live bar on a terminal, lines in a log.

Counts are the API's `request_counts` summed over the job's batches (the API keeps every request
`processing` until its batch ends, so the bar moves when a batch ends).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cvstream.report import Reporter

if TYPE_CHECKING:
    from rich.live import Live

    from cvstream.batch.follow import Outcome
    from cvstream.source.batches import BatchInfo


def _elapsed(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def counts_line(infos: list[BatchInfo], since: datetime) -> str:
    """`ended, 9 succeeded, 1 errored, 0 processing, 0 expired, 0 canceled, 2m05s` (summed over batches)."""
    status = (
        "ended"
        if all(i.ended for i in infos)
        else ("canceling" if any(i.status == "canceling" for i in infos) else "in_progress")
    )
    total = {
        name: sum(getattr(i, name) for i in infos)
        for name in ("succeeded", "errored", "processing", "expired", "canceled")
    }
    parts = [
        f"{value:,} {name}" for name, value in total.items() if value or name in ("succeeded", "errored", "processing")
    ]
    elapsed = (datetime.now(UTC) - since).total_seconds()
    return f"{status}: {', '.join(parts)}; {_elapsed(elapsed)} since submitted"


class LinesProgress:
    """One line whenever the counts or the status change (for logs and pipes)."""

    def __init__(self, reporter: Reporter, job_id: str, since: datetime) -> None:
        self._reporter, self._job_id, self._since = reporter, job_id, since
        self._last: tuple[Any, ...] | None = None

    def update(self, infos: list[BatchInfo]) -> None:
        key = tuple((i.status, i.processing, i.succeeded, i.errored, i.expired, i.canceled) for i in infos)
        if key != self._last:
            self._last = key
            self._reporter.note(f"{self._job_id}: {counts_line(infos, self._since)}")

    def note(self, text: str) -> None:
        self._reporter.note(text)

    def close(self) -> None:
        pass


class _Bar:
    """Rendered at each refresh, so the elapsed time runs between polls."""

    def __init__(self, job_id: str, since: datetime) -> None:
        self.job_id, self.since = job_id, since
        self.infos: list[BatchInfo] = []

    def __rich__(self) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        infos = self.infos
        total = sum(i.total for i in infos) or 1
        done = total - sum(i.processing for i in infos)
        counts = ", ".join(
            f"{sum(getattr(i, name) for i in infos):,} {name}" for name in ("succeeded", "errored", "processing")
        )
        elapsed = _elapsed((datetime.now(UTC) - self.since).total_seconds())
        grid = Table.grid(padding=(0, 1))
        grid.add_row(
            ProgressBar(total=total, completed=done, width=20),
            Text(f"{done:,}/{total:,}"),
            Text(f"{counts}, {elapsed}", style="dim", no_wrap=True, overflow="ellipsis"),
        )
        return grid


class LiveProgress:
    """A progress bar on a terminal's stderr."""

    def __init__(self, reporter: Reporter, job_id: str, since: datetime) -> None:
        from rich.live import Live

        self._reporter = reporter
        reporter.line(f"waiting for {job_id}", "dim")  # two lines: each fits 80 columns with a long batch id
        reporter.line("(Ctrl-C stops waiting; the batch keeps running)", "dim")
        self._bar = _Bar(job_id, since)
        self._live: Live | None = Live(
            self._bar, console=reporter.console, transient=False, refresh_per_second=2, redirect_stdout=False
        )
        self._live.start()

    def update(self, infos: list[BatchInfo]) -> None:
        self._bar.infos = infos
        if self._live is not None:
            self._live.refresh()

    def note(self, text: str) -> None:
        if self._live is not None:
            self._live.console.print(text, style="yellow", markup=False, highlight=False)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


class Silent:
    def update(self, infos: list[BatchInfo]) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def report_outcome(reporter: Reporter, outcome: Outcome, out_dir: str) -> None:
    """The results' summary on stderr: files written, then every input that did not succeed."""
    what = f"wrote {outcome.written:,} file{'s' if outcome.written != 1 else ''} to {out_dir}"
    if outcome.skipped:
        what += f" ({outcome.skipped:,} already there, skipped)"
    reporter.line(what)
    for label, reason in outcome.errored:
        reporter.line(f"errored: {label}: {reason}", "bold red")
    for label in outcome.expired:
        reporter.line(f"expired: {label} (not processed within 24 hours)", "bold red")
    for label in outcome.canceled:
        reporter.line(f"canceled: {label}", "yellow")
    for label in outcome.not_submitted:
        reporter.line(f"not submitted: {label}", "bold red")
    for label, kept in outcome.kept:
        reporter.line(f"warning: {label}: {kept}", "yellow")
    for label in outcome.cut:
        reporter.note(f"note: {label}: the answer stopped at max_tokens (raise --max-tokens)")
    if outcome.input_tokens or outcome.output_tokens:
        reporter.line(
            f"tokens: {outcome.input_tokens:,} in, {outcome.output_tokens:,} out (billed at half the standard price)",
            "dim",
        )
