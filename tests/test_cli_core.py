"""`ask` and `enhance` end to end: real entry point, real SDK, real HTTP to the mock; exact outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from cvstream.mock.server import MockServer
from cvstream.prompt import ENHANCE_SYSTEM
from cvstream.sinks.sse import text_frame
from tests.conftest import Result

METHODS = ("create", "stream")
ANSWER = "Led a team of 4 engineers.\n- Shipped **v2** in 3 months, ünïcödé 🚀\n"


@pytest.fixture
def text_mock(mock_server: Callable[..., MockServer]) -> MockServer:
    return mock_server(text=ANSWER)


@pytest.mark.parametrize("method", METHODS)
def test_raw_output_is_exactly_the_answer(cli: Callable[..., Result], text_mock: MockServer, method: str) -> None:
    result = cli("ask", "hi", "--method", method, base_url=text_mock.base_url)
    assert result.code == 0
    assert result.stdout == ANSWER.encode()
    assert "\x1b" not in result.out


@pytest.mark.parametrize("method", METHODS)
def test_raw_is_the_default_in_a_pipe_and_has_no_ansi(
    cli: Callable[..., Result], text_mock: MockServer, method: str
) -> None:
    # No format flag, stdout not a terminal: --raw is chosen, and FORCE_COLOR adds nothing to it.
    forced = cli("ask", "hi", "--method", method, base_url=text_mock.base_url, env={"FORCE_COLOR": "1"})
    assert forced.code == 0
    assert forced.stdout == ANSWER.encode()


@pytest.mark.parametrize("method", METHODS)
def test_sse_output_is_the_web_route_framing(cli: Callable[..., Result], text_mock: MockServer, method: str) -> None:
    result = cli("ask", "hi", "--sse", "--method", method, base_url=text_mock.base_url)
    assert result.code == 0
    pieces = [
        "Led",
        " a",
        " team",
        " of",
        " 4",
        " engineers.",
        "\n-",
        " Shipped",
        " **v2**",
        " in",
        " 3",
        " months,",
        " ünïcödé",
        " 🚀",
        "\n",
    ]
    assert result.stdout == b"".join(text_frame(p) for p in pieces) + b"data: [DONE]\n\n"
    assert result.stdout.startswith(b'data: {"text": "Led"}\n\ndata: {"text": " a"}\n\n')
    # A browser-style reader gets the text back exactly.
    text = "".join(
        json.loads(line[6:])["text"]
        for line in result.out.split("\n")
        if line.startswith("data: ") and line != "data: [DONE]"
    )
    assert text == ANSWER


@pytest.mark.parametrize("method", METHODS)
def test_json_output_is_every_event_then_a_summary(
    cli: Callable[..., Result], text_mock: MockServer, method: str
) -> None:
    result = cli("ask", "hi", "--json", "--method", method, base_url=text_mock.base_url)
    assert result.code == 0
    lines = [json.loads(line) for line in result.out.splitlines()]
    types = [line["type"] for line in lines]
    assert types[:3] == ["message_start", "content_block_start", "ping"]
    assert types[-4:] == ["content_block_stop", "message_delta", "message_stop", "cvstream.summary"]
    summary = lines[-1]
    assert summary["model"] == "claude-sonnet-5-5"
    assert summary["stop_reason"] == "end_turn"
    assert summary["usage"] == {
        "input_tokens": 1,
        "output_tokens": 15,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
    }
    assert set(summary) == {"type", "model", "stop_reason", "usage", "ttft_s", "duration_s", "cost_usd"}
    assert "usage:" not in result.stderr  # in --json the summary is the last line instead


@pytest.mark.parametrize("method", METHODS)
def test_usage_summary_on_stderr(cli: Callable[..., Result], text_mock: MockServer, method: str) -> None:
    result = cli("ask", "hi", "--method", method, base_url=text_mock.base_url)
    (line,) = result.stderr.splitlines()
    assert line.startswith("usage: 1 in · 15 out · first token ")
    assert len(line) <= 80
    assert " total " in line
    quiet = cli("ask", "hi", "--no-usage", "--method", method, base_url=text_mock.base_url)
    assert quiet.stderr == "" and quiet.stdout == ANSWER.encode()


def _echo_user(result: Result) -> str:
    """The user message as the mock's echo reply quoted it."""
    text = result.out.split("User:\n\n", 1)[1]
    return "\n".join(line[2:] if line.startswith("> ") else line[1:] for line in text.strip("\n").splitlines())


