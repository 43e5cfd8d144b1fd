"""`cvstream serve` as a process: signals and the shutdown after `--grace`, an unread stderr, a refused bind."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from collections.abc import Callable

import pytest

from cvstream.mock.server import MockServer
from cvstream.serve.log import RequestLog
from tests.conftest import FAKE_KEY
from tests.serve_support import JSON, connect, first_line_url, serve_process, serve_refusal, wait_until

WORDS = " ".join(f"w{i}" for i in range(40))


def _texts(body: str) -> str:
    return "".join(json.loads(x[6:])["text"] for x in body.split("\n") if x.startswith("data: {"))


@pytest.mark.timeout(60)
def test_public_bind_without_a_token_is_refused() -> None:
    run = serve_refusal("--host", "0.0.0.0")
    assert run.returncode == 2
    assert b"refusing to serve on 0.0.0.0 without a token" in run.stderr


@pytest.mark.timeout(60)
def test_sigterm_lets_streams_in_flight_finish_then_exits_0(mock_server: Callable[..., MockServer]) -> None:
    mock = mock_server(text=WORDS, tokens_per_second=40.0)
    proc = serve_process(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=mock.base_url)
    try:
        conn = connect(first_line_url(proc))
        conn.request("POST", "/api/ai/stream", json.dumps({"prompt": "x"}), JSON)
        response = conn.getresponse()
        first = response.read1(100)
        proc.send_signal(signal.SIGTERM)
        rest = response.read()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    body = (first + rest).decode()
    assert body.endswith("data: [DONE]\n\n")
    assert _texts(body) == WORDS
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert "Traceback" not in err and FAKE_KEY not in err


@pytest.mark.timeout(60)
def test_after_the_grace_streams_end_cleanly_and_waiting_requests_get_a_503(
    mock_server: Callable[..., MockServer],
) -> None:
    # the first request's upstream never sends headers; the second streams slowly, far past the grace
    mock = mock_server(text=" ".join(["word"] * 500), tokens_per_second=20.0, fault="slow_headers", fault_times=1)
    proc = serve_process("--grace", "0.5", ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=mock.base_url)
    try:
        url = first_line_url(proc)
        waiting = connect(url)
        waiting.request("POST", "/api/ai/stream", json.dumps({"prompt": "x"}), JSON)
        assert mock.wait_for(lambda records: len(records) == 1)
        streaming = connect(url)
        streaming.request("POST", "/api/ai/stream", json.dumps({"prompt": "x"}), JSON)
        response = streaming.getresponse()
        first = response.read1(100)
        assert first.startswith(b"data: ")
        proc.send_signal(signal.SIGTERM)
        rest = response.read()  # a clean end of the chunked body: http.client raises on a cut one
        refused = waiting.getresponse()
        refused_body = json.loads(refused.read())
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    body = (first + rest).decode()
    assert "\n: error server shutting down\n\n" in body and "[DONE]" not in body
    last = json.loads(body.rstrip("\n").rsplit("\n", 1)[-1][6:])
    assert last == {"text": "", "error": {"type": "shutting_down", "message": "the server is shutting down"}}
    assert refused.status == 503 and refused.getheader("retry-after") == "5"
    assert refused_body["error"]["type"] == "shutting_down"
    assert mock.wait_for(lambda records: len(records) == 2 and records[1].outcome == "client closed")
    assert wait_until(lambda: not mock.state.connections), "an upstream request is still open"
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert "Traceback" not in err and "Exception" not in err
    assert err.count("shutdown") == 2, err


@pytest.mark.timeout(120)
def test_an_unread_stderr_never_blocks_the_server(mock_server: Callable[..., MockServer]) -> None:
    mock = mock_server(text="short answer")
    # stderr is a pipe nobody reads: its 64 KB fill up after a few hundred log lines
    proc = serve_process(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=mock.base_url)
    try:
        url = first_line_url(proc)
        answered = 0
        conn = connect(url, timeout=20)
        for i in range(2000):
            if i % 5 == 0:
                conn.request("POST", "/api/ai/stream", json.dumps({"prompt": "x"}), JSON)
            else:
                conn.request("GET", "/healthz" if i % 2 else f"/missing/{i}/{'x' * 100}")
            response = conn.getresponse()
            response.read()
            answered += response.status in (200, 404)
        assert answered == 2000
        fresh = connect(url, timeout=20)
        fresh.request("GET", "/healthz")
        assert fresh.getresponse().status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.stderr is not None
        err = proc.stderr.read().decode()  # read at last: everything logged arrives
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    assert len(err) > 100_000  # far more than the pipe held while nobody read it
    assert err.count("\n") >= 2001 and "GET /missing/1998/" in err


@pytest.mark.timeout(30)
def test_a_full_log_queue_drops_lines_and_says_how_many() -> None:
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, True)
    stream = os.fdopen(write_end, "w")
    log = RequestLog(stream, secrets=["sk-secret-123456"], capacity=10)
    try:
        line = "x" * 1000 + " sk-secret-123456"
        for _ in range(200):  # 200 KB: far more than the pipe holds, so the writer blocks and the queue fills
            log.line(line)
        assert log.dropped > 0
        received = bytearray()

        def drain() -> None:
            while chunk := os.read(read_end, 65536):
                received.extend(chunk)

        reader = threading.Thread(target=drain)
        reader.start()
        log.close(timeout=10)  # everything queued is written once the pipe is read
        stream.close()
        reader.join(10)
    finally:
        os.close(read_end)
    text = received.decode()
    match = re.search(r"^serve: (\d+) log lines dropped \(stderr was not read\)$", text, re.M)
    assert match, text[:200]
    written = text.count(" [redacted]\n")
    assert written + int(match[1]) == 200  # every line is either written or counted
    assert "sk-secret-123456" not in text and "[redacted]" in text


@pytest.mark.timeout(60)
def test_the_command_line_flags_reach_the_server(mock_server: Callable[..., MockServer]) -> None:
    mock = mock_server(text="hi")
    flags = ["--allowed-host", "cv.lan", "--allow-model", "claude-haiku-4-5", "--max-concurrent", "2"]
    flags += ["--client-timeout", "5", "--grace", "0.25", "--cors-origin", "http://localhost:3000"]
    proc = serve_process(*flags, ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=mock.base_url)
    try:
        url = first_line_url(proc)
        body = {"prompt": "x", "model": "claude-haiku-4-5"}
        for host, status in (("cv.lan:8000", 200), ("evil.example", 421)):
            conn = connect(url)
            conn.request("POST", "/api/ai/stream", json.dumps(body), {**JSON, "host": host})
            response = conn.getresponse()
            response.read()
            assert response.status == status
        conn = connect(url)
        conn.request("POST", "/api/ai/stream", json.dumps(body), {**JSON, "origin": "http://localhost:3000"})
        assert conn.getresponse().getheader("access-control-allow-origin") == "http://localhost:3000"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    assert [(r.body or {}).get("model") for r in mock.records] == ["claude-haiku-4-5"] * 2
