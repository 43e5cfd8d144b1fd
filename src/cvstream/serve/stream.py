"""One streamed answer: the upstream events in, SSE frames out, with every way it can end handled.

Three tasks share one cancel scope: a producer reads the upstream events into a small buffer, a
watcher waits for the client's `http.disconnect`, and the responder writes frames. Whatever ends the
exchange (the answer's end, an error, the client leaving, a client that stops reading, the server's
shutdown) cancels the others, and the upstream request is closed at once, shielded from that
cancellation; pending retries die with the producer.

- Upstream failures before the answer's first event get a real status and a JSON error body.
- No event after `waiting_after` s (5): the SSE headers and a `: waiting` comment go out (proxies and
  browsers keep waiting); a failure after that is reported in the stream.
- A failure in the stream: a `: error <message>` comment, then a final
  `data: {"text": "", "error": {"type", "message"}}` event, and no `[DONE]`.
- Events that arrive together (one upstream chunk) are written in one send.
- With `serve --log`, the answer is recorded in the history as its events arrive (an observer, as in the
  CLI's run path); without it nothing is: the texts are the server's users', not the operator's.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from cvstream.errors import AuthError, CvstreamError, IncompleteError, Interrupted, NetworkError
from cvstream.events import Event, Retrying, TextDelta
from cvstream.serve.http import Headers, Receive, Record, Send, error_body, send_json
from cvstream.sinks.sse import DONE, comment_frame, text_frame
from cvstream.source import Request as ApiRequest
from cvstream.source import astream_events
from cvstream.usage import Summary

if TYPE_CHECKING:
    from cvstream.history.store import Recorder, Recording
    from cvstream.serve.app import StreamRoutes

Item = Event | CvstreamError
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def classify(error: CvstreamError) -> tuple[int, str, Headers]:
    """The HTTP status, error type and headers for an upstream failure (from its structured fields)."""
    retry: Headers = []
    if error.retry_after is not None:
        retry = [(b"retry-after", str(max(1, round(error.retry_after))).encode())]
    if error.kind == "rate_limited":
        return 429, "rate_limited", retry
    if error.kind == "overloaded":
        return 503, "overloaded", retry
    if isinstance(error, AuthError):
        return 502, "upstream_authentication_error", []
    if error.upstream_status in (400, 404, 413):
        return error.upstream_status, "upstream_request_error", []
    if error.kind == "timeout":
        return 504, "upstream_timeout", []
    if isinstance(error, NetworkError):
        return 502, "upstream_unreachable", []
    if isinstance(error, IncompleteError):  # truncated, reset or malformed
        return 502, "upstream_incomplete", []
    return 502, "upstream_error", []


def public_message(error: CvstreamError) -> str:
    if isinstance(error, AuthError):  # the upstream's words about the server's own key are for its log only
        return "the server's API key was rejected upstream"
    return error.message


def error_frame(kind: str, message: str) -> bytes:
    """The stream's last event after a failure: the app's loop appends "" and reads on; a careful client sees
    `error`."""
    return b"data: " + json.dumps({"text": "", "error": {"type": kind, "message": message}}).encode() + b"\n\n"


def _usage_json(summary: Summary) -> dict[str, Any]:
    data = summary.as_json()
    data.pop("type")
    return data


class Exchange:
    def __init__(
        self, routes: StreamRoutes, record: Record, receive: Receive, send: Send, request: ApiRequest, method: str
    ) -> None:
        self.routes, self.config = routes, routes.config
        self.record, self.receive, self.send = record, receive, send
        self.request, self.method = request, method
        self.summary = record.summary = Summary(started_at=time.monotonic())
        self.cancel = anyio.CancelScope()
        self.arrived = anyio.Event()  # the first upstream event (or failure) is in the buffer
        self.started = False  # the SSE headers were sent
        self.finished = False  # the last frame is being sent: nothing can stop it any more
        self.reason: str | None = None  # what stopped it early: client-gone, client-timeout, shutdown
        self.blocked_since: float | None = None  # when the send in progress began
        self.failure: CvstreamError | None = None  # the upstream's, if it failed
        self.recording = _recording(self.config.recorder, record.path, request, method)

    def stop(self, reason: str) -> None:
        if not self.finished and self.reason is None:
            self.reason = reason
            self.cancel.cancel()

    async def run(self) -> None:
        events = astream_events(self.routes.client, self.config.conn, self.request, method=self.method)
        items_in, items = anyio.create_memory_object_stream[Item](max_buffer_size=256)
        self.routes.exchanges.add(self)
        try:
            with self.cancel:
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(self._watch_client)
                    tasks.start_soon(self._watch_reader)
                    tasks.start_soon(self._produce, events, items_in)
                    await self._respond(items)
                    tasks.cancel_scope.cancel()
        finally:
            self.routes.exchanges.discard(self)
            items.close()
            with anyio.CancelScope(shield=True):
                await events.aclose()  # closes the upstream request now, even when the task is cancelled
                await self._after_stop()
            self.summary.ended_at = self.summary.ended_at or time.monotonic()
            if self.recording is not None:
                stopped = Interrupted(self.reason) if self.reason else None
                self.recording.end(self.summary, self.failure or stopped)

    async def _watch_client(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass
        if not self.finished:
            self.stop("client-gone")

    async def _produce(self, events: AsyncGenerator[Event, None], out: MemoryObjectSendStream[Item]) -> None:
        with out:
            try:
                async for event in events:
                    if type(event) is Retrying:
                        self.routes.log.line(f"{self.record.method} {self.record.path} {event.describe()}")
                        continue
                    if self.recording is not None:  # as it arrives, even if the client never reads it
                        self.recording.event(event, time.monotonic())
                    await _put(out, event)
                    if not self.arrived.is_set():
                        self.arrived.set()
            except CvstreamError as error:
                self.failure = error.redacted(self.routes.secrets)
                await _put(out, self.failure)
            finally:
                self.arrived.set()

    async def _respond(self, items: MemoryObjectReceiveStream[Item]) -> None:
        while not self.arrived.is_set():
            with anyio.move_on_after(self.config.waiting_after):
                await self.arrived.wait()
            if not self.arrived.is_set():
                await self._write(b": waiting\n\n")
        item: Item | None = await self._next(items)
        if isinstance(item, CvstreamError) and not self.started:
            status, kind, headers = classify(item)
            self.record.outcome = f"error: {item.message}"
            self.finished = True
            await send_json(self.send, status, error_body(kind, public_message(item)), headers)
            return
        while True:
            batch = bytearray()
            while item is not None:  # every event already buffered goes into one write
                if isinstance(item, CvstreamError):
                    await self._fail(batch, item)
                    return
                self.summary.fold(item, time.monotonic())
                if type(item) is TextDelta and item.text:
                    batch += text_frame(item.text)
                try:
                    item = items.receive_nowait()
                except anyio.WouldBlock:
                    break
                except anyio.EndOfStream:
                    item = None
            if item is None:
                self.summary.ended_at = time.monotonic()
                batch += comment_frame("usage", _usage_json(self.summary)) + DONE
                self.finished = True
                await self._write(batch, more=False)
                return
            if batch:
                await self._write(batch)
            item = await self._next(items)

    @staticmethod
    async def _next(items: MemoryObjectReceiveStream[Item]) -> Item | None:
        try:
            return await items.receive()
        except anyio.EndOfStream:
            return None

    async def _fail(self, batch: bytearray, error: CvstreamError) -> None:
        _, kind, _ = classify(error)
        message = public_message(error)
        self.record.outcome = f"error: {error.message}"
        self.finished = True
        await self._write(batch + comment_frame("error", message) + error_frame(kind, message), more=False)

    async def _write(self, data: bytes | bytearray, more: bool = True) -> None:
        """Send body bytes (the SSE headers first); a client that accepts nothing for --client-timeout s is
        dropped."""
        self.blocked_since = time.monotonic()  # (`_watch_reader` drops the client if this send never returns)
        if not self.started:
            self.started = True
            await self.send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        await self.send({"type": "http.response.body", "body": bytes(data), "more_body": more})
        self.blocked_since = None

    async def _watch_reader(self) -> None:
        """One timer per stream rather than one per write: a send blocked for --client-timeout s (the client
        accepts no bytes) ends the exchange."""
        limit = self.config.client_timeout
        while True:
            await anyio.sleep(limit / 4)
            since = self.blocked_since
            if since is not None and time.monotonic() - since >= limit:
                self.finished = False
                self.stop("client-timeout")
                return

    async def _after_stop(self) -> None:
        """After an early stop: the log's outcome, and for a shutdown a clean end for the client."""
        if self.reason is None:
            return
        self.record.outcome = self.reason
        if self.reason == "client-gone" and not self.started:
            self.record.status = 499  # nginx's "client closed request": nothing was sent
        if self.reason != "shutdown":
            return
        message = "the server is shutting down"
        with anyio.move_on_after(1):
            if self.started:
                body = comment_frame("error", "server shutting down") + error_frame("shutting_down", message)
                await self.send({"type": "http.response.body", "body": body, "more_body": False})
            else:
                headers = [(b"retry-after", b"5"), (b"connection", b"close")]
                await send_json(self.send, 503, error_body("shutting_down", message + "; try again shortly"), headers)


def _recording(recorder: Recorder | None, path: str, request: ApiRequest, method: str) -> Recording | None:
    """With `serve --log`, the answer's row in the history (command `serve`, the route as its label)."""
    if recorder is None:
        return None
    from cvstream.history.store import AnswerMeta

    meta = AnswerMeta.of(request.params(), conversation_id=None, command="serve", label=path, method=method)
    return recorder.recording(meta)


async def _put(out: MemoryObjectSendStream[Item], item: Item) -> None:
    """`out.send(item)` without its checkpoint when there is room: the events of one upstream chunk are then
    all buffered before the writer runs, and go out in one write."""
    try:
        out.send_nowait(item)
    except anyio.WouldBlock:
        await out.send(item)
