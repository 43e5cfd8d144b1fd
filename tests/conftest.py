"""Shared fixtures: the loopback mock on port 0, and the real `cvstream` entry point run in-process.

In-process runs call `cvstream.cli.main(argv, env)` with an `Env` of byte buffers, so the SDK import
is paid once per worker; a few tests in test_subprocess.py run the installed command instead.
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cvstream.cli import main
from cvstream.context import Env
from cvstream.mock.server import MockConfig, MockServer

pytest_plugins = [
    "tests.serve_support",  # the serve fixture, for tests/test_serve*.py
    "tests.batch_support",  # state and bcli, for tests/test_batch*.py
]

FAKE_KEY = "sk-ant-api03-TESTKEY-do-not-print-7f3e9a1c5b"
# A byte-exact copy of the shared upstream recordings (see its SOURCES.md), vendored so CI has them.
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "upstream"


@dataclass
class Result:
    code: int
    stdout: bytes
    stderr: str

    @property
    def out(self) -> str:
        return self.stdout.decode()


class _TtyBytes(io.BytesIO):
    """A byte buffer that says it is a terminal (for rich's live rendering in tests)."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def mock_server() -> Iterator[Callable[..., MockServer]]:
    """Start mock servers on free loopback ports (fast by default); all are closed after the test."""
    servers: list[MockServer] = []

    def start(**overrides: object) -> MockServer:
        settings: dict[str, object] = {"port": 0, "tokens_per_second": 0.0, "first_token_ms": 0.0}
        settings.update(overrides)
        server = MockServer(MockConfig(**settings))  # type: ignore[arg-type]
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def mock(mock_server: Callable[..., MockServer]) -> MockServer:
    return mock_server()


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test records into the real history: subprocesses inherit this XDG_DATA_HOME."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty HOME and working directory, so no real .env file is ever read."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def cli(home: Path) -> Callable[..., Result]:
    def run(
        *args: str,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
        base_url: str | None = None,
        tty: bool = False,
        key: str | None = FAKE_KEY,
        cwd: Path | None = None,
        columns: int = 80,
        lines: int = 24,
        stderr_tty: bool = False,
    ) -> Result:
        environ = {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "CVSTREAM_CACHE_DIR": str(home / ".cache" / "cvstream"),  # never the developer's models cache
            "CVSTREAM_HOME": str(home.parent / "cvstream-data"),  # the history, outside the working directory
            "COLUMNS": str(columns),
            "LINES": str(lines),
        }
        if key is not None:
            environ["ANTHROPIC_API_KEY"] = key
        if base_url is not None:
            environ["ANTHROPIC_BASE_URL"] = base_url
        environ.update(env or {})
        stdout = _TtyBytes() if tty else io.BytesIO()
        stderr_bytes = io.BytesIO()
        stderr = io.TextIOWrapper(stderr_bytes, encoding="utf-8", write_through=True)
        context = Env(
            stdin=io.BytesIO(stdin or b""),
            stdout=stdout,
            stderr=stderr,
            environ=environ,
            cwd=cwd or home,
            stdin_isatty=stdin is None,
            stdout_isatty=tty,
            stderr_isatty=stderr_tty,
        )
        code = main(list(args), context)
        return Result(code, stdout.getvalue(), stderr_bytes.getvalue().decode())

    return run


@pytest.fixture
def installed() -> Path:
    """The installed `cvstream` console script next to this interpreter."""
    path = Path(sys.executable).parent / "cvstream"
    if not path.exists():
        found = shutil.which("cvstream")
        assert found, "cvstream is not installed in this environment"
        path = Path(found)
    return path


_SUBPROCESS_HOMES = Path(tempfile.mkdtemp(prefix="cvstream-test-homes-"))
atexit.register(shutil.rmtree, _SUBPROCESS_HOMES, True)


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a real `cvstream` process: no keys or settings of the developer's, and a
    HOME of its own for each call, so no user .env, models cache or history is read, and no two tests
    share a history database."""
    home = Path(tempfile.mkdtemp(dir=_SUBPROCESS_HOMES))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CVSTREAM_", "XDG_"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
    )
    env.update(extra)
    return env


_real_getaddrinfo = socket.getaddrinfo


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach the network beyond loopback: resolving any other name fails the test at once."""

    def guarded(host: object, *args: object, **kwargs: object) -> object:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in ("127.0.0.1", "::1", "localhost", "None") and not name.startswith("127."):
            raise AssertionError(f"a test tried to reach {name}: tests stay on loopback")
        return _real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
