"""The sync SDK client and `stream_events`: either SDK method -> cvstream events, with cvstream's retries."""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx2
from anthropic import Stream

from cvstream.errors import CvstreamError, redact
from cvstream.events import (
    Event,
    FinalUsage,
    MessageStarted,
    MessageStopped,
    RawEvent,
    Retrying,
    SseDecoder,
    TextDelta,
)
from cvstream.source.connection import Connection, Request
from cvstream.source.failures import error_event_error, helper_unreadable, malformed, plan_retry, truncated
from cvstream.source.wire import answer_errors, from_helper, translate, usage


class _Tap:
    """The raw events of one response, decoded by cvstream from the bytes the SDK reads."""

    def __init__(self) -> None:
        self.seen: deque[tuple[str, str]] = deque()
        self._decoder = SseDecoder()
        self._inflate: Any = None

    def feed(self, chunk: bytes) -> None:
        if self._inflate is not None:
            chunk = self._inflate.decompress(chunk)
        self.seen.extend(self._decoder.feed(chunk))

    def attach(self, response: httpx2.Response) -> None:
        if response.headers.get("content-encoding", "identity") in ("gzip", "deflate"):
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib, detected from the header
        response.stream = _TappedStream(response.stream, self)


class _TappedStream(httpx2.SyncByteStream):
    def __init__(self, inner: Any, tap: _Tap) -> None:
        self._inner, self._tap = inner, tap

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._tap.feed(chunk)
            yield chunk

    def close(self) -> None:
        self._inner.close()


class Client(anthropic.Anthropic):
    """The SDK client, with a response hook that taps the next response of the calling thread."""

    def __init__(self, conn: Connection) -> None:
        self._pending = threading.local()
        http_client = anthropic.DefaultHttpxClient(
            timeout=conn.timeouts(), event_hooks={"response": [self._on_response]}
        )
        super().__init__(
            api_key=conn.api_key,
            auth_token=conn.auth_token,
            base_url=conn.base_url,
            max_retries=0,  # cvstream retries itself, to announce each retry and cap retry-after
            timeout=conn.timeouts(),
            http_client=http_client,
        )

    def tap_next_response(self) -> _Tap:
        tap = _Tap()
        self._pending.tap = tap
        return tap

    def _on_response(self, response: httpx2.Response) -> None:
        tap: _Tap | None = getattr(self._pending, "tap", None)
        if tap is not None:
            self._pending.tap = None
            tap.attach(response)


def make_client(conn: Connection) -> Client:
    return Client(conn)


def stream_events(
    client: Client,
    conn: Connection,
    request: Request,
    *,
    method: str = "create",
    raw: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    on_response: Callable[[httpx2.Response], None] | None = None,
) -> Iterator[Event]:
    """The events of one answer; raises a `CvstreamError` on failure (after the events received).

    `sleep` waits between retries (a caller that cancels makes it raise); `on_response` is given the
    HTTP response once the answer begins, so another thread can close it to cancel the request.
    """
    params = request.params()
    attempt = 0
    while True:
        tap = client.tap_next_response() if method == "stream" and raw else None
        try:
            if method == "stream":
                manager = client.messages.stream(**params)
                message_stream = manager.__enter__()
                response = message_stream.response
                break
            create_stream = client.messages.create(**params, stream=True)
            response = create_stream.response
            break
        except Exception as exc:
            wait, reason = plan_retry(exc, attempt, conn, request.model)
        attempt += 1
        yield Retrying(attempt, wait, reason)
        sleep(wait)
    if on_response is not None:
        on_response(response)
    if method == "stream":
        yield from _helper_events(message_stream, tap, conn)
    else:
        yield from _create_events(create_stream, conn, raw)


def _create_events(stream: Stream[Any], conn: Connection, raw: bool) -> Iterator[Event]:
    stopped = False
    with answer_errors(conn):
        try:
            for sse in Stream.raw_events(stream.response):
                name, data = sse.event, sse.data
                # The hot path: a text delta, in a few dictionary lookups.
                if name == "content_block_delta" and not raw and data:
                    payload = json.loads(data)
                    delta = payload.get("delta") if type(payload) is dict else None
                    if type(delta) is dict and delta.get("type") == "text_delta":
                        yield TextDelta(delta["text"])
                        continue
                for event in translate(name, data, raw, conn):
                    if isinstance(event, MessageStopped):
                        stopped = True
                    yield event
        finally:
            stream.close()
    if not stopped:
        raise truncated()


def _helper_events(message_stream: Any, tap: _Tap | None, conn: Connection) -> Iterator[Event]:
    started = stopped = False
    with answer_errors(conn):
        try:
            iterator = iter(message_stream)
            while True:
                try:
                    event = next(iterator)
                except StopIteration:
                    break
                except anthropic.APIStatusError as exc:  # an `error` event (SDK 2.x: APIStatusError, status 200)
                    if tap is not None:
                        yield from _drain_raw(tap, conn)
                    raise error_event_error(exc.body, conn) from exc
                except (httpx2.HTTPError, ValueError, CvstreamError):
                    raise
                except Exception as exc:
                    if tap is not None:
                        yield from _drain_raw(tap, conn)
                    raise helper_unreadable(exc) from exc
                if tap is not None:
                    yield from _drain_raw(tap, conn)
                for item in from_helper(event):
                    started = started or isinstance(item, MessageStarted)
                    stopped = stopped or isinstance(item, MessageStopped)
                    yield item
            if tap is not None:
                yield from _drain_raw(tap, conn)
            if started:
                yield FinalUsage(usage(message_stream.get_final_message().usage))
        finally:
            message_stream.close()
    if not stopped:
        raise truncated()


def _drain_raw(tap: _Tap, conn: Connection) -> Iterator[Event]:
    """The raw events the tap decoded so far, as `RawEvent`s (an `error` event is left to the caller)."""
    while tap.seen:
        name, data = tap.seen.popleft()
        if name == "error":  # upstream error text, shown as sent but for any secret in it
            yield RawEvent(name, redact(data, conn.secrets))
            continue
        try:
            for event in translate(name, data, True, conn):
                if type(event) is RawEvent:
                    yield event
        except ValueError:
            raise malformed() from None
