"""`cvstream serve`: the web app's streaming route (Starlette on uvicorn, the SDK's async client).

Shares prompt building (`prompt.py`), the SDK module (`source.astream_events`) and the SSE framing
(`sinks/sse.py`) with the CLI; only the sink differs. Imported only by the `serve` command, so no
other command pays for the server stack.

- `POST /api/ai/stream` `{"prompt", "system"?, "model"?, "max_tokens"?, "method"?}` and
  `POST /api/enhance` `{"bullets": [...], "job"?}` answer `text/event-stream`: `data: {"text": ...}`
  per text delta, a `: usage {...}` comment, then `data: [DONE]`.
- The upstream stream is opened and its first event read before the 200 is sent, so failures before
  the answer get a real status and a JSON error body; failures during it end the stream without
  `[DONE]`, after a `: error ...` comment.
- A client that goes away cancels the response task; the upstream request is closed at once, shielded
  from that cancellation.
"""

from __future__ import annotations

import hmac
import json
import socket
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from cvstream import __version__
from cvstream.config import METHODS
from cvstream.errors import AuthError, CvstreamError, ExitStatus, NetworkError
from cvstream.events import Event, Retrying, TextDelta
from cvstream.prompt import ENHANCE_SYSTEM, enhance_message, parse_bullets
from cvstream.sinks.sse import DONE, comment_frame, text_frame
from cvstream.source import Connection, astream_events, make_async_client
from cvstream.source import Request as ApiRequest
from cvstream.usage import Summary

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


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


