"""`cvstream serve` in front of `cvstream mock`, read by a client that parses exactly like the web app's
browser loop (and, once, by that loop itself under Node)."""

from __future__ import annotations

import http.client
import io
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from cvstream.mock.server import MockServer
from cvstream.serve import ServeConfig, bind, create_app
from cvstream.source import Connection
from tests.conftest import FAKE_KEY, subprocess_env

TEXT = "Hello, wörld! Ünïcödé 🚀 — “quotes” and 日本語.\n- a list\n"


class Served:
    def __init__(self, url: str, log: io.StringIO) -> None:
        self.url = url
        self.log = log


@pytest.fixture
def serve(mock_server: Callable[..., MockServer]) -> Iterator[Callable[..., Served]]:
    """Run the serve app in-process (uvicorn on a thread) in front of a mock; stopped after the test."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(mock: MockServer | None = None, base_url: str | None = None, **overrides: Any) -> Served:
        url = base_url or (mock or mock_server(text=TEXT)).base_url
        log = io.StringIO()
        settings: dict[str, Any] = {
            "conn": Connection(api_key=FAKE_KEY, base_url=url, max_retries=0, timeout=overrides.pop("timeout", 10)),
            "model": "claude-sonnet-5-5",
            "log": log,
        }
        settings.update(overrides)
        sock = bind("127.0.0.1", 0)
        server = uvicorn.Server(
            uvicorn.Config(create_app(ServeConfig(**settings)), log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        running.append((server, thread))
        port = sock.getsockname()[1]
        while not server.started:  # uvicorn sets it once it accepts connections
            thread.join(0.01)
        return Served(f"http://127.0.0.1:{port}", log)

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(10)


def _connect(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)


def browser_loop(url: str, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any, list[str]]:
    """POST, then read exactly as the app's loop does: each network read decoded on its own, split on
    newlines, `data: ` lines parsed; returns (status, text or error body, raw lines seen)."""
    conn = _connect(url)
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    conn.request("POST", path, payload, {"content-type": "application/json", **(headers or {})})
    response = conn.getresponse()
    if response.status != 200:  # the app throws on !res.ok
        return response.status, json.loads(response.read()), [f"retry-after: {response.getheader('retry-after')}"]
    assert response.getheader("content-type", "").startswith("text/event-stream")
    result, seen = "", []
    while True:
        value = response.read1(65536)
        if not value:
            break
        lines = value.decode("utf-8", "replace").split("\n")
        seen += lines
        for line in (line for line in lines if line.startswith("data: ")):
            data = line[6:]
            if data == "[DONE]":
                break
            result += json.loads(data)["text"]
    return 200, result, seen


@pytest.mark.parametrize("method", ["create", "stream"])
def test_ai_stream_route_text_is_exact(serve: Callable[..., Served], method: str) -> None:
    served = serve()
    status, text, seen = browser_loop(served.url, "/api/ai/stream", {"prompt": "hi", "system": "s", "method": method})
    assert (status, text) == (200, TEXT)
    assert "data: [DONE]" in seen
    usage = next(line for line in seen if line.startswith(": usage "))
    assert json.loads(usage[len(": usage ") :])["usage"]["output_tokens"] > 0
    assert re.search(
        r"^POST /api/ai/stream 200 in=\d+ out=\d+ ttft=\d+\.\d+s total=\d+\.\d+s ok$", served.log.getvalue(), re.M
    )


def test_framing_is_byte_for_byte_the_cli_sse(serve: Callable[..., Served], mock: MockServer, cli: Any) -> None:
    served = serve(mock)
    conn = _connect(served.url)
    conn.request("POST", "/api/ai/stream", json.dumps({"prompt": "same"}), {"content-type": "application/json"})
    body = conn.getresponse().read()
    from_cli = cli("ask", "same", "--sse", base_url=mock.base_url).stdout
    without_usage = re.sub(rb": usage [^\n]*\n\n", b"", body)
    assert without_usage == from_cli


def test_enhance_route_uses_the_cli_prompt(serve: Callable[..., Served], mock: MockServer) -> None:
    served = serve(mock)
    status, text, _ = browser_loop(served.url, "/api/enhance", {"bullets": ["- built X", "led 3 people"], "job": "Dev"})
    assert status == 200
    body = mock.records[-1].body
    assert body is not None
    assert body["messages"][0]["content"] == "built X\nled 3 people\n\n<job_description>\nDev\n</job_description>"
    from cvstream.prompt import ENHANCE_SYSTEM

    assert body["system"] == ENHANCE_SYSTEM
    assert "> built X" in text


def test_many_concurrent_streams_are_exact(
    serve: Callable[..., Served], mock_server: Callable[..., MockServer]
) -> None:
    served = serve(mock_server(text=TEXT, tokens_per_second=100.0))
    results: list[tuple[int, Any, list[str]]] = []
    threads = [
        threading.Thread(target=lambda: results.append(browser_loop(served.url, "/api/ai/stream", {"prompt": "x"})))
        for _ in range(100)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 100
    assert all(status == 200 and text == TEXT for status, text, _ in results)


def test_client_going_away_closes_the_upstream_request(
    serve: Callable[..., Served], mock_server: Callable[..., MockServer]
) -> None:
    mock = mock_server(text=" ".join(["word"] * 2000), tokens_per_second=50.0)
    served = serve(mock)
    conn = _connect(served.url)
    conn.request("POST", "/api/ai/stream", json.dumps({"prompt": "x"}), {"content-type": "application/json"})
    response = conn.getresponse()
    assert response.read1(100).startswith(b"data: ")
    conn.sock.shutdown(socket.SHUT_RDWR)  # the browser tab closes
    conn.close()
    assert mock.wait_for(lambda records: bool(records) and records[-1].outcome == "client closed", timeout=10)
    assert mock.records[-1].deltas_sent < 2000


@pytest.mark.parametrize(
    ("fault", "status", "kind"),
    [
        ("http401", 502, "upstream_authentication_error"),
        ("http404", 404, "upstream_request_error"),
        ("http400", 400, "upstream_request_error"),
        ("http429", 429, "rate_limited"),
        ("http529", 503, "overloaded"),
        ("http500", 502, "upstream_error"),
    ],
)
def test_errors_before_the_answer_get_a_status(
    serve: Callable[..., Served], mock_server: Callable[..., MockServer], fault: str, status: int, kind: str
) -> None:
    served = serve(mock_server(fault=fault, retry_after=30))
    got, body, extra = browser_loop(served.url, "/api/ai/stream", {"prompt": "x"})
    assert (got, body["error"]["type"]) == (status, kind)
    assert set(body) == {"error"} and body["error"]["message"]
    if status in (429, 503):
        assert extra == ["retry-after: 30"]
    assert FAKE_KEY not in json.dumps(body) and FAKE_KEY not in served.log.getvalue()
    assert "Traceback" not in served.log.getvalue()


def test_network_failure_is_a_502(serve: Callable[..., Served]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    served = serve(base_url=f"http://127.0.0.1:{port}")
    status, body, _ = browser_loop(served.url, "/api/ai/stream", {"prompt": "x"})
    assert status == 502 and body["error"]["type"] == "upstream_unreachable"


@pytest.mark.parametrize("fault", ["error_event", "truncate", "reset"])
def test_errors_during_the_answer_end_without_done(
    serve: Callable[..., Served], mock_server: Callable[..., MockServer], fault: str
) -> None:
    served = serve(mock_server(fault=fault, text="one two three four five"))
    status, text, seen = browser_loop(served.url, "/api/ai/stream", {"prompt": "x"})
    assert (status, text) == (200, "one two three")
    assert "data: [DONE]" not in seen
    assert any(line.startswith(": error ") for line in seen)
    assert all(json.loads(line[6:]) for line in seen if line.startswith("data: "))  # never a misleading data line


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"{not json", 400, "not valid JSON"),
        ({"system": "s"}, 400, "'prompt' is required"),
        ({"prompt": 42}, 400, "'prompt' is required and must be a non-empty string"),
        ({"prompt": "x", "system": 1}, 400, "'system' must be a string"),
        ({"prompt": "x", "max_tokens": 999_999}, 400, "over this server's cap of 8192"),
        ({"prompt": "x", "max_tokens": 0}, 400, "'max_tokens' must be a whole number"),
        ({"prompt": "x", "method": "fast"}, 400, "'method' must be"),
        ({"prompt": "x" * 2_000_000}, 413, "over 1,048,576 bytes"),
    ],
)
def test_bad_requests(serve: Callable[..., Served], mock: MockServer, body: Any, status: int, words: str) -> None:
    served = serve(mock)
    got, error, _ = browser_loop(served.url, "/api/ai/stream", body)
    assert got == status and words in error["error"]["message"]
    assert mock.records == []


def test_streamed_body_over_the_limit_is_refused(serve: Callable[..., Served], mock: MockServer) -> None:
    served = serve(mock, max_body=1000)
    conn = _connect(served.url)
    conn.putrequest("POST", "/api/ai/stream")
    conn.putheader("transfer-encoding", "chunked")
    conn.endheaders()
    payload = json.dumps({"prompt": "y" * 5000}).encode()
    for i in range(0, len(payload), 500):
        piece = payload[i : i + 500]
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    conn.send(b"0\r\n\r\n")
    response = conn.getresponse()
    assert response.status == 413
    assert mock.records == []


def test_routes_methods_and_health(serve: Callable[..., Served], mock: MockServer) -> None:
    served = serve(mock)
    for method, path, status in (
        ("GET", "/healthz", 200),
        ("GET", "/api/ai/stream", 405),
        ("GET", "/nope", 404),
        ("PUT", "/api/enhance", 405),
    ):
        conn = _connect(served.url)
        conn.request(method, path)
        response = conn.getresponse()
        assert response.status == status
        body = json.loads(response.read())
        assert ("status" in body) if status == 200 else ("error" in body)


def test_token_is_required_except_on_healthz(serve: Callable[..., Served], mock: MockServer) -> None:
    served = serve(mock, token="s3cret-token")
    assert browser_loop(served.url, "/api/ai/stream", {"prompt": "x"})[0] == 401
    assert browser_loop(served.url, "/api/ai/stream", {"prompt": "x"}, {"authorization": "Bearer nope"})[0] == 401
    ok = browser_loop(served.url, "/api/ai/stream", {"prompt": "x"}, {"authorization": "Bearer s3cret-token"})
    assert ok[0] == 200
    conn = _connect(served.url)
    conn.request("GET", "/healthz")
    assert conn.getresponse().status == 200


def test_cors_only_when_asked(serve: Callable[..., Served], mock: MockServer) -> None:
    plain = serve(mock)
    cors = serve(mock, cors_origins=["http://localhost:3000"])
    for served, expected in ((plain, None), (cors, "http://localhost:3000")):
        conn = _connect(served.url)
        conn.request("POST", "/api/ai/stream", json.dumps({"prompt": "x"}), {"origin": "http://localhost:3000"})
        response = conn.getresponse()
        response.read()
        assert response.getheader("access-control-allow-origin") == expected
    conn = _connect(cors.url)
    conn.request(
        "OPTIONS",
        "/api/ai/stream",
        headers={"origin": "http://localhost:3000", "access-control-request-method": "POST"},
    )
    assert conn.getresponse().status == 200


JS_LOOP = """
const res = await fetch(process.argv[2], {method: "POST", headers: {"content-type": "application/json"},
                                          body: JSON.stringify({prompt: "hi"})});
