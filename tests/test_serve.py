"""`cvstream serve` in front of `cvstream mock`, read by a client that parses exactly like the web app's
browser loop (and, once, by that loop itself under Node)."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cvstream.mock.server import MockServer
from tests.conftest import FAKE_KEY
from tests.serve_support import JSON, TEXT, Served, browser_loop, request
from tests.serve_support import connect as _connect


@pytest.mark.parametrize("method", ["create", "stream"])
def test_ai_stream_route_text_is_exact(serve: Callable[..., Served], method: str) -> None:
    served = serve()
    status, text, seen = browser_loop(served.url, "/api/ai/stream", {"prompt": "hi", "system": "s", "method": method})
    assert (status, text) == (200, TEXT)
    assert "data: [DONE]" in seen
    usage = next(line for line in seen if line.startswith(": usage "))
    assert json.loads(usage[len(": usage ") :])["usage"]["output_tokens"] > 0
    served.log.wait_for(r"^POST /api/ai/stream 200 in=\d+ out=\d+ ttft=\d+\.\d+s total=\d+\.\d+s ok$")


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
    assert text == "- [offline] Built X\n- [offline] Led 3 people\n"


def test_many_concurrent_streams_are_exact(
    serve: Callable[..., Served], mock_server: Callable[..., MockServer]
) -> None:
    served = serve(mock_server(text=TEXT, tokens_per_second=100.0), max_concurrent=100)
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
    served.log.wait_for(rf"^POST /api/ai/stream {status} .* error: ")
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
    data = [json.loads(line[6:]) for line in seen if line.startswith("data: ")]
    assert data[-1]["text"] == "" and set(data[-1]["error"]) == {"type", "message"}  # the cut is visible
    assert all(item["text"] for item in data[:-1])


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
        (b'{"prompt": "\\ud800 lone"}', 400, "'prompt' is not valid Unicode (a lone surrogate '\\ud800'"),
        (b'{"prompt": "x", "system": "\\udfff"}', 400, "'system' is not valid Unicode"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
        (b'{"prompt": "caf\xe9"}', 400, "not valid JSON (UTF-8)"),
        (b'["prompt"]', 400, "must be a JSON object"),
        ({"prompt": "x", "model": "claude-opus-9"}, 400, "model 'claude-opus-9' is not allowed on this server"),
    ],
)
def test_bad_requests(serve: Callable[..., Served], mock: MockServer, body: Any, status: int, words: str) -> None:
    served = serve(mock)
    got, error, _ = browser_loop(served.url, "/api/ai/stream", body)
    assert got == status and words in error["error"]["message"], error
    served.log.wait_for(rf"^POST /api/ai/stream {status} total=\S+ refused: ")
    assert "Traceback" not in served.log.getvalue()
    assert mock.records == []


def test_enhance_bullets_must_be_valid_unicode(serve: Callable[..., Served], mock: MockServer) -> None:
    served = serve(mock)
    got, error, _ = browser_loop(served.url, "/api/enhance", b'{"bullets": ["fine", "bad \\ud83d"]}')
    assert (got, error["error"]["type"]) == (400, "invalid_request")
    assert mock.records == []


def test_streamed_body_over_the_limit_is_refused(serve: Callable[..., Served], mock: MockServer) -> None:
    served = serve(mock, max_body=1000)
    conn = _connect(served.url)
    conn.putrequest("POST", "/api/ai/stream")
    conn.putheader("transfer-encoding", "chunked")
    conn.putheader("content-type", "application/json")
    conn.endheaders()
    payload = json.dumps({"prompt": "y" * 5000}).encode()
    for i in range(0, len(payload), 500):
        piece = payload[i : i + 500]
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    conn.send(b"0\r\n\r\n")
    response = conn.getresponse()
    assert response.status == 413
    assert mock.records == []


def test_routes_methods_and_health_all_answer_json_and_are_logged(
    serve: Callable[..., Served], mock: MockServer
) -> None:
    served = serve(mock)
    for method, path, status in (
        ("GET", "/healthz", 200),
        ("GET", "/api/ai/stream", 405),
        ("GET", "/nope", 404),
        ("PUT", "/api/enhance", 405),
        ("POST", "/api/ai/stream/", 404),  # a trailing slash is another path: never a redirect
        ("GET", "/healthz/", 404),
        ("HEAD", "/healthz", 405),
        ("DELETE", "/", 404),
    ):
        got, headers, data = request(served.url, method, path)
        assert got == status, (method, path)
        assert headers["content-type"] == "application/json"
        if method != "HEAD":
            body = json.loads(data)
            assert ("status" in body) if status == 200 else set(body["error"]) == {"type", "message"}
        served.log.wait_for(rf"^{method} {re.escape(path)} {status} total=\d+\.\d+s (ok|refused: .+)$")
    assert mock.records == []


def test_the_log_cannot_be_forged_through_the_path(serve: Callable[..., Served]) -> None:
    served = serve()
    got, _, _ = request(served.url, "GET", "/x%0aPOST%20/api/ai/stream%20200%20ok")
    assert got == 404
    served.log.wait_for(r"^GET /x\\nPOST /api/ai/stream 200 ok 404 ")
    assert not re.search(r"^POST /api/ai/stream 200 ok", served.log.getvalue(), re.M)


class _KeyEcho(BaseHTTPRequestHandler):
    """An upstream (a proxy, say) whose error text echoes the request's API key."""

    protocol_version = "HTTP/1.1"
    mid_answer = False

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        key = self.headers.get("x-api-key") or self.headers.get("authorization")
        echoed = f"bad request with credentials {key}"
        if not self.mid_answer:
            body = json.dumps({"type": "error", "error": {"type": "invalid_request_error", "message": echoed}})
            self.send_response(400)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        start = {
            "type": "message_start",
            "message": {
                "id": "m",
                "type": "message",
                "role": "assistant",
                "model": "m",
                "content": [],
                "stop_reason": None,
                "usage": {"input_tokens": 1, "output_tokens": 1},
            },
        }
        error = {"type": "error", "error": {"type": "api_error", "message": echoed}}
        for name, payload in (("message_start", start), ("error", error)):
            self.wfile.write(f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode())
        self.wfile.flush()


