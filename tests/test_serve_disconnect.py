"""A client that leaves at any moment closes the upstream request and cancels pending retries; its request is
logged `client-gone`, never `ok`. Each moment is driven against the mock."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import pytest

from cvstream.mock.server import MockServer
from tests.serve_support import JSON, Served, connect, wait_until

STREAM = "/api/ai/stream"


def _leave(conn: socket.socket) -> None:
    """The browser tab closes."""
    conn.shutdown(socket.SHUT_RDWR)
    conn.close()


def _post(served: Served) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=30)
    body = json.dumps({"prompt": "x"}).encode()
    sock.sendall(
        b"POST /api/ai/stream HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body)
    )
    return sock


@pytest.mark.timeout(30)
def test_leaving_while_sending_the_body(serve: Callable[..., Served], mock: MockServer) -> None:
    served = serve(mock)
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=30)
    sock.sendall(b"POST /api/ai/stream HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n")
    sock.sendall(b'content-length: 100\r\n\r\n{"prompt": ')
    _leave(sock)
    served.log.wait_for(r"^POST /api/ai/stream 499 total=\S+ client-gone$")
    assert mock.records == []


@pytest.mark.timeout(30)
def test_leaving_while_upstream_sends_no_headers(
    serve: Callable[..., Served], mock_server: Callable[..., MockServer]
) -> None:
    mock = mock_server(fault="slow_headers")
    served = serve(mock)
    sock = _post(served)
    assert mock.wait_for(lambda records: len(records) == 1)
    _leave(sock)
    served.log.wait_for(r"^POST /api/ai/stream 499 in=0 out=0 ttft=- total=\S+ client-gone$")
    assert wait_until(lambda: not mock.state.connections), "the upstream request is still open"
    assert len(mock.records) == 1


@pytest.mark.timeout(30)
def test_leaving_after_the_waiting_comment(
    serve: Callable[..., Served], mock_server: Callable[..., MockServer]
) -> None:
    mock = mock_server(fault="slow_headers")
    served = serve(mock, waiting_after=0.2)
    conn = connect(served.url)
    conn.request("POST", STREAM, json.dumps({"prompt": "x"}), JSON)
    response = conn.getresponse()
    assert response.status == 200
    assert response.read1(100) == b": waiting\n\n"
    assert conn.sock is not None
    _leave(conn.sock)
    served.log.wait_for(r"^POST /api/ai/stream 200 .* client-gone$")
    assert wait_until(lambda: not mock.state.connections), "the upstream request is still open"


@pytest.mark.timeout(30)
def test_leaving_during_a_retry_wait_cancels_the_retries(
    serve: Callable[..., Served], mock_server: Callable[..., MockServer]
) -> None:
    mock = mock_server(fault="http529", retry_after=5)
    served = serve(mock, max_retries=3)
    sock = _post(served)
    served.log.wait_for(r"^POST /api/ai/stream retry 1: HTTP 529 .*waiting 5\.0 s$")
    _leave(sock)
    served.log.wait_for(r"^POST /api/ai/stream 499 .* client-gone$")
    # the log line is written after the exchange (its retry wait included) was cancelled: no call can follow
    assert len(mock.records) == 1
    assert "retry 2" not in served.log.getvalue()


@pytest.mark.timeout(30)
def test_leaving_mid_answer_closes_the_upstream_request(
    serve: Callable[..., Served], mock_server: Callable[..., MockServer]
) -> None:
    mock = mock_server(text=" ".join(["word"] * 2000), tokens_per_second=50.0)
    served = serve(mock)
    conn = connect(served.url)
    conn.request("POST", STREAM, json.dumps({"prompt": "x"}), JSON)
    response = conn.getresponse()
    assert response.read1(100).startswith(b"data: ")
    assert conn.sock is not None
    _leave(conn.sock)
    assert mock.wait_for(lambda records: bool(records) and records[-1].outcome == "client closed", timeout=10)
    assert mock.records[-1].deltas_sent < 2000
    served.log.wait_for(r"^POST /api/ai/stream 200 in=\d+ out=\d+ ttft=\S+ total=\S+ client-gone$")
    assert " ok" not in served.log.getvalue()
