"""The Message Batches endpoints of `cvstream mock`: create, retrieve, list (paged), cancel, delete, results.

Batches live in memory for the server's life. A batch is `in_progress` for `BatchConfig.seconds` after it
is created, then `ended`; `cancel` makes it `canceling` until the next look, then `ended` with the
requests not yet done canceled. As in the API, `request_counts` show every request as `processing` until
the batch ends. Results are JSONL at the batch's `results_url`, in a shuffled order, generated line by
line as they are sent (the same answers as streamed requests get), so 100,000 results cost no memory.

Faults: a share of requests errored, a share expired (spread evenly over the batch, so a test knows how
many), and the first results download breaking off halfway (`results_fault`).
"""

from __future__ import annotations

import json
import math
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cvstream.mock import replies
from cvstream.mock.respond import send_json

PREFIX = "/v1/messages/batches"
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_REQUESTS = 100_000
MAX_BYTES = 256 * 1024 * 1024
EXPIRES_AFTER = 24 * 3600.0
_ROUTE = re.compile(r"^/v1/messages/batches(?:/(?P<id>[^/?]+)(?:/(?P<action>cancel|results))?)?/?$")


@dataclass
class BatchConfig:
    seconds: float = 3.0  # processing time of every batch
    errored: float = 0.0  # share of requests that end errored (0..1)
    expired: float = 0.0  # share of requests that end expired (0..1)
    results_fault: bool = False  # the first results download breaks off halfway
    max_requests: int = MAX_REQUESTS
    max_bytes: int = MAX_BYTES


@dataclass
class _Batch:
    id: str
    created: float  # wall clock, seconds
    requests: list[tuple[str, Any]]  # (custom_id, params)
    cancel_at: float | None = None
    outcomes: list[str] | None = None  # computed once ended


@dataclass
class Store:
    server: Any  # the server's MockConfig: `.batch` (a BatchConfig), `.text`, `.retry_after`, `.fault`
    lock: threading.Lock = field(default_factory=threading.Lock)
    batches: dict[str, _Batch] = field(default_factory=dict)  # in creation order
    results_faults_done: int = 0


def owns(path: str) -> bool:
    """True for the paths this module serves."""
    return bool(_ROUTE.match(urlsplit(path).path))


