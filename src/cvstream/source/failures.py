"""SDK and transport exceptions -> cvstream errors (redacted when made), and retry planning.

Errors carry structured fields (`kind`, `upstream_status`, `retry_after`, `request_id`); connection
failures are classified by the exception types in their chain, never by message text.
"""

from __future__ import annotations

import email.utils
import random
import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2

from cvstream.errors import (
    ApiError,
    AuthError,
    CvstreamError,
    IncompleteError,
    NetworkError,
    RateLimitError,
)
from cvstream.source.connection import Connection


def _api_message(exc: anthropic.APIStatusError) -> str:
    return exc.api_message or (exc.body if isinstance(exc.body, str) else "") or f"HTTP {exc.status_code}"


def status_error(
    exc: anthropic.APIStatusError, model: str, attempts: int = 1, conn: Connection | None = None
) -> CvstreamError:
    """A cvstream error for an HTTP error status (before the answer began), redacted."""
    error = _status_error(exc, model, attempts).redacted(conn.secrets if conn else ())
    error.upstream_status = exc.status_code
    error.retry_after = retry_after(exc.response.headers)
    error.request_id = exc.request_id
    if exc.status_code in (503, 529):
        error.kind = "overloaded"
    return error


def _status_error(exc: anthropic.APIStatusError, model: str, attempts: int) -> CvstreamError:
    status, message = exc.status_code, _api_message(exc)
    rid = f" (request-id {exc.request_id})" if exc.request_id else ""
    tried = f" after {attempts} attempts" if attempts > 1 else ""
    if status in (401, 403):
        what = "rejected" if status == 401 else "not allowed to do this"
        return AuthError(
            f"the API key was {what} (HTTP {status}: {message}){rid}",
            "check ANTHROPIC_API_KEY (environment or .env file) and the key's permissions",
        )
    if status == 404:
        return ApiError(
            f"model not found: {model} (HTTP 404: {message}){rid}",
            "pick another with --model (or CVSTREAM_MODEL); `cvstream config` shows the default",
        )
    if status == 413:
        return ApiError(f"the input is too large for the API (HTTP 413: {message}){rid}", "shorten the input")
    if status == 429:
        return RateLimitError(f"rate limited{tried} (HTTP 429: {message}){rid}", _retry_hint(exc))
    if status in (503, 529):
        return RateLimitError(f"the API is overloaded{tried} (HTTP {status}: {message}){rid}", _retry_hint(exc))
    if status >= 500:
        return ApiError(f"the API failed{tried} (HTTP {status}: {message}){rid}", "try again in a minute")
    return ApiError(f"the API refused the request (HTTP {status}: {message}){rid}", "check the options you passed")


def _retry_hint(exc: anthropic.APIStatusError) -> str:
    wait = retry_after(exc.response.headers)
    if wait is not None:
        return f"try again after {wait:g} s (the API's retry-after), or raise --max-retries"
    return "wait a little and try again, or raise --max-retries"


def error_event_error(body: Any, conn: Connection) -> CvstreamError:
    """A cvstream error for an SSE `error` event received mid-answer, redacted."""
    error = body.get("error") if isinstance(body, dict) else None
    kind = str(error.get("type")) if isinstance(error, dict) else "error"
    message = str(error.get("message")) if isinstance(error, dict) else str(body)
    text = f"the API sent an error mid-answer: {kind}: {message}"
    if kind == "overloaded_error":
        made: CvstreamError = RateLimitError(text, "the text so far was kept; try again in a minute", kind="overloaded")
    elif kind == "rate_limit_error":
        made = RateLimitError(text, "the text so far was kept; try again in a minute")
    else:
        made = ApiError(text, "the text so far was kept; try again")
    return made.redacted(conn.secrets)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def connection_error(exc: BaseException, conn: Connection) -> CvstreamError:
    """A cvstream error for a failure to connect, classified by the exception types in its chain."""
    url = conn.shown_url
    chain = list(_causes(exc))
    if any(isinstance(e, anthropic.APITimeoutError | httpx2.TimeoutException | TimeoutError) for e in chain):
        return NetworkError(f"timed out waiting for {url}", "check the network, or raise --timeout", kind="timeout")
    if any(isinstance(e, socket.gaierror) for e in chain):
        reason = "DNS lookup failed"
    elif any(isinstance(e, ssl.SSLError) for e in chain):
        reason = "TLS handshake failed"
    elif any(isinstance(e, ConnectionRefusedError) for e in chain):
        reason = "connection refused"
    else:
        reason = str(exc.__cause__ or exc) or "connection failed"
    error = NetworkError(f"cannot connect to {url} ({reason})", "check ANTHROPIC_BASE_URL and your network")
    return error.redacted(conn.secrets)


