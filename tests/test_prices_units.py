"""The pure parts of prices.py and preflight.py: the price table, costs, worst cases and the checks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cvstream.errors import ExitStatus, NetworkError, UsageError
from cvstream.models import ModelEntry
from cvstream.preflight import LARGE_INPUT_CHARS, Input, preflight
from cvstream.prices import BATCH_RATE, Price, parse_prices, price_for, template
from cvstream.usage import Summary, Usage, format_cost, format_summary

PATH = Path("/cfg/prices.toml")
SONNET = ModelEntry("claude-sonnet-5-5", max_input_tokens=1000, max_tokens=300)
NO_LIMITS = ModelEntry("claude-fable-5-2")


def test_a_cost_is_tokens_times_dollars_per_million() -> None:
    price = Price(input=3.0, output=15.0, cache_write=3.75, cache_read=0.3)
    usage = Usage(input_tokens=1000, output_tokens=2000, cache_read_tokens=10_000, cache_write_tokens=100)
    assert price.cost(usage) == pytest.approx((3000 + 30_000 + 3000 + 375) / 1e6)
    assert Price(3.0, 15.0).cost(Usage(10, 10)) == pytest.approx(180 / 1e6)
    assert Price(3.0, 15.0).cost(Usage(10, 10, cache_read_tokens=5)) is None  # an unpriced kind: unknown
    assert price.worst_case(1000, 500) == pytest.approx((3000 + 7500) / 1e6)
    assert format_cost(0.01234) == "$0.0123"
    assert format_cost(0.00001) == "<$0.0001" and format_cost(0.0) == "$0.0000"  # never a cost shown as nothing


def test_a_batch_answer_costs_half_cache_tokens_included() -> None:
    price = Price(input=3.0, output=15.0, cache_write=3.75, cache_read=0.3)
    usage = Usage(input_tokens=1000, output_tokens=2000, cache_read_tokens=10_000, cache_write_tokens=100)
    assert price.cost(usage, batch=True) == pytest.approx((3000 + 30_000 + 3000 + 375) / 1e6 * BATCH_RATE)
    assert BATCH_RATE == 0.5
    assert Price(3.0, 15.0).cost(Usage(10, 10, cache_read_tokens=5), batch=True) is None


def test_the_usage_line_and_json_summary_carry_the_cost() -> None:
    summary = Summary(model="m", usage=Usage(1000, 200), stop_reason="end_turn", price=Price(3.0, 46.5))
    assert format_summary(summary) == "usage: 1,000 in · 200 out · $0.0123"
    timed = Summary(usage=Usage(1, 2), started_at=0.0, first_token_at=0.5, ended_at=2.5, price=Price(1.0, 617.25e6))
    assert format_summary(timed) == "usage: 1 in · 2 out · first token 0.50 s · total 2.50 s · $1,234.5000"
    assert format_summary(timed, "x" * 30) == f"{'x' * 30}: usage: 1 in · 2 out · total 2.50 s · $1,234.5000"
    assert summary.as_json()["cost_usd"] == 0.0123
    assert Summary().as_json()["cost_usd"] is None


def test_the_price_table_is_checked() -> None:
    table = {"claude-sonnet-5-5": {"input": 3, "output": 15.0}, "Haiku": {"input": 1, "output": 5, "cache_read": 0.1}}
    assert parse_prices(table, PATH) == {
        "claude-sonnet-5-5": Price(3.0, 15.0),
        "haiku": Price(1.0, 5.0, cache_read=0.1),
    }
    cases: list[tuple[dict[str, Any], str]] = [
        ({"m": {"input": 1}}, "/cfg/prices.toml: [m] has no output price"),
        ({"m": {"input": 1, "ouput": 2, "output": 2}}, "/cfg/prices.toml: [m] has an unknown key 'ouput'"),
        ({"m": {"input": "3$", "output": 1}}, "/cfg/prices.toml: [m] input must be a number of dollars"),
        ({"m": {"input": -1, "output": 1}}, "/cfg/prices.toml: [m] input must be a number of dollars"),
        ({"m": 3}, "/cfg/prices.toml: m must be a table"),
    ]
    for bad, message in cases:
        with pytest.raises(UsageError, match=re.escape(message)):
            parse_prices(bad, PATH)


def test_a_price_by_id_by_undated_id_or_by_alias() -> None:
    prices = {"claude-haiku-4-5": Price(1, 5), "sonnet": Price(3, 15), "claude-opus-5": Price(5, 25)}
    aliases = {"sonnet": "claude-sonnet-5-5", "opus": "claude-opus-5-5"}
    assert price_for(prices, "claude-haiku-4-5-20251001", aliases) == Price(1, 5)
    assert price_for(prices, "claude-sonnet-5-5", aliases) == Price(3, 15)
    assert price_for(prices, "claude-opus-5", aliases) == Price(5, 25)
    assert price_for(prices, "claude-opus-5-5", aliases) is None


def test_the_template_lists_models_with_empty_commented_prices() -> None:
    text = template(PATH, ["claude-a", "claude-b"])
    assert text.startswith("# cvstream prices: save as /cfg/prices.toml\n")
    assert "# [claude-b]\n# input = \n# output = \n# cache_write = \n# cache_read = \n" in text
    import tomllib

    assert tomllib.loads(text) == {}  # all commented: valid, and prices nothing


def _never(index: int) -> int:
    raise AssertionError(f"input {index} was counted")


def test_small_inputs_are_never_counted() -> None:
    preflight([Input("a", LARGE_INPUT_CHARS, 100)], "m", SONNET, _never, print)


def test_max_tokens_over_the_limit_is_refused_before_anything() -> None:
    with pytest.raises(UsageError) as caught:
        preflight([Input("a", 10, 301)], "claude-sonnet-5-5", SONNET, _never, print)
    assert caught.value.status == ExitStatus.USAGE
    assert caught.value.lines() == [
        "error: --max-tokens 301 is over claude-sonnet-5-5's limit of 300 output tokens",
        "hint: use --max-tokens 300 or less",
    ]
    preflight([Input("a", 10**6, 10**6)], "claude-fable-5-2", NO_LIMITS, _never, print)  # no limits: no checks


def test_a_large_input_is_counted_and_refused_when_it_does_not_fit() -> None:
    counted: list[int] = []

    def count(index: int) -> int:
        counted.append(index)
        return 800

    preflight([Input("a", 10, 200), Input("b", LARGE_INPUT_CHARS + 1, 200)], "s", SONNET, count, print)
    assert counted == [1]
    with pytest.raises(UsageError) as caught:
        preflight([Input("b.txt", LARGE_INPUT_CHARS + 1, 201)], "claude-sonnet-5-5", SONNET, count, print)
    assert caught.value.lines()[0] == (
        "error: b.txt does not fit: 800 input tokens + 201 --max-tokens = 1,001, "
        "over claude-sonnet-5-5's context window of 1,000 tokens"
    )


def test_a_failed_count_is_a_note_unless_the_network_or_key_failed() -> None:
    notes: list[str] = []

    def fails(index: int) -> int:
        raise UsageError("HTTP 404")

    preflight([Input("b", LARGE_INPUT_CHARS + 1, 1)], "s", SONNET, fails, notes.append)
    assert notes == ["note: b: could not count its tokens first (HTTP 404); sending it anyway"]

    def offline(index: int) -> int:
        raise NetworkError("cannot connect")

    with pytest.raises(NetworkError):
        preflight([Input("b", LARGE_INPUT_CHARS + 1, 1)], "s", SONNET, offline, notes.append)


def test_max_cost_sums_the_worst_cases_of_every_input() -> None:
    price = Price(input=10.0, output=20.0)  # $ per million

    def count(index: int) -> int:
        return 100

    two = [Input("a", 5, 50), Input("b", 5, 50)]
    preflight(two, "m", None, count, print, price, max_cost=0.004)  # 2 x (1000 + 1000) / 1e6 = 0.004
    with pytest.raises(UsageError) as caught:
        preflight(two, "m", None, count, print, price, max_cost=0.0039)
    assert caught.value.lines() == [
        "error: this run could cost up to $0.0040 (the sum over all inputs), over --max-cost $0.0039",
        "hint: lower --max-tokens, send less input, or raise --max-cost",
    ]
    with pytest.raises(UsageError, match=re.escape("--max-cost needs a price for m, and prices.toml has none")):
        preflight(two, "m", None, count, print, None, max_cost=1.0)
