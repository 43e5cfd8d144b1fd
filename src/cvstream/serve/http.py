"""Plain ASGI plumbing shared by the guards and the routes: types, headers, JSON answers, the request record."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cvstream.usage import Summary

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = Sequence[tuple[bytes, bytes]]

RECORD = "cvstream.record"  # the scope key of a request's `Record`


@dataclass
class Record:
    """What the request log says about one request; the guards and routes fill it in."""

    method: str
    path: str
    started: float = field(default_factory=time.monotonic)
    status: int = 0
    outcome: str = "ok"
    summary: Summary | None = None  # the streamed routes' usage and timings


def record_of(scope: Scope) -> Record:
    record: Record = scope[RECORD]
    return record


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of header `name` (lower case), decoded as Latin-1 (what HTTP allows)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def error_body(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}


async def send_json(send: Send, status: int, body: Any, headers: Headers = ()) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data, "more_body": False})


async def refuse(scope: Scope, send: Send, status: int, kind: str, message: str, headers: Headers = ()) -> None:
    """Answer with a JSON error and note it in the request's log line."""
    record_of(scope).outcome = f"refused: {message}"
    await send_json(send, status, error_body(kind, message), headers)