def malformed(detail: str = "the API sent a malformed event") -> IncompleteError:
    return IncompleteError(f"incomplete response: {detail}", "the text so far was kept; try again", kind="malformed")


def stream_error(exc: BaseException, conn: Connection) -> CvstreamError:
    """A cvstream error for a failure once the answer has begun."""
    if isinstance(exc, httpx2.TimeoutException):
        return NetworkError(
            f"the stream from {conn.shown_url} stalled (no data for {conn.timeouts().read:g} s)",
            "the text so far was kept; try again, or raise --timeout",
            kind="timeout",
        )
    if isinstance(exc, ValueError):  # json.JSONDecodeError
        return malformed()
    return IncompleteError(
        f"incomplete response: the connection was lost mid-answer ({type(exc).__name__})",
        "the text so far was kept; try again",
    )


def truncated() -> IncompleteError:
    return IncompleteError(
        "incomplete response: the stream ended before the answer was complete (no message_stop)",
        "the text so far was kept; try again",
        kind="truncated",
    )


def helper_unreadable(exc: Exception) -> IncompleteError:
    """The helper could not accumulate the stream (it broke the protocol): an incomplete response."""
    return malformed(f"the API sent a stream the SDK's helper cannot read ({type(exc).__name__})")


def retry_after(headers: Any) -> float | None:
    """Seconds the server asks us to wait (`retry-after-ms`, else `retry-after` as seconds or a date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        return max(0.0, float(email.utils.mktime_tz(parsed)) - time.time())


def _should_retry(exc: anthropic.APIStatusError) -> bool:
    header: str | None = exc.response.headers.get("x-should-retry")
    if header in ("true", "false"):
        return header == "true"
    status: int = exc.status_code
    return status in (408, 409, 429) or status >= 500


def backoff(retries_so_far: int) -> float:
    delay: float = min(0.5 * 2**retries_so_far, 8.0) * random.uniform(0.75, 1.0)
    return delay


def plan_retry(exc: Exception, attempt: int, conn: Connection, model: str) -> tuple[float, str]:
    """For a failure before the answer began: (seconds to wait, reason) if it is retried, else raise."""
    if isinstance(exc, anthropic.APIStatusError):
        error: CvstreamError = status_error(exc, model, attempt + 1, conn)
        if not _should_retry(exc) or attempt >= conn.max_retries:
            raise error from exc
        delay = retry_after(exc.response.headers)
        reason = f"HTTP {exc.status_code} {exc.type or ''}".strip()
    elif isinstance(exc, anthropic.APIConnectionError):
        error = connection_error(exc, conn)
        if attempt >= conn.max_retries:
            raise error from exc
        delay, reason = None, error.message
    else:
        raise exc
    if delay is not None and delay > conn.max_retry_wait:
        error.hint = (
            f"the API asks to retry after {delay:g} s, longer than --max-retry-wait "
            f"({conn.max_retry_wait:g} s); try again later"
        )
        raise error from exc
    return (backoff(attempt) if delay is None else delay), reason
