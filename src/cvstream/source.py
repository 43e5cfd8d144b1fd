"""The only module that imports the anthropic SDK (about 1 s): import it late, and only to send a request.

It turns either SDK streaming method into cvstream's typed events (`events.py`) and SDK or transport
exceptions into cvstream errors (`errors.py`):

- `create`: `client.messages.create(..., stream=True)`, read through the SDK's public
  `Stream.raw_events()` (server-sent events before any parsing), so nothing grows with the answer and
  `--json` sees every event as sent, pings included.
- `stream`: the `client.messages.stream()` helper; `get_final_message()` gives the final usage. A tap
  on the client's SSE decoder sees the raw events the helper drops (for `--json`), and lets cvstream
  carry on from them when the helper cannot accumulate a malformed stream.

Retries are cvstream's, not the SDK's (the client has `max_retries=0`): each one is announced as a
`Retrying` event, and a `retry-after` longer than `max_retry_wait` is refused instead of obeyed.
"""

from __future__ import annotations

import email.utils
import itertools
import json
import random
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anthropic
import anyio
import httpx2
from anthropic import Stream
from anthropic._streaming import ServerSentEvent, SSEDecoder

from cvstream.errors import (
    ApiError,
    AuthError,
    CvstreamError,
    IncompleteError,
    NetworkError,
    RateLimitError,
)
from cvstream.events import (
    BlockStarted,
    BlockStopped,
    Event,
    FinalUsage,
    MessageDelta,
    MessageStarted,
    MessageStopped,
    RawEvent,
    Retrying,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
    UsageUpdate,
    from_wire,
)

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 180.0  # a silent gap this long mid-stream is a stall (the API pings far more often)
DEFAULT_MAX_RETRIES: int = anthropic.DEFAULT_MAX_RETRIES
DEFAULT_MAX_RETRY_WAIT = 60.0

# What the helper raises when it cannot accumulate a stream that breaks the protocol
# (a message_delta without usage, a delta for a block that never started, no message_start).
_HELPER_FAILURES = (AttributeError, AssertionError, IndexError, KeyError, TypeError)


@dataclass(frozen=True, slots=True)
class Request:
    model: str
    max_tokens: int
    user: str
    system: str | None = None
    thinking: bool = False
    effort: str | None = None

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": [{"role": "user", "content": self.user}],
        }
        if self.system:
            params["system"] = self.system
        if self.thinking:
            params["thinking"] = {"type": "adaptive"}
        if self.effort:
            params["output_config"] = {"effort": self.effort}
        return params


@dataclass(frozen=True, slots=True)
class Connection:
    api_key: str | None = None
    auth_token: str | None = None
    base_url: str | None = None
    timeout: float | None = None  # connect and per-read, seconds
    max_retries: int = DEFAULT_MAX_RETRIES
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT

    @property
    def shown_url(self) -> str:
        """The base URL without any credentials in it, for messages."""
        parts = urlsplit(self.base_url or DEFAULT_BASE_URL)
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    def timeouts(self) -> httpx2.Timeout:
        if self.timeout is not None:
            return httpx2.Timeout(self.timeout, connect=self.timeout)
        return httpx2.Timeout(DEFAULT_READ_TIMEOUT, connect=DEFAULT_CONNECT_TIMEOUT)


class _Tap:
    """An SSE decoder that records every event it decodes before the SDK sees (or drops) it."""

    def __init__(self) -> None:
        self.seen: deque[ServerSentEvent] = deque()
        self.live: Iterator[ServerSentEvent] | None = None

    def iter_bytes(self, iterator: Iterator[bytes]) -> Iterator[ServerSentEvent]:
        self.live = self._tee(SSEDecoder().iter_bytes(iterator))
        return self.live

    def _tee(self, events: Iterator[ServerSentEvent]) -> Iterator[ServerSentEvent]:
        for sse in events:
            self.seen.append(sse)
            yield sse

    async def aiter_bytes(self, iterator: Any) -> Any:  # pragma: no cover - the sync client only
        raise NotImplementedError


class Client(anthropic.Anthropic):
    """The SDK client with a per-thread SSE tap (used by the `stream` method)."""

    _taps: threading.local

    def _make_sse_decoder(self) -> Any:
        tap = _Tap()
        self._taps.current = tap
        return tap

    def last_tap(self) -> _Tap:
        tap: _Tap = self._taps.current
        return tap


