"""The pure parts, tested directly: prompt building, event translation, usage folding, settings, models."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest

from cvstream import models, prompt
from cvstream.config import load_settings
from cvstream.errors import UsageError
from cvstream.events import MessageDelta, MessageStarted, TextDelta, UsageUpdate, from_wire
from cvstream.inputs import decode_input
from cvstream.usage import Summary, format_summary, stop_note


def test_parse_bullets_strips_markers_and_blank_lines() -> None:
    text = "  - one  \n\n* two\n• three\n12. four\n3) five\n-no-space stays\n  \n"
    assert prompt.parse_bullets(text) == ["one", "two", "three", "four", "five", "-no-space stays"]


def test_enhance_message_is_the_web_apps_join() -> None:
    assert prompt.enhance_message(["a", "b"]) == "a\nb"
    assert prompt.enhance_message(["a"], "  job  \n") == "a\n\n<job_description>\njob\n</job_description>"
    assert prompt.enhance_message(["a"], "   ") == "a"


def test_ask_message_layout() -> None:
    assert prompt.ask_message(["sum", "this"], "x\ny\n") == "sum this\n\n<input>\nx\ny\n</input>"
    assert prompt.ask_message(["only"], None) == "only"
    assert prompt.ask_message([], "piped\n") == "piped"
    assert prompt.ask_message(["only"], "\n\n") == "only"


def test_from_wire_translates_and_skips_unknown() -> None:
    start = {"type": "message_start", "message": {"model": "m", "id": "i", "usage": {"input_tokens": 5}}}
    assert list(from_wire(start)) == [MessageStarted("m", "i", UsageUpdate(input_tokens=5))]
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}}
    assert list(from_wire(delta)) == [TextDelta("hi")]
    assert list(from_wire({"type": "brand_new_event"})) == []
    unknown_delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "hologram_delta"}}
    assert list(from_wire(unknown_delta)) == []


def test_usage_fold_overwrites_field_by_field() -> None:
    summary = Summary(started_at=0.0)
    summary.fold(MessageStarted("m", "i", UsageUpdate(10, 1, 2, 3)), 0.1)
    summary.fold(TextDelta("x"), 0.5)
    summary.fold(MessageDelta("end_turn", None, UsageUpdate(output_tokens=40)), 1.0)
    summary.ended_at = 2.5
    assert summary.usage.as_dict() == {
        "input_tokens": 10,
        "output_tokens": 40,
        "cache_read_tokens": 2,
        "cache_write_tokens": 3,
    }
    line = format_summary(summary)
    assert line == "usage: 10 in · 40 out · cache 2 read/3 write · first token 0.50 s · total 2.50 s"
    assert len(line) <= 80  # tok/s gave way to the cache counts
    assert len(format_summary(summary, "a-long-input-name.txt")) <= 80
    assert stop_note(summary) is None


def test_tokens_per_second_needs_ten_tokens_and_counts_from_the_first_token() -> None:
    summary = Summary(started_at=0.0)
    summary.fold(MessageStarted("m", "i", UsageUpdate(10, 1)), 0.1)
    summary.fold(TextDelta("x"), 1.0)
    summary.fold(MessageDelta("end_turn", None, UsageUpdate(output_tokens=1)), 1.001)
    summary.ended_at = 1.001
    assert summary.tokens_per_second() is None  # one token: no rate, not 1000 tok/s
    assert "tok/s" not in format_summary(summary)


def test_usage_so_far_estimates_the_tokens_received() -> None:
    summary = Summary(started_at=0.0)
    summary.fold(MessageStarted("m", "i", UsageUpdate(10, 1)), 0.1)
    summary.fold(TextDelta("x" * 400), 0.5)  # cut before any message_delta: the API said 1 out
    summary.ended_at = 1.0
    assert format_summary(summary, so_far=True).startswith("usage so far: 10 in · ~100 out")
    assert summary.as_json()["output_tokens_estimated"] == 100
    summary.stop_reason = "max_tokens"
    assert "raise --max-tokens" in (stop_note(summary) or "")
    summary.stop_reason = "something_new"
    assert "something_new" in (stop_note(summary) or "")


def test_decode_input_rules() -> None:
    assert decode_input("héllo".encode(), "f") == "héllo"
    with pytest.raises(UsageError, match="NUL"):
        decode_input(b"a\x00", "f")
    with pytest.raises(UsageError, match="offset 1"):
        decode_input(b"a\xff", "f")


def test_unreadable_file_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cvstream import inputs

    target = tmp_path / "locked.txt"
    target.write_text("- x")

    def deny(*args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", deny)  # root ignores chmod, so simulate the denial
    with pytest.raises(UsageError, match=r"locked\.txt: permission denied"):
        inputs.read_file("locked.txt", tmp_path)


def test_settings_precedence_and_sources(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".config" / "cvstream").mkdir(parents=True)
    (home / ".config" / "cvstream" / ".env").write_text("CVSTREAM_MODEL=claude-user-model\nCVSTREAM_METHOD=stream\n")
    (tmp_path / ".env").write_text("CVSTREAM_MODEL=claude-local-model\nANTHROPIC_API_KEY=from-dotenv\n")
    environ = {"HOME": str(home), "CVSTREAM_MAX_TOKENS": "50"}
    settings = load_settings(environ, tmp_path)
    assert (settings.model.value, settings.model.source) == ("claude-local-model", f".env ({tmp_path / '.env'})")
    assert (settings.method.value, settings.method.source) == (
        "stream",
        f".env ({home / '.config' / 'cvstream' / '.env'})",
    )
    assert (settings.max_tokens.value, settings.max_tokens.source) == (50, "environment")
    assert settings.api_key.value == "from-dotenv"
    flagged = load_settings(environ, tmp_path, model="claude-flag-model", max_tokens=7)
    assert (flagged.model.value, flagged.model.source) == ("claude-flag-model", "flag --model")
    assert flagged.max_tokens.value == 7


def test_default_model_is_a_current_sonnet_the_sdk_lists() -> None:
    catalog = models.sdk_catalog()
    model = models.default_model(catalog, {}).id
    assert model.startswith("claude-sonnet-")
    assert model in models.known_models()
    assert model not in models.deprecated_models()
    assert model == models.FALLBACK_DEFAULT  # keep the fallback current with the SDK


def test_connection_errors_are_classified() -> None:
    import anthropic
    import httpx2

    from cvstream.source import Connection, connection_error

    request = httpx2.Request("POST", "http://x.invalid/v1/messages")
    conn = Connection(base_url="http://x.invalid")
    for cause, reason in [
        (socket.gaierror(-2, "Name or service not known"), "DNS lookup failed"),
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "TLS handshake failed"),
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
    ]:
        error = anthropic.APIConnectionError(request=request)
        transport = httpx2.ConnectError("connect failed")  # classified by the types in the chain, not by text
        transport.__cause__ = cause
        error.__cause__ = transport
        assert connection_error(error, conn).message == f"cannot connect to http://x.invalid ({reason})"
