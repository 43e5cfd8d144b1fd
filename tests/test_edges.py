"""What a new user and a hostile one meet first: bad inputs, bad settings, odd files, odd streams.

Every case: one or two clear lines on stderr, a documented exit code, no traceback, nothing sent when
the input is at fault.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from cvstream.mock.server import MockServer
from tests.conftest import FAKE_KEY, Result

NOT_AN_OBJECT = (
    b"event: message_start\n"
    b'data: {"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "model": "x",'
    b' "content": [], "stop_reason": null, "usage": {"input_tokens": 3, "output_tokens": 1}}}\n\n'
    b"event: content_block_start\n"
    b'data: {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}\n\n'
    b"event: content_block_delta\n"
    b"data: [1, 2, 3]\n\n"
)


def _clean(result: Result) -> None:
    assert "Traceback" not in result.stderr and "unexpected failure" not in result.stderr
    assert 1 <= len(result.stderr.strip().splitlines()) <= 4


@pytest.mark.parametrize("method", ["create", "stream"])
@pytest.mark.parametrize("fmt", ["--raw", "--sse", "--json"])
def test_an_event_that_is_not_an_object_is_a_malformed_stream(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer], method: str, fmt: str
) -> None:
    server = mock_server(transcript=NOT_AN_OBJECT)
    result = cli("ask", "hi", "--method", method, fmt, base_url=server.base_url)
    assert result.code == 6, result.stderr
    assert "not a JSON object" in result.stderr or "cannot read" in result.stderr
    _clean(result)
    if fmt == "--raw":
        assert result.out == "Hello"
    if fmt == "--sse":
        assert result.out.endswith("\n\n") and ": error incomplete response" in result.out
    if fmt == "--json":
        summary = json.loads(result.out.splitlines()[-1])
        assert summary["type"] == "cvstream.summary" and summary["error"]["exit_status"] == 6


@pytest.mark.parametrize(
    ("url", "why"),
    [("http://[::1", "not a valid"), ("ftp://x", "not a valid"), ("api.anthropic.com", "not a valid")],
)
def test_a_malformed_base_url_is_refused_naming_its_source(
    cli: Callable[..., Result], mock: MockServer, url: str, why: str
) -> None:
    result = cli("ask", "hi", base_url=url)
    assert result.code == 2
    assert "ANTHROPIC_BASE_URL in environment" in result.stderr and why in result.stderr
    _clean(result)
    assert mock.records == []


@pytest.mark.parametrize("model", ["", "   "])
def test_an_empty_model_is_an_input_error(cli: Callable[..., Result], mock: MockServer, model: str) -> None:
    result = cli("ask", "hi", "--model", model, base_url=mock.base_url)
    assert result.code == 2 and "model id is empty" in result.stderr
    assert mock.records == []


def test_method_from_the_environment_is_case_insensitive(cli: Callable[..., Result], mock: MockServer) -> None:
    result = cli("ask", "hi", base_url=mock.base_url, env={"CVSTREAM_METHOD": "STREAM"})
    assert result.code == 0
    assert mock.records[0].headers.get("x-stainless-helper-method") == "stream"


def test_an_unreadable_dotenv_is_skipped_with_one_warning(
    cli: Callable[..., Result], mock: MockServer, home: Path
) -> None:
    (home / ".env").write_bytes(b"CVSTREAM_MODEL=\xff\xfe\n")  # unreadable as text (root can read any mode)
    result = cli("ask", "hi", "--no-usage", base_url=mock.base_url)
    assert result.code == 0
    assert result.stderr.count("warning: ignoring ") == 1 and str(home / ".env") in result.stderr


def test_the_iconv_hint_quotes_the_file_name(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    (home / "bad name.txt").write_bytes(b"caf\xe9\n")
    result = cli("enhance", "bad name.txt", base_url=mock.base_url)
    assert result.code == 2 and "iconv -f latin1 -t utf-8 'bad name.txt' > fixed.txt" in result.stderr


def test_a_symlink_loop_is_named_as_one(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    os.symlink(home / "b.txt", home / "a.txt")
    os.symlink(home / "a.txt", home / "b.txt")
    result = cli("enhance", "a.txt", base_url=mock.base_url)
    assert result.code == 2 and "symbolic link loop" in result.stderr


def test_jobs_has_the_short_flag_j(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    for name in ("a.txt", "b.txt"):
        (home / name).write_text("built the api\n")
    result = cli("enhance", "a.txt", "b.txt", "-j", "8", "--no-usage", base_url=mock.base_url)
    assert result.code == 0 and "==> a.txt <==" in result.out and "==> b.txt <==" in result.out


def test_no_stdin_leaves_a_while_read_loop_its_input(cli: Callable[..., Result], mock: MockServer) -> None:
    result = cli("ask", "--no-stdin", "--no-usage", "question one", stdin=b"question two\n", base_url=mock.base_url)
    assert result.code == 0
    sent = mock.records[-1].body
    assert sent is not None and sent["messages"][0]["content"] == "question one"


def test_several_inputs_as_json_are_pure_ndjson_with_the_input(
    cli: Callable[..., Result], mock: MockServer, home: Path
) -> None:
    for name in ("a.txt", "b.txt"):
        (home / name).write_text(f"built {name}\n")
    result = cli("enhance", "a.txt", "b.txt", "--json", base_url=mock.base_url)
    assert result.code == 0
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert {line["input"] for line in lines} == {"a.txt", "b.txt"}
    assert [line["input"] for line in lines if line["type"] == "cvstream.summary"] == ["a.txt", "b.txt"]


def test_several_inputs_as_sse_on_stdout_are_refused(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    for name in ("a.txt", "b.txt"):
        (home / name).write_text("built the api\n")
    result = cli("enhance", "a.txt", "b.txt", "--sse", base_url=mock.base_url)
    assert result.code == 2 and "--out-dir" in result.stderr
    assert mock.records == []


def test_an_answer_that_waited_its_turn_is_timed_when_it_arrived(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = mock_server(first_token_ms=300.0)
    for name in ("a.txt", "b.txt"):
        (home / name).write_text("built the api\n")
    result = cli("enhance", "a.txt", "b.txt", "--json", base_url=server.base_url)
    summaries = [json.loads(line) for line in result.out.splitlines() if '"cvstream.summary"' in line]
    assert len(summaries) == 2
    for summary in summaries:  # the mock waits 300 ms before the first token: neither can be 0
        assert summary["ttft_s"] >= 0.3 and summary["duration_s"] >= summary["ttft_s"]


def test_out_dir_files_are_created_as_the_shell_would(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    (home / "a.txt").write_text("built the api\n")
    old = os.umask(0o022)
    try:
        result = cli("enhance", "a.txt", "--out-dir", "out", base_url=mock.base_url)
    finally:
        os.umask(old)
    assert result.code == 0
    assert stat.S_IMODE((home / "out" / "a.md").stat().st_mode) == 0o644


def test_out_dir_under_a_regular_file_is_a_clear_error(
    cli: Callable[..., Result], mock: MockServer, home: Path
) -> None:
    (home / "a.txt").write_text("built the api\n")
    (home / "file").write_text("x")
    result = cli("enhance", "a.txt", "--out-dir", "file/out", base_url=mock.base_url)
    assert result.code == 7 and "--out-dir" in result.stderr and "file/out" in result.stderr
    _clean(result)
    assert mock.records == []


def test_a_target_that_is_a_directory_is_named_before_anything_is_sent(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer], home: Path
) -> None:
    mock = mock_server(echo=True)
    for name in ("a.txt", "b.txt"):
        (home / name).write_text("built the api\n")
    (home / "out" / "a.md").mkdir(parents=True)
    result = cli("enhance", "a.txt", "b.txt", "--out-dir", "out", base_url=mock.base_url)
    assert result.code == 7 and mock.records == []
    assert result.stderr.startswith(f"error: cannot write {home / 'out' / 'a.md'}: a directory has that name")
    assert sorted(p.name for p in (home / "out").iterdir()) == ["a.md"]  # no .partial, no hidden temp file


def test_key_never_in_the_help_or_errors_of_arguments(cli: Callable[..., Result]) -> None:
    result = cli("ask", "--max-tokens", "0")
    assert result.code == 2 and FAKE_KEY not in result.stderr