def make_client(conn: Connection) -> Client:
    client = Client(
        api_key=conn.api_key,
        auth_token=conn.auth_token,
        base_url=conn.base_url,
        max_retries=0,  # cvstream retries itself, to announce each retry and cap retry-after
        timeout=conn.timeouts(),
    )
    client._taps = threading.local()
    return client


# -- errors --------------------------------------------------------------------------------------------


def _api_message(exc: anthropic.APIStatusError) -> str:
    return exc.api_message or (exc.body if isinstance(exc.body, str) else "") or f"HTTP {exc.status_code}"


def status_error(exc: anthropic.APIStatusError, model: str, attempts: int = 1) -> CvstreamError:
    """A cvstream error for an HTTP error status (before the answer began)."""
    error = _status_error(exc, model, attempts)
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


def error_event_error(body: Any) -> CvstreamError:
    """A cvstream error for an SSE `error` event received mid-answer."""
    error = body.get("error") if isinstance(body, dict) else None
    kind = str(error.get("type")) if isinstance(error, dict) else "error"
    message = str(error.get("message")) if isinstance(error, dict) else str(body)
    text = f"the API sent an error mid-answer: {kind}: {message}"
    if kind in ("overloaded_error", "rate_limit_error"):
        return RateLimitError(text, "the text so far was kept; try again in a minute")
    return ApiError(text, "the text so far was kept; try again")


def connection_error(exc: BaseException, conn: Connection) -> CvstreamError:
    url = conn.shown_url
    if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
        return NetworkError(f"timed out waiting for {url}", "check the network, or raise --timeout")
    detail = str(exc.__cause__ or exc)
    lowered = detail.lower()
    if "name or service not known" in lowered or "getaddrinfo" in lowered or "nodename nor servname" in lowered:
        reason = "DNS lookup failed"
    elif "ssl" in lowered or "certificate" in lowered or "tls" in lowered:
        reason = "TLS handshake failed"
    elif "refused" in lowered:
        reason = "connection refused"
    else:
        reason = detail or "connection failed"
    return NetworkError(f"cannot connect to {url} ({reason})", "check ANTHROPIC_BASE_URL and your network")


def stream_error(exc: BaseException, conn: Connection) -> CvstreamError:
    """A cvstream error for a failure once the answer has begun."""
    if isinstance(exc, httpx2.TimeoutException):
        return NetworkError(
            f"the stream from {conn.shown_url} stalled (no data for {conn.timeouts().read:g} s)",
            "the text so far was kept; try again, or raise --timeout",
        )
    if isinstance(exc, ValueError):  # json.JSONDecodeError
        return IncompleteError(
            "incomplete response: the API sent a malformed event", "the text so far was kept; try again"
        )
    return IncompleteError(
        f"incomplete response: the connection was lost mid-answer ({type(exc).__name__})",
        "the text so far was kept; try again",
    )


# -- retries -------------------------------------------------------------------------------------------


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


# -- streaming -----------------------------------------------------------------------------------------


def _plan_retry(exc: Exception, attempt: int, conn: Connection, model: str) -> tuple[float, str]:
    """For a failure before the answer began: (seconds to wait, reason) if it is retried, else raise."""
    if isinstance(exc, anthropic.APIStatusError):
        error: CvstreamError = status_error(exc, model, attempt + 1)
        if not _should_retry(exc) or attempt >= conn.max_retries:
            raise error from exc
        delay = retry_after(exc.response.headers)
        reason = f"HTTP {exc.status_code} {exc.type or ''}".strip()
    elif isinstance(exc, anthropic.APIConnectionError):
        error = connection_error(exc, conn)
        if attempt >= conn.max_retries:
            raise error from exc
        delay, reason = None, error.message
    elif isinstance(exc, TypeError):  # SDK 2.x: no credentials found (callers check first; keep the promise anyway)
        raise AuthError("no API key found", "set ANTHROPIC_API_KEY or use --offline") from exc
    else:
        raise exc
    if delay is not None and delay > conn.max_retry_wait:
        error.hint = (
            f"the API asks to retry after {delay:g} s, longer than --max-retry-wait "
            f"({conn.max_retry_wait:g} s); try again later"
        )
        raise error from exc
    return (backoff(attempt) if delay is None else delay), reason


