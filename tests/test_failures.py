"""Failures end to end against the mock's faults: exit codes, one or two stderr lines, partial text kept,
and the (distinctive, fake) API key never printed."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from cvstream.errors import ExitStatus
from cvstream.mock.server import MockServer
from tests.conftest import FAKE_KEY, Result

METHODS = ("create", "stream")
ANSWER = "one two three four five six seven eight"
PARTIAL = "one two three"  # the mock fails after 3 text deltas by default


def _check_clean(result: Result) -> None:
    """No traceback, at most two lines of error text, and never the key."""
    assert "Traceback" not in result.stderr
    assert FAKE_KEY not in result.stderr and FAKE_KEY not in result.out
    error_lines = [line for line in result.stderr.splitlines() if line.startswith(("error:", "hint:"))]
    assert 1 <= len(error_lines) <= 2, result.stderr
    assert error_lines[0].startswith("error: ")


def test_no_key_sends_nothing(cli: Callable[..., Result], mock: MockServer) -> None:
    result = cli("ask", "hi", key=None, base_url=mock.base_url)
    assert result.code == ExitStatus.AUTH
    assert int(ExitStatus.AUTH) == 3
    assert "no API key found" in result.stderr
    assert "ANTHROPIC_API_KEY" in result.stderr and ".env" in result.stderr and "--offline" in result.stderr
    assert mock.records == []
    _check_clean(result)


@pytest.mark.parametrize(
    ("fault", "status", "words"),
    [
        ("http400", ExitStatus.API_ERROR, "max_tokens: this value is not valid"),
        ("http401", ExitStatus.AUTH, "API key was rejected"),
        ("http403", ExitStatus.AUTH, "not allowed"),
        ("http404", ExitStatus.API_ERROR, "model not found: claude-sonnet-5-5"),
        ("http413", ExitStatus.API_ERROR, "too large"),
        ("http429", ExitStatus.RATE_LIMITED, "rate limited after 3 attempts"),
        ("http500", ExitStatus.API_ERROR, "the API failed after 3 attempts"),
        ("http529", ExitStatus.RATE_LIMITED, "overloaded after 3 attempts"),
    ],
)
@pytest.mark.parametrize("method", METHODS)
def test_http_errors(
    cli: Callable[..., Result],
    mock_server: Callable[..., MockServer],
    fault: str,
    status: int,
    words: str,
    method: str,
) -> None:
    server = mock_server(fault=fault, retry_after=0.0)
    result = cli("ask", "hi", "--method", method, base_url=server.base_url)
    assert result.code == status, result.stderr
    assert words in result.stderr
    assert "request-id req_mock_" in result.stderr
    assert result.stdout == b""
    _check_clean(result)
    retried = fault in ("http429", "http500", "http529")
    assert len(server.records) == (3 if retried else 1)
    if fault == "http404":
        assert "--model" in result.stderr


def test_retries_are_announced_and_recover(cli: Callable[..., Result], mock_server: Callable[..., MockServer]) -> None:
    server = mock_server(fault="http529", fault_times=2, retry_after=0.0, text=ANSWER)
    result = cli("ask", "hi", base_url=server.base_url)
    assert result.code == 0
    assert result.out == ANSWER
    lines = result.stderr.splitlines()
    assert lines[0] == "retry 1: HTTP 529 overloaded_error; waiting 0.0 s"
    assert lines[1] == "retry 2: HTTP 529 overloaded_error; waiting 0.0 s"
    assert [r.headers["x-stainless-retry-count"] for r in server.records] == [
        "0",
        "0",
        "0",
    ]  # cvstream retries
    quiet = mock_server(fault="http529", fault_times=1, retry_after=0.0, text=ANSWER)
    assert "retry" not in cli("ask", "hi", "--quiet", base_url=quiet.base_url).stderr


def test_max_retries_flag(cli: Callable[..., Result], mock_server: Callable[..., MockServer]) -> None:
    server = mock_server(fault="http429", retry_after=0.0)
    result = cli("ask", "hi", "--max-retries", "0", base_url=server.base_url)
    assert result.code == ExitStatus.RATE_LIMITED and len(server.records) == 1
    assert "rate limited (HTTP 429" in result.stderr


def test_long_retry_after_is_not_obeyed(cli: Callable[..., Result], mock_server: Callable[..., MockServer]) -> None:
    server = mock_server(fault="http429", retry_after=3600.0)
    result = cli("ask", "hi", base_url=server.base_url)
    assert result.code == ExitStatus.RATE_LIMITED
    assert len(server.records) == 1  # gave up at once instead of sleeping an hour
    assert "retry after 3600 s, longer than --max-retry-wait (60 s)" in result.stderr
    _check_clean(result)
    capped = mock_server(fault="http429", retry_after=2.0, fault_times=1, text=ANSWER)
    refused = cli("ask", "hi", "--max-retry-wait", "1", base_url=capped.base_url)
    assert refused.code == ExitStatus.RATE_LIMITED and "longer than --max-retry-wait (1 s)" in refused.stderr


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_names_the_url(cli: Callable[..., Result]) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    result = cli("ask", "hi", "--max-retries", "0", base_url=url)
    assert result.code == ExitStatus.NETWORK
    assert int(ExitStatus.NETWORK) == 5
    assert f"cannot connect to {url} (connection refused)" in result.stderr
    _check_clean(result)


def test_tls_failure_names_the_url(cli: Callable[..., Result], mock: MockServer) -> None:
    url = mock.base_url.replace("http://", "https://")
    result = cli("ask", "hi", "--max-retries", "0", "--timeout", "5", base_url=url)
    assert result.code == ExitStatus.NETWORK
    assert f"cannot connect to {url} (TLS handshake failed)" in result.stderr
    _check_clean(result)


def test_credentials_in_base_url_are_not_shown(cli: Callable[..., Result]) -> None:
    port = _closed_port()
    result = cli("ask", "hi", "--max-retries", "0", base_url=f"http://user:{FAKE_KEY}@127.0.0.1:{port}")
    assert result.code == ExitStatus.NETWORK
    assert f"http://127.0.0.1:{port}" in result.stderr
    _check_clean(result)


@pytest.mark.parametrize("method", METHODS)
def test_stalled_stream_times_out_and_keeps_text(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer], method: str
) -> None:
    server = mock_server(fault="stall", text=ANSWER)
    result = cli("ask", "hi", "--timeout", "0.5", "--method", method, base_url=server.base_url)
    assert result.code == ExitStatus.NETWORK
    assert result.out == PARTIAL
    assert "stalled (no data for 0.5 s)" in result.stderr
    assert "usage so far:" in result.stderr  # the answer was cut: what arrived
    _check_clean(result)


def test_slow_headers_time_out(cli: Callable[..., Result], mock_server: Callable[..., MockServer]) -> None:
    server = mock_server(fault="slow_headers")
    result = cli("ask", "hi", "--timeout", "0.3", "--max-retries", "1", base_url=server.base_url)
    assert result.code == ExitStatus.NETWORK
    assert "timed out waiting for http://127.0.0.1:" in result.stderr
    assert "retry 1: timed out" in result.stderr
    _check_clean(result)


@pytest.mark.parametrize(
    ("fault", "status", "words"),
    [
        (
            "error_event",
            ExitStatus.RATE_LIMITED,
            "the API sent an error mid-answer: overloaded_error: Overloaded",
        ),
        (
            "truncate",
            ExitStatus.INCOMPLETE,
            "incomplete response: the stream ended before the answer was complete",
        ),
        ("malformed", ExitStatus.INCOMPLETE, "incomplete response: the API sent a malformed event"),
        ("reset", ExitStatus.INCOMPLETE, "incomplete response: the connection was lost mid-answer"),
    ],
)
@pytest.mark.parametrize("output", ["--raw", "--sse", "--json", "--plain"])
@pytest.mark.parametrize("method", METHODS)
def test_mid_stream_failures_keep_the_partial_answer(
    cli: Callable[..., Result],
    mock_server: Callable[..., MockServer],
    fault: str,
    status: int,
    words: str,
    output: str,
    method: str,
) -> None:
    server = mock_server(fault=fault, text=ANSWER)
    result = cli("ask", "hi", output, "--method", method, base_url=server.base_url)
    assert result.code == status, result.stderr
    assert words in result.stderr
    _check_clean(result)
    if output == "--raw":
        assert result.out == PARTIAL
    elif output == "--sse":
        assert result.out.endswith(f": error {words}" + result.out.split(words, 1)[1])
        assert "[DONE]" not in result.out
        assert result.out.startswith(
            'data: {"text": "one"}\n\ndata: {"text": " two"}\n\ndata: {"text": " three"}\n\n: error '
        )
    elif output == "--json":
        last = result.out.splitlines()[-1]
        assert '"type": "cvstream.summary"' in last and f'"exit_status": {int(status)}' in last
    else:
        assert result.out == PARTIAL + "\n"


@pytest.mark.parametrize(
    ("args", "stdin", "files", "words"),
    [
        (["enhance", "missing.txt"], None, {}, "missing.txt: no such file"),
        (["enhance", "adir"], None, {"adir/": ""}, "adir is a directory"),
        (["enhance", "bin.txt"], None, {"bin.txt": b"- a\x00b\n"}, "bin.txt looks binary"),
        (["enhance", "empty.txt"], None, {"empty.txt": b""}, "empty.txt has no bullets"),
        (["enhance", "blank.txt"], None, {"blank.txt": b"  \n-\n *  \n"}, "blank.txt has no bullets"),
        (
            ["enhance", "latin.txt"],
            None,
            {"latin.txt": b"- caf\xe9\n"},
            "latin.txt is not valid UTF-8 (bad byte at offset 5)",
        ),
        (["enhance", "big.txt"], None, {"big.txt": b"- x\n" * 300_000}, "over the limit of 1,048,576 bytes"),
        (["enhance"], None, {}, "no bullets given"),
        (["ask"], None, {}, "no prompt given"),
        (["ask"], b"\n\n", {}, "no prompt given"),
        (["ask", "hi"], b"\xff\xfe", {}, "stdin is not valid UTF-8"),
        (["ask", "hi", "--method", "fast"], None, {}, "Invalid value for '--method'"),
        (["ask", "hi", "--max-tokens", "0"], None, {}, "--max-tokens must be at least 1, not 0"),
        (["ask", "hi", "--max-tokens", "-5"], None, {}, "--max-tokens must be at least 1"),
        (["ask", "hi", "--raw", "--json"], None, {}, "choose one output format, not --raw and --json"),
        (["ask", "hi", "--system", "a", "--system-file", "s.txt"], None, {"s.txt": b"b"}, "not both"),
        (["enhance", "a.txt", "--job", "nojob.txt"], None, {"a.txt": b"x"}, "nojob.txt: no such file"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    cli: Callable[..., Result],
    mock: MockServer,
    home: Path,
    args: list[str],
    stdin: bytes | None,
    files: dict[str, bytes | str],
    words: str,
) -> None:
    for name, content in files.items():
        if name.endswith("/"):
            (home / name).mkdir()
        else:
            (home / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    result = cli(*args, stdin=stdin, base_url=mock.base_url)
    assert result.code == ExitStatus.USAGE
    assert int(ExitStatus.USAGE) == 2, result.stderr
    assert words in result.stderr
    assert mock.records == []
    assert "Traceback" not in result.stderr and FAKE_KEY not in result.stderr


def test_bad_environment_value(cli: Callable[..., Result], mock: MockServer) -> None:
    result = cli("ask", "hi", env={"CVSTREAM_MAX_TOKENS": "lots"}, base_url=mock.base_url)
    assert result.code == ExitStatus.USAGE
    assert "CVSTREAM_MAX_TOKENS in environment: max tokens must be a whole number, not 'lots'" in result.stderr
    assert mock.records == []


def test_debug_shows_a_traceback_but_never_the_key(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer]
) -> None:
    server = mock_server(fault="http401")
    result = cli("ask", "hi", "--debug", base_url=server.base_url)
    assert result.code == ExitStatus.AUTH
    assert "Traceback" in result.stderr
    assert FAKE_KEY not in result.stderr
