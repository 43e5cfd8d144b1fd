"""Checks made before a request is sent, so a mistake costs no round trip and no tokens.

- `--max-tokens` over the model's most output tokens (known from the models list): refused at once.
- An input over `LARGE_INPUT_CHARS` characters is counted first (`messages/count_tokens`, free) and
  refused when input + `--max-tokens` exceeds the context window. Small inputs are never counted, so
  never delayed.
- `--max-cost`: every input is counted and the sum of worst cases (all input, every allowed output token)
  must not exceed it.

Counting goes through the `count` function given (source.count_tokens in the CLI), so this stays pure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cvstream.errors import CvstreamError, ExitStatus, UsageError
from cvstream.models import ModelEntry
from cvstream.prices import Price
from cvstream.usage import format_cost

LARGE_INPUT_CHARS = 100_000


@dataclass(frozen=True, slots=True)
class Input:
    label: str
    chars: int  # characters of user and system text
    max_tokens: int  # its request's max_tokens (a whole CV may get more room than --max-tokens' default)


def check_max_tokens(model_id: str, entry: ModelEntry | None, max_tokens: int) -> None:
    limit = entry.max_tokens if entry is not None else None
    if limit is not None and max_tokens > limit:
        raise UsageError(
            f"--max-tokens {max_tokens:,} is over {model_id}'s limit of {limit:,} output tokens",
            f"use --max-tokens {limit} or less",
        )


def check_fits(label: str, model_id: str, entry: ModelEntry | None, input_tokens: int, max_tokens: int) -> None:
    window = entry.max_input_tokens if entry is not None else None
    if window is not None and input_tokens + max_tokens > window:
        raise UsageError(
            f"{label} does not fit: {input_tokens:,} input tokens + {max_tokens:,} --max-tokens = "
            f"{input_tokens + max_tokens:,}, over {model_id}'s context window of {window:,} tokens",
            "shorten the input, lower --max-tokens or pick a model with a larger window (cvstream models)",
        )


def preflight(
    inputs: Sequence[Input],
    model_id: str,
    entry: ModelEntry | None,
    count: Callable[[int], int],
    note: Callable[[str], None],
    price: Price | None = None,
    max_cost: float | None = None,
) -> None:
    """Raise a `UsageError` (exit 2) if the run should not be sent; `count(i)` counts input i's tokens."""
    for item in inputs:
        check_max_tokens(model_id, entry, item.max_tokens)
    if max_cost is not None and price is None:
        raise UsageError(
            f"--max-cost needs a price for {model_id}, and prices.toml has none",
            "add one: `cvstream config prices` shows the file and a template",
        )
    window_known = entry is not None and entry.max_input_tokens is not None
    worst = 0.0
    for index, item in enumerate(inputs):
        large = item.chars > LARGE_INPUT_CHARS and window_known
        if not large and max_cost is None:
            continue
        try:
            tokens = count(index)
        except CvstreamError as exc:
            if max_cost is not None or exc.status in (ExitStatus.AUTH, ExitStatus.NETWORK):
                raise
            note(f"note: {item.label}: could not count its tokens first ({exc.message}); sending it anyway")
            continue
        if large:
            check_fits(item.label, model_id, entry, tokens, item.max_tokens)
        if price is not None:
            worst += price.worst_case(tokens, item.max_tokens)
    if max_cost is not None and worst > max_cost:
        several = " (the sum over all inputs)" if len(inputs) > 1 else ""
        raise UsageError(
            f"this run could cost up to {format_cost(worst)}{several}, over --max-cost {format_cost(max_cost)}",
            "lower --max-tokens, send less input, or raise --max-cost",
        )
