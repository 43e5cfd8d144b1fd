"""The API key never appears in any output, whatever the upstream echoes and wherever the key came from."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cvstream.mock.server import MockServer
from tests.conftest import FAKE_KEY, Result


@pytest.mark.parametrize("fault", ["http400", "error_event"])
@pytest.mark.parametrize("fmt", ["--raw", "--sse", "--json"])
@pytest.mark.parametrize("method", ["create", "stream"])
def test_an_echoed_key_is_redacted_in_every_output(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer], fault: str, fmt: str, method: str
) -> None:
    server = mock_server(fault=fault, echo_key=True, fault_after=1)
    result = cli("ask", "hi", fmt, "--method", method, base_url=server.base_url)
    assert result.code != 0
    assert FAKE_KEY not in result.out and FAKE_KEY not in result.stderr
    assert "[redacted]" in result.stderr
    if fmt == "--sse" and fault == "error_event":
        assert ": error " in result.out and "[redacted]" in result.out
    if fmt == "--json":
        assert '"error"' in result.out and "[redacted]" in result.out


@pytest.mark.parametrize("fmt", ["--raw", "--sse", "--json"])
def test_an_echoed_key_is_redacted_in_out_dir_files(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer], home: Path, fmt: str
) -> None:
    server = mock_server(fault="error_event", echo_key=True, fault_after=1)
    for name in ("a.txt", "b.txt"):
        (home / name).write_text("built the api\n")
    result = cli("enhance", "a.txt", "b.txt", fmt, "--out-dir", "out", base_url=server.base_url)
    assert result.code != 0
    written = b"".join(p.read_bytes() for p in (home / "out").iterdir())
    assert written and FAKE_KEY.encode() not in written
    assert FAKE_KEY not in result.stderr


def test_a_key_from_a_dotenv_file_is_redacted_wherever_it_shows(
    cli: Callable[..., Result], mock: MockServer, home: Path
) -> None:
    (home / ".env").write_text(f"ANTHROPIC_API_KEY={FAKE_KEY}\n")
    # The key pasted into the wrong variable by mistake is echoed by the error about that variable.
    result = cli("ask", "hi", key=None, base_url=mock.base_url, env={"CVSTREAM_MAX_TOKENS": FAKE_KEY})
    assert result.code == 2
    assert "CVSTREAM_MAX_TOKENS" in result.stderr and "[redacted]" in result.stderr
    assert FAKE_KEY not in result.stderr and FAKE_KEY not in result.out


def test_config_never_shows_credentials_in_the_base_url(cli: Callable[..., Result]) -> None:
    result = cli("config", env={"ANTHROPIC_BASE_URL": f"http://user:{FAKE_KEY}@proxy.example:8080/v1"})
    assert result.code == 0
    assert FAKE_KEY not in result.out and "user:" not in result.out
    assert "http://proxy.example:8080/v1" in result.out
