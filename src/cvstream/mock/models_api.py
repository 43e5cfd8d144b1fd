"""The mock's Models API and token counting: `GET /v1/models`, `GET /v1/models/{id}`,
`POST /v1/messages/count_tokens`. Pure: a request in, `(status, JSON body)` out; `server.py` sends it.

The catalogue (`CATALOGUE`) has a few families with deprecation and retirement dates (so short names
resolve to something testable), a retired model (hidden by `cvstream models` without `--all`) and a
model without limits (`max_input_tokens` and `max_tokens` null). Tests may pass their own catalogue.

Pagination follows the API: newest first, `limit` (1-1000, default 20), `after_id` (the page after that
id) or `before_id` (the page just before it), and a page of `{"data", "has_more", "first_id", "last_id"}`.

Token counting is an approximation, the same one the mock's `usage.input_tokens` uses: one token per
four characters of the request's system and message text, at least one (`replies.estimate_tokens`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cvstream.mock import replies

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000

Reply = tuple[int, bytes]


def _supported(value: bool = True) -> dict[str, bool]:
    return {"supported": value}


def _capabilities(thinking: bool = True) -> dict[str, Any]:
    """A full `capabilities` object (every key the SDK's `ModelCapabilities` requires)."""
    yes, no = _supported(), _supported(False)
    return {
        "batch": yes,
        "citations": yes,
        "code_execution": yes,
        "context_management": {"supported": True, "clear_thinking_20251015": yes, "clear_tool_uses_20250919": yes},
        "effort": {"supported": True, "low": yes, "medium": yes, "high": yes, "max": yes, "xhigh": yes},
        "image_input": yes,
        "pdf_input": yes,
        "server_tools": {"supported": True, "code_execution": yes, "web_search": yes},
        "structured_outputs": yes,
        "thinking": {
            "supported": thinking,
            "types": {"adaptive": _supported(thinking), "between_tools": no, "disabled": yes, "enabled": no},
        },
    }


def _model(
    model_id: str,
    name: str,
    created: str,
    limits: tuple[int, int] | None,
    line: str | None,
    *,
    deprecated: str | None = None,
    retires: str | None = None,
    lifecycle: str = "active",
    capabilities: bool = True,
) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model_id,
        "display_name": name,
        "created_at": f"{created}T00:00:00Z",
        "max_input_tokens": limits[0] if limits else None,
        "max_tokens": limits[1] if limits else None,
        "deprecated_at": f"{deprecated}T00:00:00Z" if deprecated else None,
        "retires_at": f"{retires}T00:00:00Z" if retires else None,
        "lifecycle": lifecycle,
        "line": line,
        "capabilities": _capabilities() if capabilities else None,
    }


# Newest first, as the API orders them. Limits are the mock's, not the real models'.
CATALOGUE: tuple[dict[str, Any], ...] = (
    _model("claude-fable-5-2", "Claude Fable 5.2", "2026-10-20", None, "fable"),  # no limits published
    _model("claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-09-15", (1_000_000, 128_000), "sonnet"),
    _model("claude-haiku-5-5", "Claude Haiku 5.5", "2026-09-15", (400_000, 64_000), "haiku"),
    _model("claude-opus-5-5", "Claude Opus 5.5", "2026-08-05", (1_000_000, 128_000), "opus"),
    _model("claude-sonnet-5", "Claude Sonnet 5", "2026-05-12", (1_000_000, 64_000), "sonnet"),
    _model("claude-opus-5", "Claude Opus 5", "2026-04-21", (1_000_000, 128_000), "opus"),
    _model("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17", (200_000, 64_000), "sonnet"),
    _model("claude-opus-4-6", "Claude Opus 4.6", "2026-02-05", (200_000, 128_000), "opus"),
    _model(
        "claude-mythos-preview",
        "Claude Mythos Preview",
        "2026-01-14",
        (200_000, 32_000),
        "mythos",
        deprecated="2026-04-01",
        retires="2026-06-30",
        lifecycle="retired",
        capabilities=False,
    ),
    _model(
        "claude-opus-4-5-20251101",
        "Claude Opus 4.5",
        "2025-11-01",
        (200_000, 64_000),
        "opus",
        deprecated="2026-10-22",
        retires="2027-01-22",
        lifecycle="deprecated",
    ),
    _model("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01", (200_000, 64_000), "haiku"),
    _model(
        "claude-sonnet-4-5-20250929",
        "Claude Sonnet 4.5",
        "2025-09-29",
        (200_000, 64_000),
        "sonnet",
        deprecated="2026-08-30",
        retires="2026-11-30",
        lifecycle="deprecated",
    ),
    _model(
        "claude-3-7-sonnet-20250219",
        "Claude Sonnet 3.7",
        "2025-02-24",
        (200_000, 64_000),
        "sonnet",
        deprecated="2025-10-28",
        retires="2026-02-19",
        lifecycle="retired",
        capabilities=False,
    ),
)