def stream_events(
    client: Client,
    conn: Connection,
    request: Request,
    *,
    method: str = "create",
    raw: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Event]:
    """The events of one answer; raises a `CvstreamError` on failure (after the events received)."""
    params = request.params()
    attempt = 0
    while True:
        try:
            if method == "stream":
                manager = client.messages.stream(**params)
                message_stream = manager.__enter__()
                break
            create_stream = client.messages.create(**params, stream=True)
            break
        except Exception as exc:
            wait, reason = _plan_retry(exc, attempt, conn, request.model)
        attempt += 1
        yield Retrying(attempt, wait, reason)
        sleep(wait)

    if method == "stream":
        yield from _helper_events(message_stream, client.last_tap(), conn, raw)
    else:
        yield from _create_events(create_stream, conn, raw)


@contextmanager
def _answer_errors(conn: Connection) -> Iterator[None]:
    """Failures once the answer has begun (transport errors, malformed JSON) -> cvstream errors."""
    try:
        yield
    except (httpx2.HTTPError, ValueError) as exc:
        raise stream_error(exc, conn) from exc


def _translate_sse(sse: ServerSentEvent, raw: bool) -> Iterator[Event]:
    """Raw SSE -> events, mirroring what the SDK's Stream does (nameless and empty events skipped)."""
    name = sse.event
    if name is None or not sse.data:
        return
    if name == "error":
        if raw:
            yield RawEvent(name, sse.data)
        try:
            body = json.loads(sse.data)
        except ValueError:
            body = sse.data
        raise error_event_error(body)
    payload = json.loads(sse.data)
    if raw:
        yield RawEvent(name, sse.data)
    if name != "ping":
        yield from from_wire(payload)


def _create_events(stream: Stream[Any], conn: Connection, raw: bool) -> Iterator[Event]:
    stopped = False
    with _answer_errors(conn):
        try:
            for sse in Stream.raw_events(stream.response):
                name = sse.event
                # The hot path: a text delta, in a few dictionary lookups.
                if name == "content_block_delta" and not raw and sse.data:
                    payload = json.loads(sse.data)
                    delta = payload.get("delta") or {}
                    if delta.get("type") == "text_delta":
                        yield TextDelta(delta["text"])
                    else:
                        yield from from_wire(payload)
                    continue
                for event in _translate_sse(sse, raw):
                    if isinstance(event, MessageStopped):
                        stopped = True
                    yield event
        finally:
            stream.close()
    if not stopped:
        raise _truncated()


def _truncated() -> IncompleteError:
    return IncompleteError(
        "incomplete response: the stream ended before the answer was complete (no message_stop)",
        "the text so far was kept; try again",
    )


def _usage(usage: Any) -> UsageUpdate:
    if usage is None:
        return UsageUpdate()
    return UsageUpdate(
        input_tokens=getattr(usage, "input_tokens", None),
        output_tokens=getattr(usage, "output_tokens", None),
        cache_read_tokens=getattr(usage, "cache_read_input_tokens", None),
        cache_write_tokens=getattr(usage, "cache_creation_input_tokens", None),
    )


def _from_helper(event: Any) -> Iterator[Event]:
    """One helper event (an SDK model) -> internal events; derived helper events are skipped."""
    kind = event.type
    if kind == "content_block_delta":
        delta = event.delta
        if delta.type == "text_delta":
            yield TextDelta(delta.text)
        elif delta.type == "thinking_delta":
            yield ThinkingDelta(delta.thinking)
        elif delta.type == "input_json_delta":
            yield ToolInputDelta(event.index, delta.partial_json)
    elif kind == "content_block_start":
        block = event.content_block
        name = getattr(block, "name", None)
        yield BlockStarted(event.index, str(block.type), name if isinstance(name, str) else None)
    elif kind == "content_block_stop":
        yield BlockStopped(event.index)
    elif kind == "message_start":
        message = event.message
        yield MessageStarted(str(message.model or ""), str(message.id or ""), _usage(message.usage))
    elif kind == "message_delta":
        yield MessageDelta(event.delta.stop_reason, event.delta.stop_sequence, _usage(event.usage))
    elif kind == "message_stop":
        yield MessageStopped()


