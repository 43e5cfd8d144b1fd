"""`cvstream count`, the checks before sending and the cost line, end to end against the mock."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cvstream.mock.server import MockServer
from tests.conftest import Result

pytestmark = pytest.mark.timeout(60)

Cli = Callable[..., Result]
PRICES = """
[claude-sonnet-5-5]
input = 3.0
output = 15.0

[haiku]
input = 1.0
output = 5.0
"""


def _sent(server: MockServer, path: str) -> int:
    return sum(1 for r in server.records if r.path.split("?")[0] == path)


def _prices(home: Path, text: str = PRICES) -> Path:
    config = home / ".config" / "cvstream"
    config.mkdir(parents=True, exist_ok=True)
    path = config / "prices.toml"
    path.write_text(text)
    return path


def _ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def _big(home: Path, chars: int) -> Path:
    path = home / "big.txt"
    path.write_text("- " + "x" * (chars - 2) + "\n")
    return path


def test_count_ask_takes_stdin_and_the_prompt_like_ask(cli: Cli, mock: MockServer) -> None:
    result = cli("count", "ask", "review", stdin=b"x" * 400, base_url=mock.base_url)
    assert result.code == 0
    counted = next(r for r in mock.records if r.path == "/v1/messages/count_tokens")
    assert counted.headers.get("x-api-key") or counted.headers.get("authorization")
    assert result.out.splitlines() == [
        "input   model              tokens  context window     left",
        "prompt  claude-sonnet-5-5     107       1,000,000  999,893",
    ]  # "review", a blank line and the piped text in <input> tags, at the mock's 4 characters a token
    assert _sent(mock, "/v1/messages") == 0  # nothing generated


def test_count_enhance_per_file_as_ndjson(cli: Cli, mock: MockServer, home: Path) -> None:
    (home / "a.txt").write_text("- led a team of 4\n")
    (home / "b.txt").write_text("- shipped x\n- fixed y\n")
    (home / "job.txt").write_text("a job\n")
    result = cli(
        "count", "enhance", "a.txt", "b.txt", "--job", "job.txt", "-m", "haiku", "--json", base_url=mock.base_url
    )
    assert result.code == 0
    rows = [json.loads(line) for line in result.out.splitlines()]
    assert [r["input"] for r in rows] == ["a.txt", "b.txt"]
    assert {r["model"] for r in rows} == {"claude-haiku-5-5"}
    for row in rows:
        assert row["context_window"] == 400_000 and row["left"] == 400_000 - row["input_tokens"]
        assert row["fits"] is True and row["max_tokens"] == 1024 and row["max_cost_usd"] is None
    bad = cli("count", "enhance", "missing.txt", base_url=mock.base_url)
    assert bad.code == 2 and bad.stderr.startswith("error: missing.txt: no such file")


def test_count_says_when_an_input_does_not_fit(cli: Cli, mock: MockServer, home: Path) -> None:
    _big(home, 700_000)
    args = ("count", "enhance", "big.txt", "-m", "claude-sonnet-4-6")
    result = cli(*args, "--max-tokens", "64000", base_url=mock.base_url)
    assert result.code == 0
    assert result.out.splitlines() == [
        "input    model               tokens  context window    left",
        "big.txt  claude-sonnet-4-6  175,212         200,000  24,788",
    ]
    assert result.stderr == (
        "note: big.txt: 175,212 input tokens + --max-tokens 64,000 do not fit in "
        "claude-sonnet-4-6's context window of 200,000\n"
    )
    assert cli(*args, "--max-tokens", "1000", base_url=mock.base_url).stderr == ""


def test_max_tokens_over_the_models_limit_is_refused_before_any_request(cli: Cli, mock: MockServer) -> None:
    cli("models", base_url=mock.base_url)
    result = cli("ask", "hi", "-m", "haiku", "--max-tokens", "64001", base_url=mock.base_url)
    assert result.code == 2
    assert result.stderr == (
        "error: --max-tokens 64,001 is over claude-haiku-5-5's limit of 64,000 output tokens\n"
        "hint: use --max-tokens 64000 or less\n"
    )
    assert _sent(mock, "/v1/messages") == 0
    unlimited = cli("ask", "hi", "-m", "fable", "--max-tokens", "900000", base_url=mock.base_url)
    assert unlimited.code == 0  # a model without published limits is sent unchecked
    assert mock.records[-1].body is not None and mock.records[-1].body["max_tokens"] == 900_000


def test_a_large_input_is_counted_first_and_refused_if_it_does_not_fit(cli: Cli, mock: MockServer, home: Path) -> None:
    cli("models", base_url=mock.base_url)
    _big(home, 700_000)
    result = cli("enhance", "big.txt", "-m", "claude-sonnet-4-6", "--max-tokens", "30000", base_url=mock.base_url)
    assert result.code == 2
    assert result.stderr == (
        "error: big.txt does not fit: 175,212 input tokens + 30,000 --max-tokens = 205,212, "
        "over claude-sonnet-4-6's context window of 200,000 tokens\n"
        "hint: shorten the input, lower --max-tokens or pick a model with a larger window (cvstream models)\n"
    )
    assert _sent(mock, "/v1/messages/count_tokens") == 1 and _sent(mock, "/v1/messages") == 0
    fits = cli("enhance", "big.txt", "-m", "claude-sonnet-4-6", "--max-tokens", "1000", base_url=mock.base_url)
    assert fits.code == 0
    assert _sent(mock, "/v1/messages/count_tokens") == 2 and _sent(mock, "/v1/messages") == 1


def test_small_inputs_are_never_counted(cli: Cli, mock: MockServer, home: Path) -> None:
    cli("models", base_url=mock.base_url)
    just_under = _big(home, 99_000)
    assert cli("enhance", str(just_under), base_url=mock.base_url).code == 0
    assert _sent(mock, "/v1/messages/count_tokens") == 0 and _sent(mock, "/v1/messages") == 1


def test_the_cost_ends_the_usage_line_and_is_in_the_json_summary(cli: Cli, mock: MockServer, home: Path) -> None:
    _prices(home)
    result = cli("ask", "hi", base_url=mock.base_url)
    usage = result.stderr.strip().splitlines()[-1]
    assert usage.startswith("usage: 1 in · 15 out") and usage.endswith(" · $0.0002")  # (3 + 225) / 1e6
    summary = json.loads(cli("ask", "hi", "--json", base_url=mock.base_url).out.splitlines()[-1])
    assert summary["cost_usd"] == pytest.approx((1 * 3 + 15 * 15) / 1e6)
    by_alias = json.loads(cli("ask", "hi", "-m", "haiku", "--json", base_url=mock.base_url).out.splitlines()[-1])
    assert by_alias["cost_usd"] == pytest.approx((1 * 1 + 15 * 5) / 1e6)  # priced by its short name
    unpriced = json.loads(cli("ask", "hi", "-m", "opus", "--json", base_url=mock.base_url).out.splitlines()[-1])
    assert unpriced["cost_usd"] is None
    assert "$" not in cli("ask", "hi", "-m", "opus", base_url=mock.base_url).stderr


def test_max_cost_refuses_a_run_whose_worst_case_is_over(cli: Cli, mock: MockServer, home: Path) -> None:
    _prices(home)
    over = cli("ask", "hi", "--max-tokens", "1000", "--max-cost", "0.01", base_url=mock.base_url)
    assert over.code == 2
    assert over.stderr == (
        "error: this run could cost up to $0.0150, over --max-cost $0.0100\n"
        "hint: lower --max-tokens, send less input, or raise --max-cost\n"
    )  # 1 input token at $3 + 1,000 output tokens at $15 per million
    assert _sent(mock, "/v1/messages") == 0
    ok = cli("ask", "hi", "--max-tokens", "1000", "--max-cost", "0.02", base_url=mock.base_url)
    assert ok.code == 0 and _sent(mock, "/v1/messages") == 1
    (home / "a.txt").write_text("- a\n")
    (home / "b.txt").write_text("- b\n")
    several = cli(
        "enhance", "a.txt", "b.txt", "--json", "--max-tokens", "1000", "--max-cost", "0.02", base_url=mock.base_url
    )
    assert several.code == 2 and "(the sum over all inputs)" in several.stderr
    unpriced = cli("ask", "hi", "-m", "opus", "--max-cost", "1", base_url=mock.base_url)
    assert unpriced.code == 2
    assert unpriced.stderr.startswith("error: --max-cost needs a price for claude-opus-5-5, and prices.toml has none")


def test_config_prices_shows_the_template_then_the_table(cli: Cli, home: Path) -> None:
    template = cli("config", "prices")
    path = home / ".config" / "cvstream" / "prices.toml"
    assert template.code == 0
    assert template.out.startswith(f"# cvstream prices: save as {path}\n")
    assert "# [claude-sonnet-5-5]\n# input = \n# output = \n" in template.out
    assert template.stderr == f"note: {path} does not exist yet: save this template there and fill in the prices\n"
    _prices(home, PRICES + "\n[claude-opus-5]\ninput = 5\noutput = 25\ncache_read = 0.5\n")
    shown = cli("config", "prices")
    assert shown.out.splitlines() == [
        str(path),
        "claude-sonnet-5-5  input 3.00  output 15.00",
        "haiku              input 1.00  output 5.00",
        "claude-opus-5      input 5.00  output 25.00  cache read 0.50",
        "($ per million tokens)",
    ]
    _prices(home, "[claude-x]\ninput = 1\n")
    broken = cli("config", "prices")
    assert broken.code == 2 and broken.stderr.startswith(f"error: {path}: [claude-x] has no output price")
    assert cli("ask", "hi", "--offline").code == 2  # a broken price table stops a run too, before sending


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK warns too, in its own words
def test_a_deprecated_model_gets_a_note(cli: Cli, mock: MockServer) -> None:
    cli("models", base_url=mock.base_url)
    result = cli("ask", "hi", "-m", "claude-sonnet-4-5-20250929", base_url=mock.base_url)
    assert result.code == 0
    assert result.stderr.startswith("note: claude-sonnet-4-5-20250929 is deprecated (it retires on 2026-11-30)\n")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_undated_alias_gets_the_note_of_the_model_it_resolves_to(cli: Cli, mock: MockServer, home: Path) -> None:
    (home / ".config" / "cvstream").mkdir(parents=True)
    (home / ".config" / "cvstream" / "config.toml").write_text('[aliases]\ncv = "claude-sonnet-4-5"\n')
    cli("models", base_url=mock.base_url)  # the Models API lists only the dated id
    for name in ("claude-sonnet-4-5", "cv"):
        result = cli("ask", "hi", "-m", name, base_url=mock.base_url)
        assert result.code == 0
        assert result.stderr.startswith(
            "note: claude-sonnet-4-5 (claude-sonnet-4-5-20250929) is deprecated (it retires on 2026-11-30)\n"
        )
    assert [r.body["model"] for r in mock.records if r.path == "/v1/messages" and r.body] == ["claude-sonnet-4-5"] * 2
    assert not cli("ask", "hi", "-m", "claude-haiku-4-5", base_url=mock.base_url).stderr.startswith("note:")


def test_count_enhance_counts_a_whole_cv_as_enhance_sends_it(cli: Cli, mock: MockServer, home: Path) -> None:
    (home / "cv.md").write_text(
        "# Jane Doe\n\n## Experience\n\n- Led a team of 4 engineers\n- Built a billing system\n\n"
        "## Education\n\n- BSc Computer Science\n"
    )
    for only in ([], ["--only", "Experience"]):
        counted = json.loads(cli("count", "enhance", "cv.md", *only, "--json", base_url=mock.base_url).out)
        sent = cli("enhance", "cv.md", *only, "--json", base_url=mock.base_url)
        summary = json.loads(sent.out.splitlines()[-1])
        assert counted["input_tokens"] == summary["usage"]["input_tokens"]
        assert counted["max_tokens"] == mock.records[-1].body["max_tokens"]  # type: ignore[index]


def test_a_cut_answer_is_priced_at_its_estimated_output_everywhere(
    cli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    _prices(home)
    words = " ".join(["x" * 99] * 10)  # 3 words arrive before the reset: 299 characters, ~75 tokens
    server = mock_server(fault="reset", text=words)
    raw = cli("ask", "hi", base_url=server.base_url)
    assert raw.code == 6
    summary = json.loads(cli("ask", "hi", "--json", base_url=server.base_url).out.splitlines()[-1])
    assert summary["error"]["kind"] == "incomplete"
    assert summary["usage"]["output_tokens"] == 1  # what the API reported before the cut (message_start)
    assert summary["output_tokens_estimated"] == 75  # what the usage line shows and the history records
    expected = (summary["usage"]["input_tokens"] * 3.0 + 75 * 15.0) / 1e6
    assert summary["cost_usd"] == pytest.approx(expected)
    usage = next(line for line in raw.stderr.splitlines() if line.startswith("usage so far:"))
    assert "· ~75 out ·" in usage and usage.endswith(f" · ${expected:.4f}")
    [by_model] = [r for r in _ndjson(cli("log", "stats").out) if r["by"] == "model"]
    assert by_model["output_tokens"] == 2 * 75 and by_model["cost"] == pytest.approx(2 * expected)
