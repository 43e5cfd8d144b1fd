"""`cvstream mock`: a loopback Anthropic Messages API speaking the real wire protocol.

Standard library only (no SDK, no ASGI stack), so it starts instantly: a threading HTTP/1.1 server
with chunked SSE bodies, the real error bodies and `request-id` headers, pacing, and faults.
Tests run it in-process on port 0 (`MockServer(...).start()`); users run it as a command.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any, TextIO

from cvstream.mock import batches
from cvstream.mock.handler import Handler
from cvstream.mock.state import FAULTS, HTTP_FAULTS, STREAM_FAULTS, ClientGone, MockConfig, RequestRecord, State

__all__ = ["FAULTS", "HTTP_FAULTS", "STREAM_FAULTS", "MockConfig", "MockServer", "RequestRecord"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError | ClientGone):
            return
        super().handle_error(request, client_address)


class MockServer:
    """The server; `start()` runs it on a thread and returns the base URL, `close()` stops it."""

    def __init__(self, config: MockConfig, log: TextIO | None = None) -> None:
        self.state = State(config, log, batches=batches.Store(config))
        handler = type("Handler", (Handler,), {"state": self.state})
        self._server = _Server((config.host, config.port), handler)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        host = str(host)
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}"

    @property
    def records(self) -> list[RequestRecord]:
        with self.state.cond:
            return list(self.state.records)

    def wait_for(self, predicate: Callable[[list[RequestRecord]], bool], timeout: float = 10.0) -> bool:
        """Block until `predicate(records)` holds (checked whenever a request changes state)."""
        with self.state.cond:
            return self.state.cond.wait_for(lambda: predicate(self.state.records), timeout)

    def start(self) -> str:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="cvstream-mock", daemon=True
        )
        self._thread.start()
        return self.base_url

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.1)

    def close(self) -> None:
        self.state.stop.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()
        for conn in list(self.state.connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> MockServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