class BadRequest(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def error_response(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status, headers=headers)


def upstream_response(error: CvstreamError) -> JSONResponse:
    """The HTTP answer for a failure before the first byte of the answer."""
    headers = {"retry-after": f"{max(1, round(error.retry_after))}"} if error.retry_after is not None else None
    upstream = error.upstream_status
    if error.status == ExitStatus.RATE_LIMITED:
        status = 429 if upstream == 429 else 503
        return error_response(status, "rate_limited" if status == 429 else "overloaded", error.message, headers)
    if isinstance(error, AuthError):
        return error_response(502, "upstream_authentication_error", "the server's API key was rejected upstream")
    if upstream in (400, 404, 413):
        return error_response(upstream, "upstream_request_error", error.message)
    if isinstance(error, NetworkError):
        return error_response(504 if "timed out" in error.message else 502, "upstream_unreachable", error.message)
    return error_response(502, "upstream_error", error.message)


class TokenMiddleware:
    """`Authorization: Bearer TOKEN` on every route but /healthz (plain ASGI: it must not buffer streams)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != "/healthz" and scope["method"] != "OPTIONS":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                response = error_response(401, "unauthorized", "missing or wrong bearer token")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The JSON body, refused over `limit` bytes by Content-Length or by counting a streamed body."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(413, "request_too_large", f"the body is over {limit:,} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BadRequest(413, "request_too_large", f"the body is over {limit:,} bytes")
    try:
        data = json.loads(body)
    except ValueError:
        raise BadRequest(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest(400, "invalid_json", "the body must be a JSON object")
    return data


def _optional_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise BadRequest(400, "invalid_request", f"'{name}' must be a string")
    return value


def build_request(data: dict[str, Any], user: str, system: str | None, config: ServeConfig) -> tuple[ApiRequest, str]:
    model = _optional_str(data, "model") or config.model
    max_tokens = data.get("max_tokens", config.max_tokens)
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise BadRequest(400, "invalid_request", "'max_tokens' must be a whole number of at least 1")
    if max_tokens > config.max_tokens_cap:
        raise BadRequest(400, "invalid_request", f"'max_tokens' is over this server's cap of {config.max_tokens_cap}")
    method = _optional_str(data, "method") or config.method
    if method not in METHODS:
        raise BadRequest(400, "invalid_request", "'method' must be 'create' or 'stream'")
    return ApiRequest(model=model, max_tokens=max_tokens, user=user, system=system), method


class StreamRoute:
    """The two POST routes: a request body in, the SSE answer out."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.client = make_async_client(config.conn)

    def _log(self, request: Request, status: int, summary: Summary, outcome: str) -> None:
        u = summary.usage
        ttft = f"{summary.ttft:.2f}s" if summary.ttft is not None else "-"
        total = f"{summary.duration:.2f}s" if summary.duration is not None else "-"
        print(
            f"{request.method} {request.url.path} {status} in={u.input_tokens} out={u.output_tokens} "
            f"ttft={ttft} total={total} {outcome}",
            file=self.config.log,
            flush=True,
        )

    async def ai_stream(self, request: Request) -> Response:
        try:
            data = await read_json(request, self.config.max_body)
            prompt = data.get("prompt")
            if not isinstance(prompt, str) or not prompt.strip():
                raise BadRequest(400, "invalid_request", "'prompt' is required and must be a non-empty string")
            api_request, method = build_request(data, prompt, _optional_str(data, "system"), self.config)
        except BadRequest as exc:
            return self._refuse(request, exc)
        return await self._answer(request, api_request, method)

    async def enhance(self, request: Request) -> Response:
        try:
            data = await read_json(request, self.config.max_body)
            raw = data.get("bullets")
            if not isinstance(raw, list) or not all(isinstance(b, str) for b in raw):
                raise BadRequest(400, "invalid_request", "'bullets' is required and must be a list of strings")
            bullets = [b for item in raw for b in parse_bullets(item)]
            if not bullets:
                raise BadRequest(400, "invalid_request", "'bullets' has no non-empty bullet")
            user = enhance_message(bullets, _optional_str(data, "job"))
            api_request, method = build_request(data, user, ENHANCE_SYSTEM, self.config)
        except BadRequest as exc:
            return self._refuse(request, exc)
        return await self._answer(request, api_request, method)

    def _refuse(self, request: Request, exc: BadRequest) -> Response:
        self._log(request, exc.status, Summary(started_at=time.monotonic()), f"refused: {exc.message}")
        return error_response(exc.status, exc.kind, exc.message)

    async def _answer(self, request: Request, api_request: ApiRequest, method: str) -> Response:
        summary = Summary(started_at=time.monotonic())
        events = astream_events(self.client, self.config.conn, api_request, method=method)
        try:
            first = await self._next_event(events, summary)
        except CvstreamError as error:
            summary.ended_at = time.monotonic()
            response = upstream_response(error)
            self._log(request, response.status_code, summary, f"error: {error.message}")
            return response
        except BaseException:  # the client left before the answer began: close the upstream request now
            with anyio.CancelScope(shield=True):
                await events.aclose()
            raise
        return StreamingResponse(
            self._frames(request, first, events, summary),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    async def _next_event(self, events: AsyncIterator[Event], summary: Summary) -> Event | None:
        """The next event that is not a retry announcement (logged instead); None at the end."""
        async for event in events:
            if type(event) is Retrying:
                print(event.describe(), file=self.config.log, flush=True)
                continue
            summary.fold(event, time.monotonic())
            return event
        return None

    async def _frames(
        self, request: Request, first: Event | None, events: AsyncGenerator[Event, None], summary: Summary
    ) -> AsyncIterator[bytes]:
        outcome = "ok"
        try:
            event = first
            while event is not None:
                if type(event) is TextDelta and event.text:
                    yield text_frame(event.text)
                event = await self._next_event(events, summary)
            summary.ended_at = time.monotonic()
            yield comment_frame("usage", _usage_json(summary))
            yield DONE
        except CvstreamError as error:
            outcome = f"error: {error.message}"
            yield comment_frame("error", error.message)
        except BaseException:
            outcome = "client disconnected"
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await events.aclose()  # closes the upstream request now, even when the task is cancelled
            summary.ended_at = summary.ended_at or time.monotonic()
            self._log(request, 200, summary, outcome)


def _usage_json(summary: Summary) -> dict[str, Any]:
    data = summary.as_json()
    data.pop("type")
    return data


def create_app(config: ServeConfig) -> Starlette:
    route = StreamRoute(config)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        kind = {404: "not_found", 405: "method_not_allowed"}.get(status, "error")
        message = {404: "no such route", 405: "method not allowed on this route"}.get(status, "internal error")
        headers = exc.headers if isinstance(exc, HTTPException) else None
        return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status, headers=headers)

    async def disconnected(request: Request, exc: Exception) -> Response:
        return Response(status_code=499)

    middleware = []
    if config.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=config.cors_origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["authorization", "content-type"],
            )
        )
    if config.token:
        middleware.append(Middleware(TokenMiddleware, token=config.token))
    return Starlette(
        routes=[
            Route("/api/ai/stream", route.ai_stream, methods=["POST"]),
            Route("/api/enhance", route.enhance, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        middleware=middleware,
        exception_handlers={404: not_found, 405: not_found, ClientDisconnect: disconnected},
    )


class _Server(uvicorn.Server):
    """uvicorn re-raises a captured SIGINT/SIGTERM after its graceful stop (exit 143); for `serve`, a
    signalled shutdown that let the streams in flight finish is a clean exit."""

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        with self.capture_signals():
            try:
                await self._serve(sockets)
            finally:
                self._captured_signals.clear()  # capture_signals re-raises what is left here: nothing


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # many clients arriving together must not be dropped
    return sock


def serve(config: ServeConfig, sock: socket.socket, grace: float, out: TextIO) -> None:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in str(host) else str(host)
    print(f"http://{shown}:{port}", file=out, flush=True)
    uv_config = uvicorn.Config(
        create_app(config),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=max(0, round(grace)),
        lifespan="off",
    )
    _Server(uv_config).run(sockets=[sock])
