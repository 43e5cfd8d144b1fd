"""uvicorn around the app: the listening socket, the request log's wiring, signals and the shutdown.

SIGINT/SIGTERM stop accepting connections and let streams in flight run for `--grace` seconds; then
every stream still open gets `: error server shutting down` and a clean end, requests still waiting
for upstream get a JSON 503 with `retry-after`, upstream requests are closed, and `serve` exits 0.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import signal
import socket
import threading
from types import FrameType
from typing import TextIO

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from cvstream.serve.app import App, ServeConfig, create_app
from cvstream.serve.http import error_body
from cvstream.serve.log import ToRequestLog


class JsonH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, with its answer to a malformed request in JSON like every other error."""

    def send_400_response(self, msg: str) -> None:
        body = json.dumps(error_body("bad_request", "malformed HTTP request")).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (h11.Response(status_code=400, headers=headers), h11.Data(data=body), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it a kept-alive request waits ~40 ms (Nagle against the client's delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by accepted sockets
    sock.bind((host, port))
    sock.listen(2048)  # many clients arriving together must not be dropped
    return sock


class Server(uvicorn.Server):
    def __init__(self, app: App, grace: float) -> None:
        super().__init__(
            uvicorn.Config(
                app,
                log_config=None,
                http=JsonH11Protocol,
                ws="none",
                log_level="warning",
                access_log=False,
                lifespan="off",
                # a backstop only: streams are ended by the app when the grace is over
                timeout_graceful_shutdown=math.ceil(grace) + 5,
            )
        )
        self.app, self.grace = app, grace

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().call_later(self.grace, self.app.streams.stop_all)
        try:
            await super().shutdown(sockets)
        finally:
            await self.app.aclose()

    def run_logged(self, sock: socket.socket) -> None:
        """`run` with uvicorn's own warnings going to the request log (never blocking on stderr)."""
        logger = logging.getLogger("uvicorn")
        handler = ToRequestLog(self.app.log)
        logger.addHandler(handler)
        propagate, logger.propagate = logger.propagate, False
        try:
            self.run(sockets=[sock])
        finally:
            logger.removeHandler(handler)
            logger.propagate = propagate
            self.app.close()


def _ignore(sig: int, frame: FrameType | None) -> None:
    pass


def serve(config: ServeConfig, sock: socket.socket, grace: float, out: TextIO) -> None:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in str(host) else str(host)
    server = Server(create_app(config), grace)
    print(f"http://{shown}:{port}", file=out, flush=True)
    # uvicorn re-raises a captured SIGINT/SIGTERM after its graceful stop, to the handler that was in place
    # before; for `serve` a signalled stop is a clean exit, so that handler does nothing.
    main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGINT, signal.SIGTERM)} if main else {}
    try:
        server.run_logged(sock)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
