"""The mock's configuration, what it records of each request, and the state its handlers share."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from typing import Any, TextIO

from cvstream.mock import batches, models_api

# status, error.type, error.message ("{model}" is replaced by the requested model)
HTTP_FAULTS: dict[str, tuple[int, str, str]] = {
    "http400": (400, "invalid_request_error", "mock fault http400: max_tokens: this value is not valid"),
    "http401": (401, "authentication_error", "invalid x-api-key"),
    "http403": (
        403,
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    "http404": (404, "not_found_error", "model: {model}"),
    "http413": (413, "request_too_large", "Request exceeds the maximum allowed number of bytes."),
    "http429": (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    "http500": (500, "api_error", "Internal server error"),
    "http529": (529, "overloaded_error", "Overloaded"),
}
STREAM_FAULTS = ("error_event", "truncate", "malformed", "reset", "stall")
FAULTS = (*HTTP_FAULTS, *STREAM_FAULTS, "slow_headers")

_COALESCE_BYTES = 16 * 1024


@dataclass
class MockConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    transcript: bytes | None = None  # --transcript: replay this SSE body verbatim
    text: str | None = None  # --text: stream this text
    tokens_per_second: float = 80.0  # 0 = as fast as possible
    first_token_ms: float = 300.0
    chunk_bytes: int = 0  # 0 = one write per event
    fault: str | None = None
    fault_after: int = 3  # text deltas before a mid-stream fault
    fault_times: int = 0  # 0 = every request faults; K = only the first K
    retry_after: float = 1.0  # seconds, sent with 429 (and 500/529 when the fault is retried)
    stop_reason: str | None = None  # force a stop reason in generated replies
    echo_key: bool = False  # error messages quote the request's credentials, as a badly configured proxy does
    echo: bool = False  # --echo: every reply echoes its request (else enhance requests get bullets back)
    enhance: bool = False  # every request is an enhance's (the --offline mock of `enhance`, whatever the system text)
    batch: batches.BatchConfig = field(default_factory=batches.BatchConfig)  # the Message Batches endpoints
    models: list[dict[str, Any]] | None = None  # the Models API's catalogue (None: models_api.CATALOGUE)
    models_page_max: int = models_api.MAX_LIMIT  # the largest page GET /v1/models returns


@dataclass
class RequestRecord:
    """What the mock saw of one request; tests read these."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None = None
    status: int = 0
    outcome: str = "open"  # "complete", "fault:<name>", "client closed", "error"
    deltas_sent: int = 0


class ClientGone(Exception):
    pass


@dataclass
class State:
    config: MockConfig
    log: TextIO | None
    stop: threading.Event = field(default_factory=threading.Event)
    cond: threading.Condition = field(default_factory=threading.Condition)
    records: list[RequestRecord] = field(default_factory=list)
    faults_done: int = 0
    connections: set[socket.socket] = field(default_factory=set)
    batches: batches.Store | None = None
    prompt_cache: dict[str, float] = field(default_factory=dict)  # prefix hash -> expiry (caching.cache_use)

    def take_fault(self) -> str | None:
        """The fault this request gets, counting it against --fault-times."""
        fault = self.config.fault
        if fault is None:
            return None
        with self.cond:
            if self.config.fault_times and self.faults_done >= self.config.fault_times:
                return None
            self.faults_done += 1
        return fault

    def changed(self) -> None:
        with self.cond:
            self.cond.notify_all()
