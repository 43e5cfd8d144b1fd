"""Everything cvstream says on stderr: errors, notes, retries, the usage summary, the waiting spinner.

Every line passes through `_redact`, so a secret (the API key) can never be printed, whatever a
message contains.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from cvstream.context import Env
from cvstream.errors import CvstreamError, redact
from cvstream.events import Retrying
from cvstream.usage import Summary, format_summary, stop_note

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live


class _Waiting:
    """Spinner text with the elapsed time, computed at each refresh."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._start = time.monotonic()

    def __rich__(self) -> Any:
        from rich.text import Text

        return Text(f"waiting for {self._model} {time.monotonic() - self._start:.1f} s", style="dim")


class Reporter:
    def __init__(self, env: Env, *, quiet: bool = False, secrets: tuple[str, ...] = ()) -> None:
        self._env = env
        self.quiet = quiet
        self._secrets = secrets
        self._console: Console | None = None
        self._spinner: Live | None = None
        # In a pipe, without FORCE_COLOR, stderr is plain text: no need to import rich (~40 ms) for it.
        self._plain = not env.stderr_isatty and not env.environ.get("FORCE_COLOR")

    @property
    def console(self) -> Console:
        if self._console is None:
            self._console = self._env.stderr_console()
        return self._console

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)  # a safety net: errors are redacted where they are made

    def line(self, text: str, style: str | None = None) -> None:
        if self._plain:
            self._env.stderr.write(self._redact(text) + "\n")
            self._env.stderr.flush()
            return
        self.console.print(self._redact(text), style=style, markup=False, highlight=False, soft_wrap=True)

    def traceback(self, error: BaseException) -> None:
        import traceback

        self._env.stderr.write(self._redact("".join(traceback.format_exception(error))))

    def error(self, error: CvstreamError) -> None:
        lines = error.lines()
        self.line(lines[0], "bold red")
        for extra in lines[1:]:
            self.line(extra, "yellow")

    def warning(self, text: str) -> None:
        """A warning shows even with --quiet (it is about something the user should fix)."""
        self.line(text if text.startswith("warning:") else f"warning: {text}", "yellow")

    def note(self, text: str) -> None:
        if not self.quiet:
            self.line(text, "yellow")

    def retry(self, event: Retrying, label: str | None = None) -> None:
        if not self.quiet:
            self.line((f"{label}: " if label else "") + event.describe(), "yellow")

    def summary(self, summary: Summary, label: str | None = None, *, so_far: bool = False) -> None:
        self.line(format_summary(summary, label, so_far=so_far), "dim")

    def stop_note(self, summary: Summary, label: str | None = None) -> None:
        note = stop_note(summary)
        if note:
            self.note((f"{label}: " if label else "") + note)

    # -- waiting spinner (terminal only) -------------------------------------------------------------
    def start_waiting(self, model: str) -> None:
        if self.quiet or self._plain or not self.console.is_terminal or self.console.is_dumb_terminal:
            return
        from rich.live import Live
        from rich.spinner import Spinner

        self._spinner = Live(
            Spinner("dots", text=_Waiting(model), style="dim"),
            console=self.console,
            transient=True,
            refresh_per_second=12,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._spinner.start()

    def stop_waiting(self) -> None:
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None