def _helper_events(message_stream: Any, tap: _Tap, conn: Connection, raw: bool) -> Iterator[Event]:
    started = stopped = helper_failed = False
    with _answer_errors(conn):
        try:
            iterator = iter(message_stream)
            while True:
                try:
                    event = next(iterator)
                except StopIteration:
                    break
                except anthropic.APIStatusError as exc:  # an `error` event (SDK 2.x: APIStatusError, status 200)
                    if raw:
                        yield from _drain_raw(tap)
                    raise error_event_error(exc.body) from exc
                except _HELPER_FAILURES:
                    # The helper cannot accumulate this stream; carry on from the raw events it has not shown.
                    helper_failed = True
                    break
                if raw:
                    yield from _drain_raw(tap)
                else:
                    tap.seen.clear()  # holds only the events behind this one: nothing grows with the answer
                for item in _from_helper(event):
                    started = started or isinstance(item, MessageStarted)
                    stopped = stopped or isinstance(item, MessageStopped)
                    yield item
            if helper_failed:
                pending = list(tap.seen)
                tap.seen.clear()
                for sse in itertools.chain(pending, tap.live or ()):
                    tap.seen.clear()
                    for item in _translate_sse(sse, raw):
                        stopped = stopped or isinstance(item, MessageStopped)
                        yield item
            elif raw:
                yield from _drain_raw(tap)
            if started and not helper_failed:
                yield FinalUsage(_usage(message_stream.get_final_message().usage))
        finally:
            message_stream.close()
    if not stopped:
        raise _truncated()


def _drain_raw(tap: _Tap) -> Iterator[Event]:
    while tap.seen:
        sse = tap.seen.popleft()
        if sse.event is not None and sse.data:
            yield RawEvent(sse.event, sse.data)


# -- the async client (`cvstream serve`) ----------------------------------------------------------------


def make_async_client(conn: Connection) -> anthropic.AsyncAnthropic:
    """One client for the server's whole life (its connection pool is shared by every request)."""
    return anthropic.AsyncAnthropic(
        api_key=conn.api_key,
        auth_token=conn.auth_token,
        base_url=conn.base_url,
        max_retries=0,
        timeout=conn.timeouts(),
    )


async def astream_events(
    client: anthropic.AsyncAnthropic, conn: Connection, request: Request, *, method: str = "create"
) -> AsyncGenerator[Event, None]:
    """`stream_events` for the async client: the same events, errors and retries (no raw events)."""
    params = request.params()
    attempt = 0
    while True:
        try:
            if method == "stream":
                message_stream = await client.messages.stream(**params).__aenter__()
                break
            create_stream = await client.messages.create(**params, stream=True)
            break
        except Exception as exc:
            wait, reason = _plan_retry(exc, attempt, conn, request.model)
        attempt += 1
        yield Retrying(attempt, wait, reason)
        await anyio.sleep(wait)
    if method == "stream":
        async for event in _ahelper_events(message_stream, conn):
            yield event
    else:
        async for event in _acreate_events(create_stream, conn):
            yield event


async def _acreate_events(stream: anthropic.AsyncStream[Any], conn: Connection) -> AsyncIterator[Event]:
    stopped = False
    with _answer_errors(conn):
        try:
            async for sse in anthropic.AsyncStream.raw_events(stream.response):
                for event in _translate_sse(sse, False):
                    stopped = stopped or isinstance(event, MessageStopped)
                    yield event
        finally:
            await stream.close()
    if not stopped:
        raise _truncated()


async def _ahelper_events(message_stream: Any, conn: Connection) -> AsyncIterator[Event]:
    started = stopped = False
    with _answer_errors(conn):
        try:
            async for event in message_stream:
                for item in _from_helper(event):
                    started = started or isinstance(item, MessageStarted)
                    stopped = stopped or isinstance(item, MessageStopped)
                    yield item
            if started:
                yield FinalUsage(_usage((await message_stream.get_final_message()).usage))
        except anthropic.APIStatusError as exc:
            raise error_event_error(exc.body) from exc
        except _HELPER_FAILURES as exc:
            raise IncompleteError("incomplete response: the API sent a malformed stream", "try again") from exc
        finally:
            await message_stream.close()
    if not stopped:
        raise _truncated()
