"""Pure: fold the event stream into a summary (usage, stop reason, timings) and format it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from cvstream.events import (
    Event,
    FinalUsage,
    MessageDelta,
    MessageStarted,
    MessageStopped,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
    UsageUpdate,
)

if TYPE_CHECKING:
    from cvstream.errors import CvstreamError
    from cvstream.prices import Price


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def updated(self, update: UsageUpdate) -> Usage:
        """Overwrite field by field with the values present in `update` (they are cumulative totals)."""
        changes = {name: value for name in _FIELDS if (value := getattr(update, name)) is not None}
        return replace(self, **changes) if changes else self

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in _FIELDS}


_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")

MIN_TOKENS_FOR_RATE = 10  # below this a tokens-per-second figure means nothing

# Stop reasons that end an answer normally; any other gets a note.
NORMAL_STOPS = frozenset({"end_turn", "stop_sequence"})

STOP_NOTES = {
    "max_tokens": "the answer was cut at the --max-tokens limit; raise --max-tokens for a longer one",
    "refusal": "Claude declined to answer this request; rephrase it",
    "pause_turn": "the server paused a long tool turn; send the request again to let it continue",
    "tool_use": "Claude asked to use a tool, which cvstream does not run; the answer ends there",
    "model_context_window_exceeded": "the model's context window is full; shorten the input",
}


@dataclass(slots=True)
class Summary:
    """What is known about one answer so far; `fold` updates it from each event."""

    model: str = ""
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    stop_sequence: str | None = None
    complete: bool = False
    started_at: float = 0.0
    first_token_at: float | None = None
    ended_at: float | None = None
    price: Price | None = None  # from prices.toml, when it prices the model: gives `cost`
    received_chars: int = 0  # text, thinking and tool input received: an estimate when usage is cut short

    def fold(self, event: Event, now: float) -> None:
        if isinstance(event, TextDelta | ThinkingDelta):
            self.received_chars += len(event.text)
            if self.first_token_at is None:
                self.first_token_at = now
        elif isinstance(event, ToolInputDelta):
            self.received_chars += len(event.partial_json)
            if self.first_token_at is None:
                self.first_token_at = now
        elif isinstance(event, MessageStarted):
            self.model = event.model or self.model
            self.usage = self.usage.updated(event.usage)
        elif isinstance(event, MessageDelta):
            self.stop_reason = event.stop_reason or self.stop_reason
            self.stop_sequence = event.stop_sequence or self.stop_sequence
            self.usage = self.usage.updated(event.usage)
        elif isinstance(event, FinalUsage):
            self.usage = self.usage.updated(event.usage)
        elif isinstance(event, MessageStopped):
            self.complete = True

    @property
    def ttft(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.started_at

    @property
    def duration(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.started_at

    @property
    def cost(self) -> float | None:
        """Dollars, when the model has a price (and every kind of token used has one). A cut answer's output
        is priced at its estimate, the count its usage line shows and the history records."""
        if self.price is None:
            return None
        return self.price.cost(replace(self.usage, output_tokens=self.output_tokens()))

    def output_tokens(self) -> int:
        """The output tokens to count: the API's, or the estimate when the answer was cut before it reported them."""
        return self.estimated_output() if self.output_estimated() else self.usage.output_tokens

    def output_estimated(self) -> bool:
        """Did the answer stop before the API reported its output tokens (so they are estimated)?"""
        return not self.complete and self.estimated_output() > self.usage.output_tokens

    def estimated_output(self) -> int:
        return max(self.usage.output_tokens, round(self.received_chars / 4))  # about 4 characters a token

    def output_shown(self) -> str:
        """The output tokens for display: `~N` when estimated from the text received."""
        if self.output_estimated():
            return f"~{self.estimated_output():,}"
        return f"{self.usage.output_tokens:,}"

    def tokens_per_second(self) -> float | None:
        """Output tokens per second of streaming after the first token; None for under 10 tokens."""
        if self.first_token_at is None or self.ended_at is None:
            return None
        tokens = self.output_tokens()
        span = self.ended_at - self.first_token_at
        return tokens / span if span > 0 and tokens >= MIN_TOKENS_FOR_RATE else None

    def as_json(self) -> dict[str, Any]:
        """The `cvstream.summary` line of `--json`."""
        ttft, duration = self.ttft, self.duration
        line: dict[str, Any] = {
            "type": "cvstream.summary",
            "model": self.model,
            "stop_reason": self.stop_reason,
            "usage": self.usage.as_dict(),
            "ttft_s": None if ttft is None else round(ttft, 4),
            "duration_s": None if duration is None else round(duration, 4),
            "cost_usd": None if (cost := self.cost) is None else round(cost, 6),
        }
        if self.output_estimated():  # cut short: the text received, at about 4 characters a token
            line["output_tokens_estimated"] = self.estimated_output()
        return line


