"""The ASGI app: one log line per request, the guards, the three routes, and the streamed routes' limits.

Plain ASGI rather than a framework: every answer, errors included, is JSON written here (no plain-text
404/405/500, no redirect for a trailing slash), and nothing buffers a stream.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from cvstream import __version__
from cvstream.serve.body import BadRequest, ClientGone, RequestRules, is_json, parse_object, read_body
from cvstream.serve.guards import Guards, HostCheck
from cvstream.serve.http import (
    RECORD,
    Message,
    Receive,
    Record,
    Scope,
    Send,
    error_body,
    header,
    record_of,
    refuse,
    send_json,
)
from cvstream.serve.log import RequestLog, one_line
from cvstream.serve.stream import Exchange
from cvstream.source import Connection, make_async_client
from cvstream.source import Request as ApiRequest

if TYPE_CHECKING:
    from cvstream.history.store import Recorder


@dataclass
class ServeConfig:
    conn: Connection
    model: str
    max_tokens: int = 1024
    method: str = "create"
    token: str | None = None
    cors_origins: list[str] = field(default_factory=list)
    max_body: int = 1024 * 1024
    max_tokens_cap: int = 8192
    log: TextIO = sys.stderr
    host: str = "127.0.0.1"  # the bound address (for the Host check)
    allowed_hosts: list[str] = field(default_factory=list)
    allow_models: list[str] = field(default_factory=list)  # model ids
    aliases: Mapping[str, str] = field(default_factory=dict)  # a request's short name -> its id (models.alias_table)
    max_concurrent: int = 64
    client_timeout: float = 60.0
    waiting_after: float = 5.0
    recorder: Recorder | None = None  # `serve --log`: answers go to the history (off by default)


def log_line(record: Record) -> str:
    head = f"{record.method} {record.path} {record.status}"
    summary = record.summary
    if summary is None:
        return f"{head} total={time.monotonic() - record.started:.2f}s {record.outcome}"
    u = summary.usage
    ttft = f"{summary.ttft:.2f}s" if summary.ttft is not None else "-"
    total = f"{summary.duration:.2f}s" if summary.duration is not None else "-"
    return f"{head} in={u.input_tokens} out={u.output_tokens} ttft={ttft} total={total} {record.outcome}"


class StreamRoutes:
    """`POST /api/ai/stream` and `POST /api/enhance`: the checks, the concurrency limit, then an `Exchange`."""

    def __init__(self, config: ServeConfig, log: RequestLog) -> None:
        self.config, self.log = config, log
        self.client = make_async_client(config.conn)
        self.secrets = [s for s in (config.conn.api_key, config.conn.auth_token, config.token) if s]
        self.rules = RequestRules(
            config.model, config.max_tokens, config.method, config.max_tokens_cap, config.allow_models, config.aliases
        )
        self.exchanges: set[Exchange] = set()
        self.active = 0
        self.stopping = False

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_json(header(scope, b"content-type")):
            message = "the body must be JSON, sent with Content-Type: application/json"
            await refuse(scope, send, 415, "unsupported_media_type", message)
            return
        if self.stopping:
            await refuse(scope, send, 503, "shutting_down", "the server is shutting down", [(b"retry-after", b"5")])
            return
        if self.active >= self.config.max_concurrent:
            message = f"this server is answering its limit of {self.config.max_concurrent} streams; try again shortly"
            await refuse(scope, send, 503, "too_many_streams", message, [(b"retry-after", b"1")])
            return
        self.active += 1
        try:
            await self._handle(scope, receive, send)
        finally:
            self.active -= 1

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        record = record_of(scope)
        build: Callable[..., tuple[ApiRequest, str]] = (
            self.rules.enhance if scope["path"] == "/api/enhance" else self.rules.ai_stream
        )
        try:
            request, method = build(parse_object(await read_body(scope, receive, self.config.max_body)))
        except BadRequest as exc:
            await refuse(scope, send, exc.status, exc.kind, exc.message)
            return
        except ClientGone:
            record.status, record.outcome = 499, "client-gone"
            return
        if self.stopping:  # the grace ended while the body was arriving: no new upstream request now
            await refuse(scope, send, 503, "shutting_down", "the server is shutting down", [(b"retry-after", b"5")])
            return
        await Exchange(self, record, receive, send, request, method).run()

    def stop_all(self) -> None:
        """The shutdown grace is over: end every stream now (each gets a clean end), refuse new ones."""
        self.stopping = True
        for exchange in list(self.exchanges):
            exchange.stop("shutdown")


ROUTES = {"/api/ai/stream": "POST", "/api/enhance": "POST", "/healthz": "GET"}


class App:
    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.log = RequestLog(config.log, secrets=(config.conn.api_key, config.conn.auth_token, config.token))
        self.streams = StreamRoutes(config, self.log)
        hosts = HostCheck(config.host, config.allowed_hosts)
        self.guarded = Guards(self._route, hosts, config.cors_origins, config.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no websockets; lifespan is off
            return
        record = scope[RECORD] = Record(scope["method"], one_line(scope["path"], 200))
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                record.status = int(message["status"])
            await send(message)

        try:
            await self.guarded(scope, receive, tracked)
        except Exception as exc:  # a bug: one log line, a JSON 500, never a traceback to the client
            record.outcome = f"internal error: {type(exc).__name__}: {one_line(str(exc))}"
            if not started:
                await send_json(tracked, 500, error_body("internal_error", "internal error; see the server's log"))
        finally:
            self.log.line(log_line(record))

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        allowed = ROUTES.get(path)
        if allowed is None:
            await refuse(scope, send, 404, "not_found", f"no such route: {one_line(path, 100)}")
        elif method != allowed:
            message = f"{one_line(method, 20)} is not allowed on {path} (use {allowed})"
            await refuse(scope, send, 405, "method_not_allowed", message, [(b"allow", allowed.encode())])
        elif path == "/healthz":
            await send_json(send, 200, {"status": "ok", "version": __version__})
        else:
            await self.streams.handle(scope, receive, send)

    async def aclose(self) -> None:
        await self.streams.client.close()

    def close(self) -> None:
        self.log.close()


def create_app(config: ServeConfig) -> App:
    return App(config)
