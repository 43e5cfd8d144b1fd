"""The mock's Models API and count_tokens: every response parses with the SDK's own types, and paging works
both by hand (limit, after_id, before_id) and through the SDK's auto-pager."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import anthropic
import pytest
from anthropic.types import MessageTokensCount, ModelInfo

from cvstream.mock import models_api
from cvstream.mock.server import MockServer

pytestmark = pytest.mark.timeout(30)

IDS = [m["id"] for m in models_api.CATALOGUE]


def _call(server: MockServer, method: str, path: str, body: object = None, key: str = "k") -> tuple[int, Any]:
    parts = urlsplit(server.base_url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    headers = {"content-type": "application/json", "anthropic-version": "2023-06-01"}
    if key:
        headers["x-api-key"] = key
    conn.request(method, path, None if body is None else json.dumps(body), headers)
    response = conn.getresponse()
    status, data = response.status, json.loads(response.read())
    conn.close()
    return status, data


def test_every_catalogue_entry_is_a_valid_model_info() -> None:
    for model in models_api.CATALOGUE:
        ModelInfo.model_validate(model, strict=False)
    assert any(m["max_tokens"] is None and m["max_input_tokens"] is None for m in models_api.CATALOGUE)
    assert {m["lifecycle"] for m in models_api.CATALOGUE} == {"active", "deprecated", "retired"}


def test_first_page_then_after_id_then_before_id(mock: MockServer) -> None:
    status, page = _call(mock, "GET", "/v1/models?limit=5")
    assert status == 200
    assert [m["id"] for m in page["data"]] == IDS[:5]
    assert page["has_more"] is True and page["first_id"] == IDS[0] and page["last_id"] == IDS[4]
    for model in page["data"]:
        ModelInfo.model_validate(model)
    _, second = _call(mock, "GET", f"/v1/models?limit=5&after_id={IDS[4]}")
    assert [m["id"] for m in second["data"]] == IDS[5:10]
    _, last = _call(mock, "GET", f"/v1/models?limit=5&after_id={IDS[9]}")
    assert [m["id"] for m in last["data"]] == IDS[10:]
    assert last["has_more"] is False and last["last_id"] == IDS[-1]
    _, back = _call(mock, "GET", f"/v1/models?limit=3&before_id={IDS[5]}")
    assert [m["id"] for m in back["data"]] == IDS[2:5] and back["has_more"] is True
    _, start = _call(mock, "GET", f"/v1/models?limit=3&before_id={IDS[2]}")
    assert [m["id"] for m in start["data"]] == IDS[:2] and start["has_more"] is False


def test_default_page_size_and_empty_pages(mock_server: Callable[..., MockServer]) -> None:
    many = [{**models_api.CATALOGUE[1], "id": f"claude-sonnet-9-{i}"} for i in range(25)]
    server = mock_server(models=many)
    _, page = _call(server, "GET", "/v1/models")
    assert len(page["data"]) == models_api.DEFAULT_LIMIT and page["has_more"] is True
    empty = mock_server(models=[])
    _, page = _call(empty, "GET", "/v1/models")
    assert page == {"data": [], "has_more": False, "first_id": None, "last_id": None}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "limit: must be between 1 and 1000"),
        ("limit=abc", "limit: must be between 1 and 1000"),
        ("after_id=claude-nope", "after_id: no model with id claude-nope"),
        ("after_id=a&before_id=b", "after_id and before_id cannot both be given"),
    ],
)
def test_bad_list_queries_are_invalid_requests(mock: MockServer, query: str, message: str) -> None:
    status, body = _call(mock, "GET", f"/v1/models?{query}")
    assert status == 400
    assert body["error"] == {"type": "invalid_request_error", "message": message}


def test_retrieve_by_id_and_by_undated_alias_and_unknown(mock: MockServer) -> None:
    status, model = _call(mock, "GET", "/v1/models/claude-sonnet-5-5")
    assert status == 200 and ModelInfo.model_validate(model).max_input_tokens == 1_000_000
    _, dated = _call(mock, "GET", "/v1/models/claude-haiku-4-5")
    assert dated["id"] == "claude-haiku-4-5-20251001"
    status, body = _call(mock, "GET", "/v1/models/claude-nope-1")
    assert status == 404 and body["error"] == {"type": "not_found_error", "message": "model: claude-nope-1"}


def test_models_need_a_key(mock: MockServer) -> None:
    status, body = _call(mock, "GET", "/v1/models", key="")
    assert status == 401 and body["error"]["type"] == "authentication_error"


def test_count_tokens_approximates_four_characters_a_token(mock: MockServer) -> None:
    request = {"model": "claude-x", "system": "be brief", "messages": [{"role": "user", "content": "x" * 40}]}
    status, body = _call(mock, "POST", "/v1/messages/count_tokens", request)
    assert status == 200
    assert MessageTokensCount.model_validate(body, strict=True).input_tokens == 13  # (8 + 1 + 40) / 4, rounded up
    status, body = _call(mock, "POST", "/v1/messages/count_tokens", {**request, "max_tokens": 5})
    assert status == 400 and body["error"]["message"] == "max_tokens: Extra inputs are not permitted"
    status, body = _call(mock, "POST", "/v1/messages/count_tokens", {"model": "m"})
    assert status == 400 and body["error"]["message"] == "messages: Field required"


def test_the_sdk_pages_through_the_mock(mock_server: Callable[..., MockServer]) -> None:
    server = mock_server(models_page_max=4)
    client = anthropic.Anthropic(api_key="k", base_url=server.base_url, max_retries=0)
    try:
        got = [m.id for m in client.models.list(limit=1000)]
        assert client.models.retrieve("claude-opus-5").display_name == "Claude Opus 5"
        counted = client.messages.count_tokens(model="claude-x", messages=[{"role": "user", "content": "abcd"}])
    finally:
        client.close()
    assert got == IDS
    paths = [r.path for r in server.records if r.path.startswith("/v1/models?")]
    assert len(paths) == 4  # 13 models, pages of 4
    assert f"after_id={IDS[3]}" in paths[1] and f"after_id={IDS[11]}" in paths[3]
    assert counted.input_tokens == 1
