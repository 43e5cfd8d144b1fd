"""The Message Batches calls: the SDK's `client.messages.batches` (public API only).

Everything leaves here as plain cvstream values (`BatchInfo`, `BatchResult`) and cvstream errors, so
the batch logic never touches SDK types. Retries are cvstream's, announced like streaming retries,
with one difference: `create` is not idempotent (a retry after a lost reply could submit, and pay for,
the same requests twice), so it is retried only when the API surely did not take it (429, 503, 529, or
no connection made).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

import anthropic
import httpx2

from cvstream.errors import ApiError, CvstreamError, IncompleteError
from cvstream.events import Retrying
from cvstream.source.client import make_client
from cvstream.source.connection import Connection
from cvstream.source.failures import backoff, connection_error, retry_after, status_error

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """One `MessageBatch`, as cvstream shows it."""

    id: str
    status: str  # in_progress, canceling, ended
    processing: int
    succeeded: int
    errored: int
    canceled: int
    expired: int
    created_at: datetime
    ended_at: datetime | None
    expires_at: datetime

    @property
    def total(self) -> int:
        return self.processing + self.succeeded + self.errored + self.canceled + self.expired

    @property
    def ended(self) -> bool:
        return self.status == "ended"


@dataclass(frozen=True, slots=True)
class BatchResult:
    """One line of a batch's results."""

    custom_id: str
    kind: str  # succeeded, errored, canceled, expired
    text: str = ""  # the answer's text blocks, joined (succeeded)
    stop_reason: str | None = None
    error: dict[str, Any] | None = None  # the error body (errored)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    model: str | None = None  # the model that answered (succeeded)


def _info(batch: Any) -> BatchInfo:
    counts = batch.request_counts
    return BatchInfo(
        id=batch.id,
        status=batch.processing_status,
        processing=counts.processing,
        succeeded=counts.succeeded,
        errored=counts.errored,
        canceled=counts.canceled,
        expired=counts.expired,
        created_at=batch.created_at,
        ended_at=batch.ended_at,
        expires_at=batch.expires_at,
    )


def _result(line: dict[str, Any]) -> BatchResult:
    """One results line (a `MessageBatchIndividualResponse` as JSON). Read as plain JSON: building the
    SDK's models for 100,000 lines would cost more than everything else in the download."""
    custom_id, result = str(line["custom_id"]), line["result"]
    kind = str(result["type"])
    if kind == "succeeded":
        message = result["message"]
        text = "".join(str(b.get("text", "")) for b in message.get("content") or [] if b.get("type") == "text")
        usage = message.get("usage") or {}
        return BatchResult(
            custom_id,
            kind,
            text=text,
            stop_reason=message.get("stop_reason"),
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
            cache_read_tokens=int(usage.get("cache_read_input_tokens") or 0),
            cache_write_tokens=int(usage.get("cache_creation_input_tokens") or 0),
            model=message.get("model"),
        )
    if kind == "errored":
        return BatchResult(custom_id, kind, error=result.get("error"))
    return BatchResult(custom_id, kind)


def _jsonl(chunks: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    """JSON lines from byte chunks (split on newline bytes only: JSON escapes every newline it carries)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield json.loads(line)
    if pending.strip():
        yield json.loads(pending)


class BatchApi:
    """The batch calls over one client; `on_retry` hears each retry before its wait."""

    def __init__(
        self,
        conn: Connection,
        on_retry: Callable[[Retrying], None] = lambda _: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.conn = conn
        self._client = make_client(conn)
        self._on_retry = on_retry
        self._sleep = sleep

    def close(self) -> None:
        self._client.close()

    def _call(self, fn: Callable[[], T], what: str, *, idempotent: bool = True) -> T:
        attempt = 0
        while True:
            try:
                return fn()
            except anthropic.APIStatusError as exc:
                error = self._status_error(exc, what, attempt + 1)
                retryable = exc.status_code in (429, 503, 529) or (
                    idempotent and (exc.status_code in (408, 409) or exc.status_code >= 500)
                )
                wait = retry_after(exc.response.headers)
                reason = f"HTTP {exc.status_code} {exc.type or ''}".strip()
            except anthropic.APIConnectionError as exc:
                error = connection_error(exc, self.conn)
                retryable = idempotent or isinstance(exc.__cause__, httpx2.ConnectError)
                wait, reason = None, error.message
            if not retryable or attempt >= self.conn.max_retries:
                if not idempotent and not retryable:
                    error.hint = "the batch may have been created all the same: check `cvstream batch list` first"
                raise error
            if wait is not None and wait > self.conn.max_retry_wait:
                error.hint = f"the API asks to retry after {wait:g} s, longer than --max-retry-wait; try again later"
                raise error
            delay = backoff(attempt) if wait is None else wait
            attempt += 1
            self._on_retry(Retrying(attempt, delay, reason))
            self._sleep(delay)

    def _status_error(self, exc: anthropic.APIStatusError, what: str, attempts: int) -> CvstreamError:
        conn = self.conn
        secrets = conn.secrets
        if exc.status_code == 404:
            error: CvstreamError = ApiError(
                f"{what}: not found (HTTP 404: {exc.api_message or exc.message})",
                "`cvstream batch list` shows the batches this key can see",
                upstream_status=404,
                request_id=exc.request_id,
            )
            return error.redacted(secrets)
        error = status_error(exc, "", attempts, conn)
        error.message = f"{what}: {error.message}"
        return error

    def create(self, requests: list[dict[str, Any]]) -> BatchInfo:
        batches = self._client.messages.batches
        body = cast(Any, requests)  # the TypedDicts of the SDK, built as plain dicts
        return _info(self._call(lambda: batches.create(requests=body), "creating a batch", idempotent=False))

    def retrieve(self, batch_id: str) -> BatchInfo:
        batches = self._client.messages.batches
        return _info(self._call(lambda: batches.retrieve(batch_id), f"batch {batch_id}"))

    def cancel(self, batch_id: str) -> BatchInfo:
        batches = self._client.messages.batches
        return _info(self._call(lambda: batches.cancel(batch_id), f"canceling batch {batch_id}"))

    def delete(self, batch_id: str) -> None:
        batches = self._client.messages.batches
        self._call(lambda: batches.delete(batch_id), f"deleting batch {batch_id}")

    def recent(self, limit: int) -> list[BatchInfo]:
        """The account's most recent batches, newest first (the SDK pages through them)."""
        batches = self._client.messages.batches

        def fetch() -> list[BatchInfo]:
            out: list[BatchInfo] = []
            for batch in batches.list(limit=min(limit, 100)):
                out.append(_info(batch))
                if len(out) >= limit:
                    break
            return out

        return self._call(fetch, "listing batches")

    def results(self, batch_id: str) -> Iterator[BatchResult]:
        """The batch's results, streamed line by line (never held whole); a download that breaks off
        raises `IncompleteError` after the lines received."""
        streaming = self._client.messages.batches.with_streaming_response
        manager = self._call(lambda: streaming.results(batch_id).__enter__(), f"results of batch {batch_id}")
        received = 0
        try:
            for line in _jsonl(manager.iter_bytes()):
                yield _result(line)
                received += 1
        except (httpx2.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IncompleteError(
                f"the results download of batch {batch_id} broke off after {received} results ({type(exc).__name__})",
                "run the same command again: the files already written are kept and skipped",
            ) from exc
        finally:
            manager.close()
