"""Pure-ish: a POST body in, an API request out, or a `BadRequest` naming the problem (always a JSON 400/413).

Everything a client controls is checked here, before any upstream call: the size, the JSON (depth
included), each field's type, text that is not valid Unicode (a lone surrogate would fail inside the
SDK), `max_tokens` against the cap, and `model` against the allowed list (a short name resolved first, as the
CLI resolves it, so a client may send `"sonnet"`; what it resolves to must be allowed).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from cvstream.config import METHODS
from cvstream.prompt import ENHANCE_SYSTEM, enhance_message, parse_bullets
from cvstream.serve.http import Receive, Scope, header
from cvstream.serve.log import one_line
from cvstream.source import Request as ApiRequest


class BadRequest(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


class ClientGone(Exception):
    """The client closed the connection before its body arrived."""


def is_json(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == "application/json"


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The body, refused over `limit` bytes by Content-Length or by counting a streamed body."""
    declared = header(scope, b"content-length")
    too_large = BadRequest(413, "request_too_large", f"the body is over {limit:,} bytes")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        body += message.get("body", b"")
        if len(body) > limit:
            raise too_large
        if not message.get("more_body", False):
            return bytes(body)


def parse_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except RecursionError:
        raise BadRequest(400, "invalid_json", "the body is nested too deeply") from None
    except ValueError:  # includes bytes that are not UTF-8
        raise BadRequest(400, "invalid_json", "the body is not valid JSON (UTF-8)") from None
    if not isinstance(data, dict):
        raise BadRequest(400, "invalid_json", "the body must be a JSON object")
    return data


def _valid_text(name: str, value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadRequest(
            400,
            "invalid_request",
            f"'{name}' is not valid Unicode (a lone surrogate {value[exc.start]!r} at character {exc.start})",
        ) from None
    return value


def optional_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(400, "invalid_request", f"'{name}' must be a string")
    return _valid_text(name, value)


class RequestRules:
    """The server's defaults and limits for what a client may ask."""

    def __init__(
        self,
        model: str,
        max_tokens: int,
        method: str,
        max_tokens_cap: int,
        allow_models: Collection[str] = (),
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.model, self.max_tokens, self.method, self.max_tokens_cap = model, max_tokens, method, max_tokens_cap
        self.models = {model, *allow_models}
        self.aliases = dict(aliases or {})  # short name (lower case) -> model id

    def ai_stream(self, data: dict[str, Any]) -> tuple[ApiRequest, str]:
        prompt = optional_str(data, "prompt") if isinstance(data.get("prompt"), str) else None
        if not prompt or not prompt.strip():
            raise BadRequest(400, "invalid_request", "'prompt' is required and must be a non-empty string")
        return self._request(data, prompt, optional_str(data, "system"))

    def enhance(self, data: dict[str, Any]) -> tuple[ApiRequest, str]:
        raw = data.get("bullets")
        if not isinstance(raw, list) or not all(isinstance(b, str) for b in raw):
            raise BadRequest(400, "invalid_request", "'bullets' is required and must be a list of strings")
        bullets = [b for item in raw for b in parse_bullets(_valid_text("bullets", item))]
        if not bullets:
            raise BadRequest(400, "invalid_request", "'bullets' has no non-empty bullet")
        return self._request(data, enhance_message(bullets, optional_str(data, "job")), ENHANCE_SYSTEM)

    def _request(self, data: dict[str, Any], user: str, system: str | None) -> tuple[ApiRequest, str]:
        named = optional_str(data, "model") or ""
        model = self.aliases.get(named.strip().lower(), named) if named else self.model
        if model not in self.models:
            allowed = ", ".join(sorted(self.models))
            via = "" if model == named else f" (short for {one_line(model, 80)})"
            message = f"model {one_line(named, 80)!r}{via} is not allowed on this server"
            raise BadRequest(400, "model_not_allowed", f"{message} (allowed: {allowed}; see --allow-model)")
        max_tokens = data.get("max_tokens", self.max_tokens)
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise BadRequest(400, "invalid_request", "'max_tokens' must be a whole number of at least 1")
        if max_tokens > self.max_tokens_cap:
            raise BadRequest(400, "invalid_request", f"'max_tokens' is over this server's cap of {self.max_tokens_cap}")
        method = optional_str(data, "method") or self.method
        if method not in METHODS:
            raise BadRequest(400, "invalid_request", "'method' must be 'create' or 'stream'")
        return ApiRequest(model=model, max_tokens=max_tokens, user=user, system=system), method
