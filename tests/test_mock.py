"""`cvstream mock` speaks the wire protocol: checked with plain HTTP (no SDK) and through cvstream."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from cvstream.mock.server import MockServer
from tests.conftest import Result
from tests.sse_reference import dispatched_events, expected_for

BODY = {"model": "claude-x", "max_tokens": 50, "messages": [{"role": "user", "content": "hello there"}], "stream": True}


def _post(server: MockServer, body: object, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    parts = urlsplit(server.base_url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    sent = {"content-type": "application/json", "x-api-key": "k", "anthropic-version": "2023-06-01"}
    sent.update(headers or {})
    conn.request("POST", "/v1/messages", json.dumps(body), sent)
    return conn.getresponse()


def test_stream_framing_events_and_usage(mock: MockServer) -> None:
    response = _post(mock, BODY)
    assert response.status == 200
    assert response.getheader("content-type") == "text/event-stream; charset=utf-8"
    assert (response.getheader("request-id") or "").startswith("req_")
    raw = response.read()
    events = dispatched_events(raw)
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    for name, data in events:
        assert json.loads(data)["type"] == name  # the event name repeats the JSON type
    assert raw.endswith(b"\n\n")
    exp = expected_for(raw)
    assert exp.complete and exp.stop_reason == "end_turn"
    deltas = sum(1 for name, _ in events if name == "content_block_delta")
    assert exp.usage["output_tokens"] == deltas
    assert exp.usage["input_tokens"] == 3  # "hello there": 11 characters, about 4 a token
    assert "> hello there" in exp.text and "- model: `claude-x`" in exp.text


def test_non_streaming_reply(mock: MockServer) -> None:
    response = _post(mock, {**BODY, "stream": False})
    message = json.loads(response.read())
    assert message["type"] == "message" and message["stop_reason"] == "end_turn"
    assert message["content"][0]["type"] == "text" and "> hello there" in message["content"][0]["text"]


def test_bearer_auth_and_missing_auth(mock: MockServer) -> None:
    assert _post(mock, BODY, {"x-api-key": "", "authorization": "Bearer t"}).status == 200
    response = _post(mock, BODY, {"x-api-key": ""})
    assert response.status == 401
    body = json.loads(response.read())
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error"
    assert body["request_id"].startswith("req_")


@pytest.mark.parametrize(
    ("fault", "status", "kind"),
    [
        ("http400", 400, "invalid_request_error"),
        ("http404", 404, "not_found_error"),
        ("http429", 429, "rate_limit_error"),
        ("http529", 529, "overloaded_error"),
    ],
)
def test_error_bodies(mock_server: Callable[..., MockServer], fault: str, status: int, kind: str) -> None:
    server = mock_server(fault=fault, retry_after=7)
    response = _post(server, BODY)
    assert response.status == status
    body = json.loads(response.read())
    assert set(body) == {"type", "error", "request_id"} and body["error"]["type"] == kind
    assert response.getheader("request-id") and response.getheader("content-type") == "application/json"
    if status in (429, 529):
        assert response.getheader("retry-after") == "7"


def test_fault_times_fails_only_the_first_requests(mock_server: Callable[..., MockServer]) -> None:
    server = mock_server(fault="http500", fault_times=2)
    assert [_post(server, BODY).status for _ in range(3)] == [500, 500, 200]


def test_chunk_bytes_split_mid_character_and_mid_event(
    mock_server: Callable[..., MockServer], cli: Callable[..., Result]
) -> None:
    server = mock_server(chunk_bytes=3, text="héllo wörld 🚀 ünïcode\n")
    for method in ("create", "stream"):
        result = cli("ask", "x", "--method", method, base_url=server.base_url)
        assert result.out == "héllo wörld 🚀 ünïcode\n"


def test_transcript_is_replayed_verbatim(mock_server: Callable[..., MockServer]) -> None:
    recording = b'event: brand_new\ndata: {"type": "brand_new"   }\n\nevent: ping\ndata: {"type": "ping"}\n\n'
    server = mock_server(transcript=recording)
    assert _post(server, BODY).read() == recording


def test_concurrent_requests(mock_server: Callable[..., MockServer]) -> None:
    server = mock_server(tokens_per_second=200.0, text="a b c d e f g h")
    results: list[bytes] = []

    def one() -> None:
        results.append(_post(server, BODY).read())

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20
    assert all(expected_for(r).text == "a b c d e f g h" for r in results)


def test_offline_runs_through_the_real_sdk_without_a_key(cli: Callable[..., Result]) -> None:
    result = cli("ask", "hi", "--offline", key=None)
    assert result.code == 0, result.stderr
    assert "> hi" in result.out
    assert "offline: answers come from cvstream's built-in mock server" in result.stderr
    env_result = cli("ask", "hi", key=None, env={"CVSTREAM_OFFLINE": "1"})
    assert env_result.code == 0 and "> hi" in env_result.out