def _rfc3339(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _spread(index: int, share: float, phase: float) -> bool:
    """Whether request `index` is among an even spread of `share` of the requests."""
    return math.floor((index + 1) * share + phase) > math.floor(index * share + phase)


def _valid(params: Any) -> str | None:
    """Why a request's params would fail as a Messages request, if they would."""
    if not isinstance(params, dict):
        return "params: Input should be an object"
    for name in ("model", "max_tokens", "messages"):
        if name not in params:
            return f"params.{name}: Field required"
    if params.get("stream"):
        return "params.stream: streaming is not supported in batches"
    if not isinstance(params["max_tokens"], int) or params["max_tokens"] < 1:
        return "params.max_tokens: Input should be a positive integer"
    return None


def _outcomes(batch: _Batch, config: BatchConfig) -> list[str]:
    total = len(batch.requests)
    done = total
    if batch.cancel_at is not None and config.seconds > 0:
        done = math.floor(total * min(1.0, (batch.cancel_at - batch.created) / config.seconds))
    out = []
    for index, (_, params) in enumerate(batch.requests):
        if index >= done:
            out.append("canceled")
        elif _spread(index, config.errored, 0.0) or _valid(params):
            out.append("errored")
        elif _spread(index, config.expired, 0.5):
            out.append("expired")
        else:
            out.append("succeeded")
    return out


def _ended_at(batch: _Batch, config: BatchConfig, now: float) -> float | None:
    if batch.cancel_at is not None:
        return batch.cancel_at if now > batch.cancel_at else None
    end = batch.created + config.seconds
    return end if now >= end else None


def batch_object(batch: _Batch, store: Store, base_url: str, now: float) -> dict[str, Any]:
    """The `MessageBatch` object as the API sends it, at time `now`."""
    config = store.server.batch
    ended_at = _ended_at(batch, config, now)
    counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    if ended_at is None:
        counts["processing"] = len(batch.requests)
        status = "in_progress" if batch.cancel_at is None else "canceling"
    else:
        if batch.outcomes is None:
            batch.outcomes = _outcomes(batch, config)
        for outcome in batch.outcomes:
            counts[outcome] += 1
        status = "ended"
    return {
        "id": batch.id,
        "type": "message_batch",
        "processing_status": status,
        "request_counts": counts,
        "created_at": _rfc3339(batch.created),
        "ended_at": _rfc3339(ended_at),
        "expires_at": _rfc3339(batch.created + EXPIRES_AFTER),
        "cancel_initiated_at": _rfc3339(batch.cancel_at),
        "archived_at": None,
        "results_url": f"{base_url}{PREFIX}/{batch.id}/results" if ended_at is not None else None,
    }


# -- the HTTP side ---------------------------------------------------------------------------------------


def _error(
    handler: BaseHTTPRequestHandler,
    status: int,
    kind: str,
    message: str,
    request_id: str,
    headers: dict[str, str] | None = None,
) -> int:
    send_json(handler, status, replies.error_body(kind, message, request_id), request_id, headers)
    return status


def handle(
    handler: BaseHTTPRequestHandler,
    store: Store,
    method: str,
    body: bytes,
    request_id: str,
    fault: tuple[int, str, str] | None,
) -> int:
    """Answer one request to a batch route; returns the HTTP status sent. `fault`: (status, error type,
    message) of an HTTP fault (`--fault http529`) this request gets instead of its answer."""
    headers = handler.headers
    if not (headers.get("x-api-key") or (headers.get("authorization") or "").startswith("Bearer ")):
        return _error(handler, 401, "authentication_error", "x-api-key header is required", request_id)
    if fault is not None:
        status, kind, message = fault
        extra = {"retry-after": f"{store.server.retry_after:g}"} if status in (429, 500, 529) else {}
        return _error(handler, status, kind, message.format(model="-"), request_id, extra)
    parts = urlsplit(handler.path)
    match = _ROUTE.match(parts.path)
    assert match is not None
    batch_id, action = match.group("id"), match.group("action")
    host = handler.headers.get("host") or "127.0.0.1"
    base_url = f"http://{host}"
    now = time.time()
    if batch_id is None:
        if method == "POST":
            return _create(handler, store, body, base_url, request_id)
        if method == "GET":
            return _list(handler, store, parse_qs(parts.query), base_url, request_id)
        return _error(handler, 405, "invalid_request_error", f"{method} is not allowed here", request_id)
    with store.lock:
        batch = store.batches.get(batch_id)
    if batch is None:
        return _error(handler, 404, "not_found_error", f"message_batch: {batch_id} not found", request_id)
    if action == "results" and method == "GET":
        return _results(handler, store, batch, request_id, store.server.text, now)
    if action == "cancel" and method == "POST":
        with store.lock:
            if _ended_at(batch, store.server.batch, now) is None and batch.cancel_at is None:
                batch.cancel_at = now
        send_json(handler, 200, batch_object(batch, store, base_url, now), request_id)
        return 200
    if action is None and method == "GET":
        send_json(handler, 200, batch_object(batch, store, base_url, now), request_id)
        return 200
    if action is None and method == "DELETE":
        if _ended_at(batch, store.server.batch, now) is None:
            message = f"message_batch: {batch_id} is still processing; cancel it before deleting it"
            return _error(handler, 400, "invalid_request_error", message, request_id)
        with store.lock:
            store.batches.pop(batch_id, None)
        send_json(handler, 200, {"id": batch_id, "type": "message_batch_deleted"}, request_id)
        return 200
    return _error(handler, 405, "invalid_request_error", f"{method} is not allowed here", request_id)


def _create(handler: BaseHTTPRequestHandler, store: Store, raw: bytes, base_url: str, request_id: str) -> int:
    config = store.server.batch
    if len(raw) > config.max_bytes:
        message = f"Request exceeds the maximum allowed number of bytes ({config.max_bytes})."
        return _error(handler, 413, "request_too_large", message, request_id)
    try:
        body = json.loads(raw)
    except ValueError:
        return _error(handler, 400, "invalid_request_error", "request body is not valid JSON", request_id)
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        return _error(handler, 400, "invalid_request_error", "requests: at least one request is required", request_id)
    if len(requests) > config.max_requests:
        message = f"requests: at most {config.max_requests} requests are allowed in a batch, got {len(requests)}"
        return _error(handler, 400, "invalid_request_error", message, request_id)
    seen: set[str] = set()
    kept: list[tuple[str, Any]] = []
    for index, request in enumerate(requests):
        custom_id = request.get("custom_id") if isinstance(request, dict) else None
        if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
            message = f"requests.{index}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
            return _error(handler, 400, "invalid_request_error", message, request_id)
        if custom_id in seen:
            message = f"requests.{index}.custom_id: duplicate custom_id {custom_id!r}"
            return _error(handler, 400, "invalid_request_error", message, request_id)
        seen.add(custom_id)
        kept.append((custom_id, request.get("params")))
    batch = _Batch("msgbatch_mock_" + uuid.uuid4().hex[:24], time.time(), kept)
    with store.lock:
        store.batches[batch.id] = batch
    send_json(handler, 200, batch_object(batch, store, base_url, batch.created), request_id)
    return 200


def _list(
    handler: BaseHTTPRequestHandler, store: Store, query: dict[str, list[str]], base_url: str, request_id: str
) -> int:
    try:
        limit = int(query.get("limit", ["20"])[0])
    except ValueError:
        limit = 0
    if not 1 <= limit <= 1000:
        return _error(handler, 400, "invalid_request_error", "limit: must be between 1 and 1000", request_id)
    with store.lock:
        newest_first = list(reversed(store.batches.values()))
    ids = [b.id for b in newest_first]
    after, before = query.get("after_id", [None])[0], query.get("before_id", [None])[0]
    if before is not None and before in ids:
        end = ids.index(before)
        page, has_more = newest_first[max(0, end - limit) : end], end - limit > 0
    else:
        start = ids.index(after) + 1 if after is not None and after in ids else 0
        page, has_more = newest_first[start : start + limit], start + limit < len(ids)
    now = time.time()
    body = {
        "data": [batch_object(b, store, base_url, now) for b in page],
        "has_more": has_more,
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
    }
    send_json(handler, 200, body, request_id)
    return 200


def _result_line(custom_id: str, params: Any, outcome: str, text: str | None, echo: bool) -> bytes:
    head = json.dumps({"custom_id": custom_id})[:-1].encode() + b', "result": '
    if outcome == "succeeded":
        message = replies.message_body(
            text=text if text is not None else replies.reply_text(params, echo=echo),
            model=str(params["model"]),
            message_id="msg_mock_" + uuid.uuid4().hex[:20],
            input_tokens=replies.estimate_tokens(replies.request_text(params)),
            max_tokens=int(params["max_tokens"]),
            stop_reason=None,
        )
        return head + b'{"type": "succeeded", "message": ' + message + b"}}\n"
    if outcome == "errored":
        reason = _valid(params) or "mock fault: this request failed (the errored share of the batch)"
        kind = "invalid_request_error" if _valid(params) else "api_error"
        error = replies.error_body(kind, reason, "req_mock_" + uuid.uuid4().hex[:24])
        return head + b'{"type": "errored", "error": ' + error + b"}}\n"
    return head + json.dumps({"type": outcome}).encode() + b"}\n"


def _lines(batch: _Batch, text: str | None, echo: bool) -> Iterator[bytes]:
    order = list(range(len(batch.requests)))
    random.Random(batch.id).shuffle(order)  # results come in any order
    outcomes = batch.outcomes or []
    for index in order:
        custom_id, params = batch.requests[index]
        yield _result_line(custom_id, params, outcomes[index], text, echo)


def _results(
    handler: BaseHTTPRequestHandler, store: Store, batch: _Batch, request_id: str, text: str | None, now: float
) -> int:
    if batch_object(batch, store, "", now)["processing_status"] != "ended":
        message = f"message_batch: {batch.id} has not ended yet; results are available once it ends"
        return _error(handler, 400, "invalid_request_error", message, request_id)
    with store.lock:
        fault = store.server.batch.results_fault and store.results_faults_done == 0
        if fault:
            store.results_faults_done += 1
    handler.send_response(200)
    handler.send_header("content-type", "application/binary")
    handler.send_header("transfer-encoding", "chunked")
    handler.send_header("request-id", request_id)
    handler.end_headers()
    cut_at = len(batch.requests) // 2 if fault else -1
    pending = bytearray()
    for sent, line in enumerate(_lines(batch, text, bool(store.server.echo))):
        if sent == cut_at:
            # Break off mid-line and mid-body: the connection closes before the chunked body's end.
            _chunk(handler, bytes(pending) + line[: len(line) // 2])
            handler.connection.shutdown(socket.SHUT_RDWR)
            handler.close_connection = True
            return 200
        pending += line
        if len(pending) >= 64 * 1024:
            _chunk(handler, bytes(pending))
            pending.clear()
    _chunk(handler, bytes(pending))
    handler.wfile.write(b"0\r\n\r\n")
    handler.wfile.flush()
    return 200


def _chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    if data:
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        handler.wfile.flush()
