"""`cvstream serve` refuses what a hostile web page can send (forged Origin, rebound Host, a simple
text/plain POST, a bad token) before any upstream call: the mock must see none of them."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from cvstream.mock.server import MockServer
from cvstream.serve.guards import HostCheck, hostname
from tests.serve_support import JSON, Served, request

STREAM = "/api/ai/stream"
BODY = {"prompt": "x"}
TOKEN = "s3cret-token-0123"


@pytest.mark.parametrize("token", [None, TOKEN])
@pytest.mark.parametrize("cors", [[], ["http://localhost:3000"]])
@pytest.mark.parametrize("content_type", ["text/plain", "application/json"])
def test_a_foreign_origin_is_refused_before_any_upstream_call(
    serve: Callable[..., Served], mock: MockServer, token: str | None, cors: list[str], content_type: str
) -> None:
    served = serve(mock, token=token, cors_origins=cors)
    headers = {"origin": "https://evil.example", "content-type": content_type}
    if token:
        headers["authorization"] = f"Bearer {token}"
    status, got, data = request(served.url, "POST", STREAM, BODY, headers)
    assert status == 403
    assert json.loads(data)["error"]["type"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in got
    served.log.wait_for(r"^POST /api/ai/stream 403 total=\S+ refused: requests from the web origin")
    assert mock.records == []


@pytest.mark.parametrize("origin", ["null", "http://localhost:3001", "http://localhost", "https://localhost:3000"])
def test_only_the_exact_cors_origin_is_allowed(serve: Callable[..., Served], mock: MockServer, origin: str) -> None:
    served = serve(mock, cors_origins=["http://localhost:3000"])
    status, _, _ = request(served.url, "POST", STREAM, BODY, {**JSON, "origin": origin})
    assert status == 403
    assert mock.records == []


def test_the_servers_own_origin_and_a_cors_origin_are_served(serve: Callable[..., Served], mock: MockServer) -> None:
    served = serve(mock, cors_origins=["http://localhost:3000/"])
    own = f"http://127.0.0.1:{served.port}"
    status, headers, _ = request(served.url, "POST", STREAM, BODY, {**JSON, "origin": own})
    assert status == 200 and "access-control-allow-origin" not in headers
    status, headers, _ = request(served.url, "POST", STREAM, BODY, {**JSON, "origin": "http://LOCALHOST:3000"})
    assert status == 200 and headers["access-control-allow-origin"] == "http://LOCALHOST:3000"
    assert len(mock.records) == 2


@pytest.mark.parametrize("token", [None, TOKEN])
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost.evil"])
def test_a_foreign_host_is_refused_before_any_upstream_call(
    serve: Callable[..., Served], mock: MockServer, token: str | None, host: str
) -> None:
    served = serve(mock, token=token)
    headers = {**JSON, "host": host, **({"authorization": f"Bearer {token}"} if token else {})}
    status, _, data = request(served.url, "POST", STREAM, BODY, headers)
    assert status == 421
    assert json.loads(data)["error"]["type"] == "host_not_allowed"
    assert request(served.url, "GET", "/healthz", headers={"host": host})[0] == 421  # nothing to read either
    assert mock.records == []


def test_local_hosts_and_allowed_hosts_are_served(serve: Callable[..., Served], mock: MockServer) -> None:
    served = serve(mock, allowed_hosts=["cv.internal"])
    for host in ("127.0.0.1", f"127.0.0.1:{served.port}", f"localhost:{served.port}", "[::1]:1", "CV.internal:80"):
        assert request(served.url, "POST", STREAM, BODY, {**JSON, "host": host})[0] == 200, host
    assert len(mock.records) == 5


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_post_routes_need_a_json_content_type(
    serve: Callable[..., Served], mock: MockServer, content_type: str | None
) -> None:
    served = serve(mock)
    for path in (STREAM, "/api/enhance"):
        headers = {"content-type": content_type} if content_type else {}
        status, _, data = request(served.url, "POST", path, BODY, headers)
        assert status == 415
        assert json.loads(data)["error"]["type"] == "unsupported_media_type"
    assert request(served.url, "POST", STREAM, BODY, {"content-type": "Application/JSON; charset=utf-8"})[0] == 200
    assert len(mock.records) == 1


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_bearer_scheme_is_case_insensitive(serve: Callable[..., Served], mock: MockServer, scheme: str) -> None:
    served = serve(mock, token=TOKEN)
    assert request(served.url, "POST", STREAM, BODY, {**JSON, "authorization": f"{scheme} {TOKEN}"})[0] == 200


@pytest.mark.parametrize("given", [None, "Bearer nope", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN, "Bearer"])
def test_a_missing_or_wrong_token_is_a_json_401(
    serve: Callable[..., Served], mock: MockServer, given: str | None
) -> None:
    served = serve(mock, token=TOKEN)
    headers = {**JSON, **({"authorization": given} if given else {})}
    status, got, data = request(served.url, "POST", STREAM, BODY, headers)
    assert status == 401 and got["www-authenticate"] == "Bearer"
    assert json.loads(data)["error"]["type"] == "unauthorized"
    assert request(served.url, "GET", "/healthz")[0] == 200
    assert mock.records == []


def test_cors_preflight_and_answers(serve: Callable[..., Served], mock: MockServer) -> None:
    served = serve(mock, cors_origins=["http://localhost:3000"], token=TOKEN)
    asks = {"origin": "http://localhost:3000", "access-control-request-method": "POST"}
    status, headers, _ = request(served.url, "OPTIONS", STREAM, headers=asks)
    assert status == 200
    assert headers["access-control-allow-origin"] == "http://localhost:3000"
    assert set(headers["access-control-allow-headers"].split(", ")) == {"authorization", "content-type"}
    assert "POST" in headers["access-control-allow-methods"]
    status, headers, data = request(served.url, "OPTIONS", STREAM, headers={**asks, "origin": "http://evil.example"})
    assert status == 403 and json.loads(data)["error"]["type"] == "origin_not_allowed"
    # the page can read its errors too
    status, headers, _ = request(served.url, "POST", STREAM, BODY, {**JSON, "origin": "http://localhost:3000"})
    assert status == 401 and headers["access-control-allow-origin"] == "http://localhost:3000"
    assert mock.records == []


def test_no_cors_headers_without_cors_origins(serve: Callable[..., Served], mock: MockServer) -> None:
    served = serve(mock)
    asks = {"origin": "http://localhost:3000", "access-control-request-method": "POST"}
    status, headers, _ = request(served.url, "OPTIONS", STREAM, headers=asks)
    assert status == 403 and "access-control-allow-origin" not in headers


def test_host_names() -> None:
    assert [hostname(h) for h in ("[::1]:80", "LocalHost.:8000", "127.0.0.1", "::1", "[fe80::1")] == [
        "::1",
        "localhost",
        "127.0.0.1",
        "::1",
        "fe80::1",
    ]
    loopback, wildcard = HostCheck("127.0.0.1"), HostCheck("0.0.0.0", ["cv.lan"])
    assert loopback.allows("127.0.0.2:1") and not loopback.allows("192.168.1.5")
    assert wildcard.allows("192.168.1.5:8000") and wildcard.allows("cv.lan") and not wildcard.allows("evil.example")
