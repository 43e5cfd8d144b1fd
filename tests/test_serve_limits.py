"""The limits a public-facing route needs: a stalled reader, slow upstream headers and `--timeout`, the allowed
models, `--max-concurrent`; and a mid-answer failure the app's own browser loop (under Node) can see."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from cvstream.mock.server import MockServer
from tests.serve_support import JSON, TEXT, Served, browser_loop, connect, request

STREAM = "/api/ai/stream"


@pytest.mark.timeout(60)
def test_a_client_that_stops_reading_is_dropped_and_upstream_closed(
    serve: Callable[..., Served], mock_server: Callable[..., MockServer]
) -> None:
    # 3,000 deltas of 20,000 characters: 60 MB, far more than the buffers between the mock, serve and the client
    mock = mock_server(text=" ".join(["x" * 20_000] * 3000))
    served = serve(mock, client_timeout=0.5)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", served.port))
    try:
        body = json.dumps({"prompt": "x", "max_tokens": 3000}).encode()
        sock.sendall(
            b"POST /api/ai/stream HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body)
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 200 ")  # then the reader stalls
        served.log.wait_for(r"^POST /api/ai/stream 200 in=\d+ out=\d+ ttft=\S+ total=\S+ client-timeout$")
        assert mock.wait_for(lambda records: records[-1].outcome == "client closed"), mock.records
        assert mock.records[-1].deltas_sent < 3000
    finally:
        sock.close()
    assert "uvicorn" not in served.log.getvalue()


@pytest.mark.timeout(30)
def test_slow_upstream_headers_get_a_waiting_comment_then_the_timeout_in_the_stream(
    serve: Callable[..., Served], mock_server: Callable[..., MockServer]
) -> None:
    served = serve(mock_server(fault="slow_headers"), waiting_after=0.2, timeout=1)
    status, text, seen = browser_loop(served.url, STREAM, {"prompt": "x"})
    assert (status, text) == (200, "")
    assert seen[:2] == [": waiting", ""]
    assert any(line.startswith(": error timed out waiting for") for line in seen)
    last = json.loads(next(line for line in reversed(seen) if line.startswith("data: "))[6:])
    assert last["text"] == "" and last["error"]["type"] == "upstream_timeout"
    served.log.wait_for(r"^POST /api/ai/stream 200 .* error: timed out waiting for ")


@pytest.mark.timeout(30)
def test_an_upstream_timeout_before_any_byte_is_a_504(
    serve: Callable[..., Served], mock_server: Callable[..., MockServer]
) -> None:
    served = serve(mock_server(fault="slow_headers"), timeout=0.3)
    status, body, _ = browser_loop(served.url, STREAM, {"prompt": "x"})
    assert (status, body["error"]["type"]) == (504, "upstream_timeout")


def test_allowed_models(serve: Callable[..., Served], mock: MockServer) -> None:
    served = serve(mock, allow_models=["claude-haiku-4-5"])
    assert browser_loop(served.url, STREAM, {"prompt": "x", "model": "claude-haiku-4-5"})[0] == 200
    assert browser_loop(served.url, STREAM, {"prompt": "x"})[0] == 200  # the server's own model
    status, body, _ = browser_loop(served.url, STREAM, {"prompt": "x", "model": "claude-opus-4-1"})
    assert (status, body["error"]["type"]) == (400, "model_not_allowed")
    assert "claude-haiku-4-5, claude-sonnet-5-5" in body["error"]["message"]
    assert [(r.body or {}).get("model") for r in mock.records] == ["claude-haiku-4-5", "claude-sonnet-5-5"]


@pytest.mark.timeout(30)
def test_beyond_max_concurrent_a_503_with_retry_after(
    serve: Callable[..., Served], mock_server: Callable[..., MockServer]
) -> None:
    mock = mock_server(fault="slow_headers", fault_times=1)
    served = serve(mock, max_concurrent=1)
    held = connect(served.url)
    held.request("POST", STREAM, json.dumps({"prompt": "x"}), JSON)
    assert mock.wait_for(lambda records: len(records) == 1)
    status, headers, data = request(served.url, "POST", STREAM, {"prompt": "x"}, JSON)
    assert (status, headers["retry-after"]) == (503, "1")
    assert json.loads(data)["error"]["type"] == "too_many_streams"
    assert len(mock.records) == 1
    held.close()
    served.log.wait_for(r"client-gone$")
    assert browser_loop(served.url, STREAM, {"prompt": "x"})[0] == 200  # the slot is free again


# The web app's loop, verbatim; and the same loop as a careful client would extend it to see a cut answer.
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
CAREFUL = JS_LOOP.replace(
    "result += JSON.parse(data).text;",
    "const event = JSON.parse(data); if (event.error) process.stderr.write('cut: ' + event.error.type); "
    "result += event.text;",
)


def _node(script: str, url: str, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    node = shutil.which("node")
    assert node, "Node.js is part of this project's machine; install node to run this test"
    path = tmp_path / "loop.mjs"
    path.write_text(script)
    return subprocess.run([node, str(path), url + STREAM], capture_output=True, timeout=60)


@pytest.mark.timeout(90)
def test_the_apps_own_browser_loop_under_node(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve()
    run = _node(JS_LOOP, served.url, tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.decode() == TEXT


@pytest.mark.timeout(90)
@pytest.mark.parametrize("fault", ["error_event", "truncate"])
def test_a_cut_answer_under_node_appends_nothing_and_a_careful_loop_sees_it(
    serve: Callable[..., Served], mock_server: Callable[..., MockServer], tmp_path: Path, fault: str
) -> None:
    served = serve(mock_server(fault=fault, text="one two three four five"))
    app = _node(JS_LOOP, served.url, tmp_path)
    assert (app.returncode, app.stdout.decode()) == (0, "one two three"), app.stderr
    careful = _node(CAREFUL, served.url, tmp_path)
    assert careful.returncode == 0, careful.stderr
    assert careful.stdout.decode() == "one two three"
    assert careful.stderr.decode() == ("cut: overloaded" if fault == "error_event" else "cut: upstream_incomplete")
