"""`cvstream serve` records nothing unless started with --log (its users' texts are not the operator's)."""

from __future__ import annotations

import http.client
import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from cvstream.mock.server import MockServer
from tests.conftest import FAKE_KEY, subprocess_env


def _serve_and_ask(data: Path, mock: MockServer, *args: str) -> str:
    """Start `cvstream serve`, stream one answer from each route, stop it with SIGTERM; its stderr."""
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=mock.base_url, CVSTREAM_HOME=str(data))
    proc = subprocess.Popen(
        [sys.executable, "-m", "cvstream", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        parts = urlsplit(proc.stdout.readline().decode().strip())
        for path, body in (
            ("/api/ai/stream", {"prompt": "hello from the web"}),
            ("/api/enhance", {"bullets": ["- x"]}),
        ):
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
            conn.request("POST", path, json.dumps(body), {"content-type": "application/json"})
            assert conn.getresponse().read().endswith(b"data: [DONE]\n\n")
            conn.close()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    return err.decode()


@pytest.mark.timeout(60)
def test_serve_records_only_with_log(mock_server: Callable[..., MockServer], tmp_path: Path) -> None:
    mock = mock_server()
    _serve_and_ask(tmp_path / "off", mock)
    assert not (tmp_path / "off" / "history.db").exists()

    err = _serve_and_ask(tmp_path / "on", mock, "--log")
    assert "warning" not in err
    conn = sqlite3.connect(tmp_path / "on" / "history.db")
    try:
        rows = conn.execute(
            "SELECT command, label, message, status, answer, system FROM answers ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("serve", "/api/ai/stream", "complete"),
        ("serve", "/api/enhance", "complete"),
    ]
    assert rows[0][2] == "hello from the web" and "> hello from the web" in rows[0][4]
    assert rows[0][5] is None and rows[1][5]  # the enhance route's system text is kept
