"""Output sinks: one module per output format, all fed the same events; the one output selector.

A sink receives every event of one answer (`event`), then `finish` once, with the summary and the
error that ended the stream, if any. Sinks write the answer; `run.py` writes everything else to stderr.
`select_mode` picks the `OutputMode` from the flags and the terminal; `make_sink` builds its sink
(imported late: `--raw` never imports rich).
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from cvstream.errors import CvstreamError, OutputError, UsageError
from cvstream.events import Event
from cvstream.usage import Summary

if TYPE_CHECKING:
    from cvstream.context import Env


class Sink(Protocol):
    wants_raw: bool  # does it need the raw server-sent events (RawEvent)?

    def event(self, event: Event) -> None: ...

    def finish(self, summary: Summary, error: CvstreamError | None) -> None: ...


def sink_error(sink: Sink) -> CvstreamError | None:
    """The error a sink found at the end, if it can find one (the document sink: --strict, --in-place)."""
    found = getattr(sink, "error", None)
    return found if isinstance(found, CvstreamError) else None


class OutputMode(Enum):
    """Each output format and what it needs: a file suffix for --out-dir, raw events, terminal-ness."""

    # flag, file suffix, wants raw events, is a terminal rendering, can hold several inputs on one stdout
    LIVE = ("live", ".md", False, True, True)
    PLAIN = ("plain", ".md", False, True, True)
    RAW = ("raw", ".md", False, False, True)
    SSE = ("sse", ".sse", False, False, False)  # one stream, one [DONE]: several need --out-dir
    JSON = ("json", ".ndjson", True, False, True)  # every line carries "input"

    def __init__(self, flag: str, suffix: str, wants_raw: bool, terminal: bool, several: bool) -> None:
        self.flag = flag
        self.suffix = suffix
        self.wants_raw = wants_raw
        self.terminal = terminal  # a terminal rendering; to a file it is written as --raw
        self.several = several

    @property
    def for_file(self) -> OutputMode:
        """The mode used when the answer goes to a file (--out-dir) instead of a terminal."""
        return OutputMode.RAW if self.terminal else self


def select_mode(env: Env, *, raw: bool, sse: bool, json: bool, plain: bool) -> OutputMode:
    """The one output selector: at most one format flag; else live on a terminal, raw in a pipe."""
    chosen = [
        mode
        for mode, flag in (
            (OutputMode.RAW, raw),
            (OutputMode.SSE, sse),
            (OutputMode.JSON, json),
            (OutputMode.PLAIN, plain),
        )
        if flag
    ]
    if len(chosen) > 1:
        raise UsageError(f"choose one output format, not {' and '.join('--' + m.flag for m in chosen)}")
    if chosen:
        return chosen[0]
    if not env.stdout_isatty:
        return OutputMode.RAW
    return OutputMode.PLAIN if env.dumb_terminal else OutputMode.LIVE


def make_sink(
    mode: OutputMode, out: BinaryIO, env: Env, *, show_thinking: bool = True, label: str | None = None
) -> Sink:
    """The sink for `mode` writing to `out`; `label` names the input in NDJSON lines when there are several."""
    if mode is OutputMode.SSE:
        from cvstream.sinks.sse import SseSink

        return SseSink(out)
    if mode is OutputMode.JSON:
        from cvstream.sinks.ndjson import NdjsonSink

        return NdjsonSink(out, label=label)
    if mode is OutputMode.LIVE:
        from cvstream.sinks.live import LiveSink

        return LiveSink(env.stdout_console(), show_thinking=show_thinking)
    from cvstream.sinks.text import TextSink

    return TextSink(out, final_newline=mode is OutputMode.PLAIN)


def output_path(out_dir: Path, label: str, mode: OutputMode, filename: str | None = None) -> Path:
    """Where an input's answer goes in --out-dir: its own file name, or the label's stem + the mode's suffix."""
    return out_dir / (filename or Path(label).stem + mode.for_file.suffix)


def make_out_dir(out_dir: Path) -> None:
    """Create --out-dir; an unusable one is an output error naming it (check_out_dir's first step)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"--out-dir {out_dir} is not a directory", "pick another --out-dir") from None
    except OSError as exc:
        raise OutputError(f"cannot create --out-dir {out_dir} ({exc.strerror})", "pick another --out-dir") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to --out-dir {out_dir} (permission denied)", "pick another --out-dir")


def check_out_dir(out_dir: Path, targets: list[Path]) -> None:
    """Before any request: --out-dir is usable and no answer's file name is taken by a directory."""
    make_out_dir(out_dir)
    for target in targets:
        for path in (target, target.with_name(target.name + ".partial")):
            if path.is_dir():
                raise OutputError(
                    f"cannot write {path}: a directory has that name, so nothing was sent",
                    "move it away, or pick another --out-dir",
                )
