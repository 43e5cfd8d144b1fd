"""The history reads model names and prices as `ask` does: `log stats` prices by id, undated id or short name and
batch answers at half price; `log --model` takes short names; `ask -c` continues the latest ask/enhance
conversation, never a batch result. The real entry point and SDK against the mock (its batch endpoints too)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cvstream.mock.server import MockServer
from tests.batch_support import batch_mock
from tests.conftest import Result

Cli = Callable[..., Result]
SONNET, HAIKU = "claude-sonnet-5-5", "claude-haiku-5-5"  # what `sonnet` and `haiku` resolve to (the SDK's list)


def ndjson(result: Result) -> list[dict[str, Any]]:
    assert result.code == 0, result.stderr
    return [json.loads(line) for line in result.out.splitlines()]


def prices(home: Path, text: str) -> None:
    config = home / ".config" / "cvstream"
    config.mkdir(parents=True, exist_ok=True)
    (config / "prices.toml").write_text(text)


def cost(row: dict[str, Any], input_price: float, output_price: float) -> float:
    return float(row["input_tokens"] * input_price + row["output_tokens"] * output_price) / 1_000_000


def user_turns(server: MockServer) -> list[str]:
    """The user messages of the last request the mock received, oldest first."""
    return [m["content"] for m in (server.records[-1].body or {})["messages"] if m["role"] == "user"]


def by_model(stats: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["model"]: r for r in stats if r["by"] == "model"}


def test_stats_prices_a_model_by_a_short_name_as_ask_does(cli: Cli, mock: MockServer, home: Path) -> None:
    prices(home, "[sonnet]\ninput = 3.0\noutput = 15.0\n[fast]\ninput = 1.0\noutput = 5.0\n")
    env = {"CVSTREAM_ALIASES": "fast=haiku"}  # a user's alias pointing at a family's short name
    asked = cli("ask", "--json", "a", base_url=mock.base_url, env=env)
    cli("ask", "-m", "fast", "b", base_url=mock.base_url, env=env)
    summary = json.loads(asked.out.splitlines()[-1])
    stats = by_model(ndjson(cli("log", "stats", env=env)))
    assert stats[SONNET]["cost"] == summary["cost_usd"] == cost(stats[SONNET], 3.0, 15.0) > 0
    assert stats[HAIKU]["cost"] == cost(stats[HAIKU], 1.0, 5.0) > 0
    assert by_model(ndjson(cli("log", "stats")))[HAIKU]["cost"] is None  # without the alias, no price for it


def test_stats_prices_an_undated_price_for_the_dated_id(cli: Cli, mock: MockServer, home: Path) -> None:
    cli("ask", "-m", "claude-haiku-4-5-20251001", "a", base_url=mock.base_url)
    prices(home, "[claude-haiku-4-5]\ninput = 1.0\noutput = 5.0\n")
    [row] = [r for r in ndjson(cli("log", "stats")) if r["by"] == "model"]
    assert row["cost"] == cost(row, 1.0, 5.0) > 0


@pytest.mark.timeout(60)
def test_stats_prices_batch_answers_at_half(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path, state: Path
) -> None:
    server = batch_mock(mock_server)
    (home / "q.jsonl").write_text('{"prompt": "what is SSE?"}\n{"prompt": "and HTTP/2?"}\n')
    assert bcli("batch", "ask", "--prompts", "q.jsonl", "-o", "out", "--wait", base_url=server.base_url).code == 0
    assert bcli("ask", "one by one", base_url=server.base_url).code == 0
    prices(home, f"[{SONNET}]\ninput = 3.0\noutput = 15.0\ncache_read = 0.3\ncache_write = 3.75\n")
    recorded = ndjson(bcli("log", "--json"))
    assert sorted(r["command"] for r in recorded) == ["ask", "batch", "batch"]
    expected = sum(cost(r, 3.0, 15.0) * (0.5 if r["command"] == "batch" else 1.0) for r in recorded)
    stats = ndjson(bcli("log", "stats"))
    [sonnet] = [r for r in stats if r["by"] == "model"]
    [day] = [r for r in stats if r["by"] == "day"]
    assert sonnet["cost"] == pytest.approx(expected) and day["cost"] == pytest.approx(expected)
    assert sonnet["answers"] == 3 and sonnet["batch"] == day["batch"] == 2
    table = bcli("log", "stats", tty=True, columns=160).out
    assert "batch" in table.splitlines()[0]


def test_log_model_takes_short_names_and_undated_ids(cli: Cli, mock: MockServer) -> None:
    cli("ask", "a sonnet", base_url=mock.base_url)
    cli("ask", "-m", "haiku", "a haiku", base_url=mock.base_url)
    cli("ask", "-m", "claude-haiku-4-5-20251001", "a dated haiku", base_url=mock.base_url)
    env = {"CVSTREAM_ALIASES": "cv=sonnet"}
    assert [r["message"] for r in ndjson(cli("log", "--model", "sonnet"))] == ["a sonnet"]
    assert [r["message"] for r in ndjson(cli("log", "-m", "cv", env=env))] == ["a sonnet"]
    assert [r["model"] for r in ndjson(cli("log", "--model", "HAIKU"))] == [HAIKU]
    assert [r["message"] for r in ndjson(cli("log", "--model", "claude-haiku-4-5"))] == ["a dated haiku"]
    assert [r["message"] for r in ndjson(cli("log", "search", "haiku", "-m", "haiku"))] == ["a haiku"]
    wrong = cli("log", "--model", "sonet")
    assert wrong.code == 2 and wrong.out == ""
    assert wrong.stderr.startswith("error: unknown model 'sonet' (did you mean sonnet?)")


@pytest.mark.timeout(60)
def test_continue_skips_batch_results_and_cid_still_names_one(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path, state: Path
) -> None:
    server = batch_mock(mock_server)
    assert bcli("ask", "name three rivers", base_url=server.base_url).code == 0
    (home / "q.jsonl").write_text('{"prompt": "a batch question"}\n')
    assert bcli("batch", "ask", "--prompts", "q.jsonl", "-o", "out", "--wait", base_url=server.base_url).code == 0
    assert bcli("ask", "-c", "which is the longest?", base_url=server.base_url).code == 0
    assert user_turns(server) == ["name three rivers", "which is the longest?"]
    shown = bcli("log", "show", "-c")
    assert "name three rivers" in shown.out and "a batch question" not in shown.out
    batch_row = next(r for r in ndjson(bcli("log", "--json")) if r["command"] == "batch")
    assert bcli("ask", "--cid", batch_row["id"], "shorter, please", base_url=server.base_url).code == 0
    assert user_turns(server) == ["a batch question", "shorter, please"]
    assert bcli("ask", "-c", "and again", base_url=server.base_url).code == 0  # that conversation is now the latest
    assert user_turns(server) == ["a batch question", "shorter, please", "and again"]


@pytest.mark.timeout(60)
def test_continue_with_only_batch_results_recorded_says_so(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = batch_mock(mock_server)
    (home / "q.jsonl").write_text('{"prompt": "a batch question"}\n')
    assert bcli("batch", "ask", "--prompts", "q.jsonl", "-o", "out", "--wait", base_url=server.base_url).code == 0
    refused = bcli("ask", "-c", "more", base_url=server.base_url)
    assert refused.code == 2 and refused.stderr.startswith("error: cannot continue: no ask or enhance conversation")
    assert "--cid" in refused.stderr
    for args in (["log", "-c"], ["log", "show", "-c"], ["log", "export"]):  # the same "latest conversation"
        result = bcli(*args)
        assert result.code == 2 and result.out == "", args
        assert result.stderr.startswith("error: no ask or enhance conversation is recorded"), args
        assert "--cid" in result.stderr


def test_show_on_an_empty_history_is_a_usage_error_as_export_is(cli: Cli) -> None:
    for args in (["log", "show", "-c"], ["log", "export"]):
        result = cli(*args)
        assert result.code == 2 and result.stderr == "error: nothing is recorded yet\n", args


def test_stats_reads_the_aliases_only_to_price(cli: Cli, mock: MockServer, home: Path) -> None:
    cli("ask", "a", base_url=mock.base_url)
    broken = {"CVSTREAM_ALIASES": "nonsense"}
    assert [r["cost"] for r in ndjson(cli("log", "stats", env=broken))] == [None, None]  # no prices.toml: no names
    prices(home, "[sonnet]\ninput = 3.0\noutput = 15.0\n")
    refused = cli("log", "stats", env=broken)
    assert refused.code == 2 and refused.out == ""
    assert refused.stderr.startswith("error: CVSTREAM_ALIASES in environment: 'nonsense' is not name=model")
