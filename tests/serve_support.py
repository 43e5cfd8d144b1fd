"""Shared by the tests/test_serve*.py files: `cvstream serve` in front of `cvstream mock`, in-process (uvicorn on
a thread, the real app and server class) or as a subprocess (for signals and pipes), and a client that
parses exactly like the web app's browser loop."""

from __future__ import annotations

import http.client
import io
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from cvstream.mock.server import MockServer
from cvstream.serve import ServeConfig, Server, bind, create_app
from cvstream.source import Connection
from tests.conftest import FAKE_KEY, subprocess_env

TEXT = "Hello, wörld! Ünïcödé 🚀 — “quotes” and 日本語.\n- a list\n"
JSON = {"content-type": "application/json"}


class LogCapture(io.StringIO):
    """The server's log; `wait_for` blocks until a line matches (the log is written by a thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.cond = threading.Condition()

    def write(self, text: str) -> int:
        with self.cond:
            written = super().write(text)
            self.cond.notify_all()
        return written

    def wait_for(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        found: list[re.Match[str]] = []

        def seen() -> bool:
            match = re.search(pattern, self.getvalue(), re.M)
            if match:
                found.append(match)
            return match is not None

        with self.cond:
            assert self.cond.wait_for(seen, timeout), f"no log line matches {pattern!r}:\n{self.getvalue()}"
        return found[0]


class Served:
    def __init__(self, url: str, log: LogCapture, server: Server) -> None:
        self.url = url
        self.log = log
        self.server = server

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@pytest.fixture
def serve(mock_server: Callable[..., MockServer]) -> Iterator[Callable[..., Served]]:
    """Run the serve app in-process (uvicorn on a thread) in front of a mock; stopped after the test."""
    running: list[tuple[Server, threading.Thread]] = []

    def start(mock: MockServer | None = None, base_url: str | None = None, **overrides: Any) -> Served:
        url = base_url or (mock or mock_server(text=TEXT)).base_url
        log = LogCapture()
        conn = Connection(
            api_key=overrides.pop("api_key", FAKE_KEY),
            base_url=url,
            max_retries=overrides.pop("max_retries", 0),
            timeout=overrides.pop("timeout", 10),
        )
        grace = overrides.pop("grace", 1.0)
        settings: dict[str, Any] = {"conn": conn, "model": "claude-sonnet-5-5", "log": log}
        settings.update(overrides)
        sock = bind("127.0.0.1", 0)
        server = Server(create_app(ServeConfig(**settings)), grace)
        thread = threading.Thread(target=server.run_logged, args=(sock,), daemon=True)
        thread.start()
        running.append((server, thread))
        while not server.started:  # uvicorn sets it once it accepts connections
            thread.join(0.01)
            assert thread.is_alive(), "the server did not start"
        return Served(f"http://127.0.0.1:{sock.getsockname()[1]}", log, server)

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(10)


def connect(url: str, timeout: float = 30) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)


def request(
    url: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request on a new connection: (status, headers in lower case, body)."""
    conn = connect(url)
    payload = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    conn.request(method, path, payload, headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def browser_loop(url: str, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any, list[str]]:
    """POST, then read exactly as the app's loop does: each network read decoded on its own, split on
    newlines, `data: ` lines parsed; returns (status, text or error body, raw lines seen)."""
    conn = connect(url)
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    conn.request("POST", path, payload, {**JSON, **(headers or {})})
    response = conn.getresponse()
    if response.status != 200:  # the app throws on !res.ok
        return response.status, json.loads(response.read()), [f"retry-after: {response.getheader('retry-after')}"]
    assert response.getheader("content-type", "").startswith("text/event-stream")
    result, seen = "", []
    while True:
        value = response.read1(65536)
        if not value:
            break
        lines = value.decode("utf-8", "replace").split("\n")
        seen += lines
        for line in (line for line in lines if line.startswith("data: ")):
            data = line[6:]
            if data == "[DONE]":
                break
            result += json.loads(data)["text"]
    return 200, result, seen


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll a condition nothing signals (the mock's open connections) until it holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def serve_process(*args: str, stderr: int | None = subprocess.PIPE, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cvstream", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=subprocess_env(**env),
    )


def serve_refusal(*args: str) -> subprocess.CompletedProcess[bytes]:
    """`cvstream serve --port 0 ARGS`, expected to stop before serving: the finished process."""
    args = ("--port", "0", *args)
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY)
    return subprocess.run([sys.executable, "-m", "cvstream", "serve", *args], capture_output=True, env=env, timeout=30)


def first_line_url(proc: subprocess.Popen[bytes]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+\n", line), line
    return line.strip()