WIDTH = 80  # the usage line never wraps on a standard terminal


class Observer(Protocol):
    """Folds the same events as a Summary, for its own ends (the history records through one): each event
    as it arrives, then the answer's end with its summary and error (told at least once)."""

    def event(self, event: Event, now: float) -> None: ...

    def end(self, summary: Summary, error: CvstreamError | None) -> None: ...


class _Unobserved:
    def event(self, event: Event, now: float) -> None:
        pass

    def end(self, summary: Summary, error: CvstreamError | None) -> None:
        pass


UNOBSERVED: Observer = _Unobserved()  # an answer nobody records (--no-log, logging off)


def format_cost(dollars: float) -> str:
    """Dollars to 4 decimals; a cost too small to show there is `<$0.0001`, not `$0.0000`."""
    return "<$0.0001" if 0 < dollars < 0.00005 else f"${dollars:,.4f}"


def format_summary(summary: Summary, label: str | None = None, *, so_far: bool = False) -> str:
    """One line for stderr that fits 80 columns, e.g. `usage: 31 in · 212 out · first token 0.42 s · total 3.10 s`.

    Cache counts appear when non-zero; the cost ends the line when the model has a price (never dropped).
    When a long input label leaves too little room, the least useful fields go first (tok/s, first token,
    total); the model, the stop reason and every figure are in `--json`'s summary.
    """
    u = summary.usage
    fixed = [f"{u.input_tokens:,} in", f"{summary.output_shown()} out"]
    if u.cache_read_tokens or u.cache_write_tokens:
        fixed.append(f"cache {u.cache_read_tokens:,} read/{u.cache_write_tokens:,} write")
    optional: list[tuple[int, str]] = []  # (drop order, text): the lowest drops first
    if (ttft := summary.ttft) is not None:
        optional.append((1, f"first token {ttft:.2f} s"))
    if (duration := summary.duration) is not None:
        optional.append((2, f"total {duration:.2f} s"))
    if (tps := summary.tokens_per_second()) is not None:
        optional.append((0, f"{tps:.0f} tok/s"))
    head = (f"{label}: " if label else "") + ("usage so far: " if so_far else "usage: ")
    cost = [format_cost(dollars)] if (dollars := summary.cost) is not None else []  # always last, never dropped
    while True:
        line = head + " · ".join(fixed + [text for _, text in optional] + cost)
        if len(line) <= WIDTH or not optional:
            return line
        optional.remove(min(optional))


def stop_note(summary: Summary) -> str | None:
    """A one-line note for a stop reason that needs the user's attention."""
    reason = summary.stop_reason
    if reason is None or reason in NORMAL_STOPS:
        return None
    return f"note: stop reason {reason}: " + STOP_NOTES.get(reason, "the answer ended for an unusual reason")


def usage_table(rows: list[tuple[str, str, Summary, int | None]]) -> list[tuple[str, bool]]:
    """(line, is header) of the --out-dir usage table: one row per (input, output file, summary, failed
    status or None), columns aligned as plain text (it is often read from a log)."""
    header = ("input", "output", "status", "in", "out", "cache read", "cache write", "stop", "time")
    table = [header]
    for label, output, summary, status in rows:
        u = summary.usage
        table.append(
            (
                label,
                output,
                "ok" if status is None else f"failed ({status})",
                f"{u.input_tokens:,}",
                summary.output_shown(),
                f"{u.cache_read_tokens:,}",
                f"{u.cache_write_tokens:,}",
                summary.stop_reason or "-",
                f"{summary.duration or 0.0:.2f} s",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    numeric = {3, 4, 5, 6, 8}
    return [
        (
            "  ".join(
                c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip(),
            row is header,
        )
        for row in table
    ]