@pytest.mark.parametrize("mid_answer", [False, True])
def test_the_key_never_reaches_a_client_or_the_log_even_when_upstream_echoes_it(
    serve: Callable[..., Served], mid_answer: bool
) -> None:
    handler = type("Handler", (_KeyEcho,), {"mid_answer": mid_answer})
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        served = serve(base_url=f"http://127.0.0.1:{upstream.server_address[1]}", token="serve-token-0123456789")
        conn = _connect(served.url)
        headers = {**JSON, "authorization": "Bearer serve-token-0123456789"}
        conn.request("POST", "/api/ai/stream", json.dumps({"prompt": "x"}), headers)
        response = conn.getresponse()
        body = response.read().decode()
        assert response.status == (200 if mid_answer else 400)
        assert "[redacted]" in body and FAKE_KEY not in body
        line = served.log.wait_for(r"^POST /api/ai/stream .* error: .*$")
        assert "[redacted]" in line[0]
        assert FAKE_KEY not in served.log.getvalue() and "serve-token-0123456789" not in served.log.getvalue()
    finally:
        upstream.shutdown()
        upstream.server_close()


def test_a_malformed_http_request_gets_a_json_400(serve: Callable[..., Served], mock: MockServer) -> None:
    served = serve(mock)
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(b"POST /api/ai/stream HTTP/1.1\r\nHost: localhost\r\nbad header line\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"content-type: application/json" in head
    assert json.loads(body)["error"]["type"] == "bad_request"
    served.log.wait_for(r"^uvicorn: Invalid HTTP request received\.$")
    assert mock.records == []


@pytest.mark.parametrize("text", ["a", 'é\u2028🚀"\\\n\t\x00\x7f', "日本語", "\ud800 lone", "", " " * 100])
def test_a_text_frame_is_exactly_json_dumps(text: str) -> None:
    from cvstream.sinks.sse import text_frame

    assert text_frame(text) == b"data: " + json.dumps({"text": text}).encode() + b"\n\n"


def test_a_bug_is_a_json_500_and_one_log_line_never_a_traceback() -> None:
    """Driven as plain ASGI: a receive channel that fails stands in for a bug anywhere below the app."""
    import asyncio

    from cvstream.serve import ServeConfig, create_app
    from cvstream.source import Connection
    from tests.serve_support import LogCapture

    log = LogCapture()
    app = create_app(ServeConfig(conn=Connection(api_key=FAKE_KEY), model="m", log=log))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise RuntimeError(f"boom with {FAKE_KEY}")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/ai/stream",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json")],
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 500
    assert json.loads(sent[1]["body"]) == {
        "error": {"type": "internal_error", "message": "internal error; see the server's log"}
    }
    line = log.wait_for(r"^POST /api/ai/stream 500 total=\S+ internal error: RuntimeError: boom with \[redacted\]$")
    assert "Traceback" not in log.getvalue() and line
    app.close()