def test_enhance_strips_markers_and_joins_bullets(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    (home / "bullets.txt").write_text(
        "- Built   the API\n\n*  led 3 people\n• cut costs\n1. shipped v2\n2) wrote docs \n"
    )
    result = cli("enhance", "bullets.txt", "--no-usage", base_url=mock.base_url)
    assert result.code == 0, result.stderr
    body = mock.records[-1].body
    assert body is not None
    assert body["messages"] == [
        {"role": "user", "content": "Built   the API\nled 3 people\ncut costs\nshipped v2\nwrote docs"}
    ]
    assert body["system"] == ENHANCE_SYSTEM
    assert body["max_tokens"] == 1024 and body["model"] == "claude-sonnet-5-5" and body["stream"] is True
    assert result.out == (  # the mock answers like the product: one rewritten-looking bullet per input bullet
        "- [offline] Built the API\n- [offline] Led 3 people\n- [offline] Cut costs\n"
        "- [offline] Shipped v2\n- [offline] Wrote docs\n"
    )


def test_enhance_reads_stdin_and_job_description(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    (home / "job.txt").write_text("Senior backend engineer, Python.\n")
    result = cli("enhance", "--job", "job.txt", stdin=b"- built things\n", base_url=mock.base_url)
    assert result.code == 0, result.stderr
    assert mock.records[-1].body["messages"][0]["content"] == (  # type: ignore[index]
        "built things\n\n<job_description>\nSenior backend engineer, Python.\n</job_description>"
    )
    dash = cli("enhance", "-", stdin=b"* one\n", base_url=mock.base_url)
    assert dash.code == 0 and mock.records[-1].body["messages"][0]["content"] == "one"  # type: ignore[index]


def test_system_text_replaced(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    (home / "sys.txt").write_text("Be terse.")
    cli("enhance", "-", "--system-file", "sys.txt", stdin=b"x\n", base_url=mock.base_url)
    assert mock.records[-1].body["system"] == "Be terse."  # type: ignore[index]
    cli("enhance", "-", "--system", "Be kind.", stdin=b"x\n", base_url=mock.base_url)
    assert mock.records[-1].body["system"] == "Be kind."  # type: ignore[index]
    cli("ask", "hi", base_url=mock.base_url)
    assert "system" not in mock.records[-1].body  # type: ignore[operator]


def test_ask_with_piped_stdin_layout(cli: Callable[..., Result], mock: MockServer) -> None:
    cli("ask", "write", "release notes", stdin=b"abc123 fix bug\ndef456 add feature\n", base_url=mock.base_url)
    assert mock.records[-1].body["messages"][0]["content"] == (  # type: ignore[index]
        "write release notes\n\n<input>\nabc123 fix bug\ndef456 add feature\n</input>"
    )
    cli("ask", stdin=b"only piped text\n", base_url=mock.base_url)
    assert mock.records[-1].body["messages"][0]["content"] == "only piped text"  # type: ignore[index]


@pytest.mark.parametrize("method", METHODS)
def test_request_options_reach_the_wire(cli: Callable[..., Result], mock: MockServer, method: str) -> None:
    result = cli(
        "ask",
        "hi",
        "--model",
        "claude-haiku-4-5",
        "--max-tokens",
        "77",
        "--thinking",
        "--effort",
        "high",
        "--method",
        method,
        "--hide-thinking",
        base_url=mock.base_url,
    )
    assert result.code == 0, result.stderr
    record = mock.records[-1]
    assert record.body is not None
    assert record.body["model"] == "claude-haiku-4-5"
    assert record.body["max_tokens"] == 77
    assert record.body["thinking"] == {"type": "adaptive"}
    assert record.body["output_config"] == {"effort": "high"}
    assert "temperature" not in record.body
    # The key travels as the SDK 2.x sends it, and only the stream helper marks itself.
    assert record.headers["authorization"] == "Bearer sk-ant-api03-TESTKEY-do-not-print-7f3e9a1c5b"
    assert (record.headers.get("x-stainless-helper-method") == "stream") == (method == "stream")
    # Thinking is not part of the raw answer.
    assert "Let me look" not in result.out


def test_environment_settings(cli: Callable[..., Result], mock: MockServer) -> None:
    env = {"CVSTREAM_MODEL": "claude-opus-4-8", "CVSTREAM_MAX_TOKENS": "99", "CVSTREAM_METHOD": "stream"}
    cli("ask", "hi", base_url=mock.base_url, env=env)
    record = mock.records[-1]
    assert record.body["model"] == "claude-opus-4-8" and record.body["max_tokens"] == 99  # type: ignore[index]
    assert record.headers.get("x-stainless-helper-method") == "stream"
    cli("ask", "hi", "--model", "claude-haiku-4-5", base_url=mock.base_url, env=env)
    assert mock.records[-1].body["model"] == "claude-haiku-4-5"  # type: ignore[index]


def test_dotenv_in_working_directory(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    (home / ".env").write_text(f"ANTHROPIC_BASE_URL={mock.base_url}\nCVSTREAM_MODEL=claude-from-dotenv\n")
    result = cli("ask", "hi", env={"CVSTREAM_MODEL": "claude-from-env"})
    assert result.code == 0, result.stderr
    assert mock.records[-1].body["model"] == "claude-from-env"  # type: ignore[index]  # .env never overrides env
    cli("ask", "hi")
    assert mock.records[-1].body["model"] == "claude-from-dotenv"  # type: ignore[index]


def test_user_config_dotenv_is_last(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    (home / ".config" / "cvstream").mkdir(parents=True)
    (home / ".config" / "cvstream" / ".env").write_text(f"ANTHROPIC_BASE_URL={mock.base_url}\nCVSTREAM_MAX_TOKENS=55\n")
    result = cli("ask", "hi", key=None, env={"ANTHROPIC_AUTH_TOKEN": "tok-123"})
    assert result.code == 0, result.stderr
    assert mock.records[-1].body["max_tokens"] == 55  # type: ignore[index]
    assert mock.records[-1].headers["authorization"] == "Bearer tok-123"


def test_stop_reason_notes(
    cli: Callable[..., Result], mock: MockServer, mock_server: Callable[..., MockServer]
) -> None:
    cut = cli("ask", "hi", "--max-tokens", "3", base_url=mock.base_url)
    assert cut.code == 0
    assert (
        "note: stop reason max_tokens: the answer was cut at the --max-tokens limit; raise --max-tokens" in cut.stderr
    )
    for reason in ("refusal", "pause_turn", "tool_use", "model_context_window_exceeded"):
        server = mock_server(stop_reason=reason)
        result = cli("ask", "hi", base_url=server.base_url)
        assert result.code == 0
        assert f"note: stop reason {reason}: " in result.stderr
        assert "note:" not in cli("ask", "hi", "--quiet", base_url=server.base_url).stderr


def test_config_shows_values_and_sources(cli: Callable[..., Result], home: Path) -> None:
    result = cli("config", env={"CVSTREAM_MODEL": "claude-x"})
    assert result.code == 0
    assert "model        claude-x  (environment)" in result.out
    assert "api key      set (from ANTHROPIC_API_KEY in environment)" in result.out
    assert "sk-ant" not in result.out
    assert "max tokens   1024  (default)" in result.out


def test_config_names_every_source(cli: Callable[..., Result], home: Path) -> None:
    (home / ".env").write_text("CVSTREAM_METHOD=stream\n")
    result = cli("config", "--max-tokens", "77", env={"CVSTREAM_MODEL": "claude-x"})
    assert result.code == 0
    assert "max tokens   77  (flag --max-tokens)" in result.out
    assert "model        claude-x  (environment)" in result.out
    assert f"method       stream  (.env ({home / '.env'}))" in result.out
    assert "offline      no  (default)" in result.out