if (!res.ok) throw new Error("HTTP " + res.status);
let result = "";
const reader = res.body.getReader(); const decoder = new TextDecoder();
while (true) {
  const { done, value } = await reader.read(); if (done) break;
  const lines = decoder.decode(value).split("\\n").filter(l => l.startsWith("data: "));
  for (const line of lines) { const data = line.slice(6); if (data === "[DONE]") break;
    result += JSON.parse(data).text; }
}
process.stdout.write(result);
"""


def test_the_apps_own_browser_loop_under_node(serve: Callable[..., Served], tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "Node.js is part of this project's machine; install node to run this test"
    served = serve()
    script = tmp_path / "loop.mjs"
    script.write_text(JS_LOOP)
    run = subprocess.run([node, str(script), served.url + "/api/ai/stream"], capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.decode() == TEXT


def _serve_process(*args: str, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cvstream", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(**env),
    )


def test_public_bind_without_a_token_is_refused() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "cvstream", "serve", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        env=subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY),
        timeout=30,
    )
    assert run.returncode == 2
    assert b"refusing to serve on 0.0.0.0 without a token" in run.stderr


def test_sigterm_lets_streams_in_flight_finish_then_exits_0(mock_server: Callable[..., MockServer]) -> None:
    mock = mock_server(text=" ".join(f"w{i}" for i in range(40)), tokens_per_second=40.0)
    proc = _serve_process(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=mock.base_url)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+\n", line)
        url = line.strip()
        conn = _connect(url)
        conn.request("POST", "/api/ai/stream", json.dumps({"prompt": "x"}), {"content-type": "application/json"})
        response = conn.getresponse()
        first = response.read1(100)
        proc.send_signal(signal.SIGTERM)
        rest = response.read()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    body = (first + rest).decode()
    assert body.endswith("data: [DONE]\n\n")
    assert "".join(json.loads(x[6:])["text"] for x in body.split("\n") if x.startswith("data: {")) == " ".join(
        f"w{i}" for i in range(40)
    )
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert "Traceback" not in err and FAKE_KEY not in err