_DATED = re.compile(r"-\d{8}$")


def handles(method: str, path: str) -> bool:
    """Whether this module answers `method path` (the server sends everything else elsewhere)."""
    route = urlsplit(path).path.rstrip("/")
    if method == "GET":
        return route == "/v1/models" or route.startswith("/v1/models/")
    return method == "POST" and route == "/v1/messages/count_tokens"


def answer(
    method: str,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    request_id: str,
    catalogue: Sequence[Mapping[str, Any]] | None = None,
    page_max: int = MAX_LIMIT,
) -> Reply:
    """The reply to one request that `handles` accepted; `headers` have lower-case names."""
    if not (headers.get("x-api-key") or headers.get("authorization", "").startswith("Bearer ")):
        return _error(401, "authentication_error", "x-api-key header is required", request_id)
    models = list(CATALOGUE if catalogue is None else catalogue)
    parts = urlsplit(path)
    route = parts.path.rstrip("/")
    if method == "POST":
        return _count_tokens(body, request_id)
    if route == "/v1/models":
        return _list(models, parse_qs(parts.query), request_id, page_max)
    return _retrieve(models, unquote(route.removeprefix("/v1/models/")), request_id)


def _error(status: int, kind: str, message: str, request_id: str) -> Reply:
    return status, replies.error_body(kind, message, request_id)


def _json(value: object) -> Reply:
    return 200, json.dumps(value).encode()


def _list(models: list[Mapping[str, Any]], query: dict[str, list[str]], request_id: str, page_max: int) -> Reply:
    def one(name: str) -> str | None:
        values = query.get(name)
        return values[-1] if values else None

    raw_limit, after, before = one("limit"), one("after_id"), one("before_id")
    try:
        limit = DEFAULT_LIMIT if raw_limit is None else int(raw_limit)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        return _error(400, "invalid_request_error", f"limit: must be between 1 and {MAX_LIMIT}", request_id)
    if after is not None and before is not None:
        return _error(400, "invalid_request_error", "after_id and before_id cannot both be given", request_id)
    limit = min(limit, page_max)  # tests shrink pages to exercise the client's paging
    ids = [str(m["id"]) for m in models]
    cursor = after if after is not None else before
    if cursor is not None and cursor not in ids:
        name = "after_id" if after is not None else "before_id"
        return _error(400, "invalid_request_error", f"{name}: no model with id {cursor}", request_id)
    if before is not None:
        end = ids.index(before)
        start = max(0, end - limit)
        has_more = start > 0
    else:
        start = ids.index(after) + 1 if after is not None else 0
        end = min(len(models), start + limit)
        has_more = end < len(models)
    data = [dict(m) for m in models[start:end]]
    return _json(
        {
            "data": data,
            "has_more": has_more,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }
    )


def _retrieve(models: list[Mapping[str, Any]], model_id: str, request_id: str) -> Reply:
    """One model by id; an undated id also finds its dated release, as the API's aliases do."""
    for model in models:
        if model["id"] == model_id:
            return _json(dict(model))
    for model in models:
        if _DATED.sub("", str(model["id"])) == model_id:
            return _json(dict(model))
    return _error(404, "not_found_error", f"model: {model_id}", request_id)


def _count_tokens(body: bytes, request_id: str) -> Reply:
    try:
        request = json.loads(body)
        if not isinstance(request, dict):
            raise ValueError("not an object")
    except ValueError:
        return _error(400, "invalid_request_error", "request body is not valid JSON", request_id)
    for name in ("model", "messages"):
        if name not in request:
            return _error(400, "invalid_request_error", f"{name}: Field required", request_id)
    for name in ("max_tokens", "stream"):
        if name in request:
            return _error(400, "invalid_request_error", f"{name}: Extra inputs are not permitted", request_id)
    return _json({"input_tokens": replies.estimate_tokens(replies.request_text(request))})
