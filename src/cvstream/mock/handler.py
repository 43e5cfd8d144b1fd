"""The request handler: routes, the Messages API with its faults and pacing, chunked SSE writing."""

from __future__ import annotations

import json
import select
import socket
import struct
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

from cvstream.mock import batches, caching, models_api, replies
from cvstream.mock.replies import Frame
from cvstream.mock.respond import send_json
from cvstream.mock.state import HTTP_FAULTS, STREAM_FAULTS, ClientGone, RequestRecord, State

_COALESCE_BYTES = 16 * 1024


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cvstream-mock"
    state: State  # set on the subclass made per server

    # -- plumbing -----------------------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        # SSE goes out in many small writes: without this, each kept-alive request waits ~40 ms (Nagle
        # against the client's delayed ACK)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.state.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        self.state.connections.discard(self.connection)
        self.state.changed()

    def log_message(self, format: str, *args: Any) -> None:  # the default logs every line; we log one per request
        pass

    def _log(self, record: RequestRecord, started: float, extra: str = "") -> None:
        if self.state.log is None:
            return
        elapsed = time.monotonic() - started
        line = (
            f"{record.method} {record.path} {record.status} {record.outcome} deltas={record.deltas_sent} {elapsed:.2f}s"
        )
        print(line + (f" {extra}" if extra else ""), file=self.state.log, flush=True)

    def _send_json(self, status: int, body: bytes, request_id: str, headers: dict[str, str] | None = None) -> None:
        send_json(self, status, body, request_id, headers)

    def _write_chunk(self, data: bytes) -> None:
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except OSError as exc:
            raise ClientGone from exc

    def _end_chunks(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError as exc:
            raise ClientGone from exc

    def _client_closed(self, timeout: float) -> bool:
        """Wait up to `timeout` s; True if the client closed its side meanwhile."""
        try:
            readable, _, _ = select.select([self.connection], [], [], timeout)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _hold(self) -> None:
        """Keep the connection open, sending nothing, until the client leaves or the server stops."""
        while not self.state.stop.is_set():
            if self._client_closed(0.05):
                return

    def _reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0)."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    # -- routes -------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        if batches.owns(self.path):
            return self._batches("GET")
        if models_api.handles("GET", self.path):
            return self._models_api("GET")
        self._not_found()

    def _models_api(self, method: str) -> None:
        """Models and count_tokens (answered by mock/models_api.py), recorded and logged like any request."""
        started, request_id, config = time.monotonic(), _request_id(), self.state.config
        record = RequestRecord(method, self.path, {k.lower(): v for k, v in self.headers.items()})
        status, body = models_api.answer(
            method, self.path, self._drain_body(), record.headers, request_id, config.models, config.models_page_max
        )
        record.status, record.outcome = status, "complete"
        with self.state.cond:  # recorded before the reply leaves, so a client that has it sees the record
            self.state.records.append(record)
            self.state.cond.notify_all()
        self._send_json(status, body, request_id)
        self._log(record, started)

    def do_DELETE(self) -> None:
        if batches.owns(self.path):
            return self._batches("DELETE")
        self._not_found()

    def _batches(self, method: str) -> None:
        """The Message Batches routes: mock/batches.py answers them."""
        started, state, record = time.monotonic(), self.state, RequestRecord(method, self.path, {})
        with state.cond:
            state.records.append(record)
        fault = HTTP_FAULTS.get(state.take_fault() or "") if state.config.fault in HTTP_FAULTS else None
        try:
            assert state.batches is not None
            record.status = batches.handle(self, state.batches, method, self._drain_body(), _request_id(), fault)
        except OSError:
            record.outcome, self.close_connection = "client closed", True
        finally:
            record.outcome = "complete" if record.outcome == "open" else record.outcome
            state.changed()
            self._log(record, started)

    def _not_found(self) -> None:
        request_id = _request_id()
        body = replies.error_body("not_found_error", f"Not found: {self.command} {self.path}", request_id)
        self._drain_body()
        self._send_json(404, body, request_id)

    def _drain_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def do_POST(self) -> None:
        if batches.owns(self.path):
            return self._batches("POST")
        if models_api.handles("POST", self.path):
            return self._models_api("POST")
        if not self.path.split("?", 1)[0].endswith("/v1/messages"):
            self._not_found()
            return
        started = time.monotonic()
        state = self.state
        record = RequestRecord("POST", self.path, {k.lower(): v for k, v in self.headers.items()})
        with state.cond:
            state.records.append(record)
            state.cond.notify_all()  # a test waiting for "a request arrived" wakes now
        request_id = _request_id()
        try:
            self._messages(record, request_id)
        except ClientGone:
            record.outcome = "client closed"
            self.close_connection = True
        finally:
            if record.outcome == "open":
                record.outcome = "complete"
            state.changed()
            self._log(record, started, f"model={(record.body or {}).get('model')}")

    def _error(
        self, record: RequestRecord, status: int, kind: str, message: str, request_id: str, **headers: str
    ) -> None:
        record.status = status
        self._send_json(status, replies.error_body(kind, message, request_id), request_id, headers)

    def _messages(self, record: RequestRecord, request_id: str) -> None:
        state, config = self.state, self.state.config
        raw = self._drain_body()
        headers = record.headers
        if not (headers.get("x-api-key") or headers.get("authorization", "").startswith("Bearer ")):
            self._error(record, 401, "authentication_error", "x-api-key header is required", request_id)
            return
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            self._error(record, 400, "invalid_request_error", "request body is not valid JSON", request_id)
            return
        record.body = body
        for name in ("model", "max_tokens", "messages"):
            if name not in body:
                self._error(record, 400, "invalid_request_error", f"{name}: Field required", request_id)
                return
        model = str(body["model"])
        fault = state.take_fault()
        if fault in HTTP_FAULTS:
            status, kind, message = HTTP_FAULTS[fault]
            extra = {"retry-after": _seconds(config.retry_after)} if status in (429, 500, 529) else {}
            record.outcome = f"fault:{fault}"
            self._error(record, status, kind, message.format(model=model) + self._echoed(), request_id, **extra)
            return
        if fault == "slow_headers":
            record.outcome = f"fault:{fault}"
            self._hold()
            self.close_connection = True
            return

        message_id = "msg_mock_" + uuid.uuid4().hex[:20]
        with state.cond:
            cache = caching.cache_use(body, state.prompt_cache, time.monotonic())
        input_tokens = replies.estimate_tokens(replies.request_text(body))
        if cache.total:  # input_tokens counts only what was neither read from nor written to the cache
            input_tokens = max(1, input_tokens - cache.total)
        max_tokens = int(body["max_tokens"]) if isinstance(body["max_tokens"], int) else 1024
        text = (
            config.text
            if config.text is not None
            else replies.reply_text(
                body, headers.get("x-stainless-helper-method"), echo=config.echo, enhance=config.enhance
            )
        )
        if not body.get("stream"):
            if config.transcript is not None:
                text = replies.transcript_text(replies.parse_transcript(config.transcript))
            record.status = 200
            reply = replies.message_body(
                text=text,
                model=model,
                message_id=message_id,
                input_tokens=input_tokens,
                max_tokens=max_tokens,
                stop_reason=config.stop_reason,
                cache=cache,
            )
            self._send_json(200, reply, request_id)
            return
        if config.transcript is not None:
            frames = replies.parse_transcript(config.transcript)
        else:
            thinking = "Let me look at what this request carries." if body.get("thinking") else None
            frames = replies.build_stream(
                text=text,
                model=model,
                message_id=message_id,
                input_tokens=input_tokens,
                max_tokens=max_tokens,
                thinking=thinking,
                stop_reason=config.stop_reason,
                cache=cache,
            )
        self._stream(record, frames, request_id, fault)

    def _stream(self, record: RequestRecord, frames: list[Frame], request_id: str, fault: str | None) -> None:
        config = self.state.config
        record.status = 200
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("cache-control", "no-cache")
        self.send_header("request-id", request_id)
        self.end_headers()
        interval = 1.0 / config.tokens_per_second if config.tokens_per_second > 0 else 0.0
        paced = interval > 0 or config.first_token_ms > 0
        pending = bytearray()
        deltas = 0
        next_at = 0.0

        def flush() -> None:
            if not pending:
                return
            if config.chunk_bytes > 0:
                for i in range(0, len(pending), config.chunk_bytes):
                    self._write_chunk(bytes(pending[i : i + config.chunk_bytes]))
            else:
                self._write_chunk(bytes(pending))
            pending.clear()

        for frame in frames:
            at_end = b'"message_delta"' in frame.data or b'"message_stop"' in frame.data
            if fault in STREAM_FAULTS and ((frame.is_text_delta and deltas >= config.fault_after) or at_end):
                flush()
                record.deltas_sent = deltas
                record.outcome = f"fault:{fault}"
                self.state.changed()  # a test waiting for "the fault began" wakes now
                self._fault(fault)
                return
            if frame.is_text_delta:
                now = time.monotonic()
                if deltas == 0:
                    next_at = now + config.first_token_ms / 1000.0
                if paced and next_at > now:
                    flush()
                    if self.state.stop.wait(next_at - now):
                        return
                next_at += interval
                deltas += 1
                record.deltas_sent = deltas
            pending += frame.data
            if paced or config.chunk_bytes > 0 or len(pending) >= _COALESCE_BYTES:
                flush()
        flush()
        self._end_chunks()

    def _echoed(self) -> str:
        """With --echo-key: the credentials this request carried, as a proxy that echoes requests would add."""
        if not self.state.config.echo_key:
            return ""
        return f" (x-api-key: {self.headers.get('x-api-key')}; authorization: {self.headers.get('authorization')})"

    def _fault(self, fault: str) -> None:
        if fault == "error_event":
            self._write_chunk(replies.error_event("overloaded_error", "Overloaded" + self._echoed()).data)
            self._end_chunks()
        elif fault == "truncate":
            self._end_chunks()
        elif fault == "malformed":
            self._write_chunk(b'event: content_block_delta\ndata: {"type": "content_block_delta", "delta": {\n\n')
            self._end_chunks()
        elif fault == "reset":
            self._reset()
        elif fault == "stall":
            self._hold()
            self.close_connection = True


def _request_id() -> str:
    return "req_mock_" + uuid.uuid4().hex[:24]


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
