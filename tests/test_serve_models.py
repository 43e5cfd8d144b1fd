"""`cvstream serve` reads model names as the CLI does: `--allow-model` and a request's `model` take short names
(the families' and the user's aliases), resolved to the ids sent upstream; what a name resolves to must still be
allowed. The installed entry point as a process, in front of the mock."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from typing import Any

import pytest

from cvstream.mock.server import MockServer
from tests.conftest import FAKE_KEY
from tests.serve_support import JSON, connect, first_line_url, serve_process, serve_refusal


def post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    """(status, the JSON error body or None for a stream)."""
    conn = connect(url)
    try:
        conn.request("POST", "/api/ai/stream", json.dumps(body), JSON)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    return response.status, (json.loads(data) if response.status != 200 else None)


@pytest.mark.timeout(60)
def test_short_names_resolve_as_the_cli_does_and_stay_behind_the_allowed_list(
    mock_server: Callable[..., MockServer],
) -> None:
    mock = mock_server(text="hi")
    proc = serve_process(
        "--allow-model",
        "haiku",
        "--allow-model",
        "OLD",
        ANTHROPIC_API_KEY=FAKE_KEY,
        ANTHROPIC_BASE_URL=mock.base_url,
        CVSTREAM_ALIASES="old=claude-opus-4-1",  # a user's own short name
    )
    try:
        url = first_line_url(proc)
        for model in ("haiku", "claude-haiku-5-5", "Sonnet", "old", None):
            status, _ = post(url, {"prompt": "x"} if model is None else {"prompt": "x", "model": model})
            assert status == 200, model
        status, error = post(url, {"prompt": "x", "model": "opus"})
        assert status == 400 and error is not None and error["error"]["type"] == "model_not_allowed"
        assert error["error"]["message"] == (
            "model 'opus' (short for claude-opus-5-5) is not allowed on this server "
            "(allowed: claude-haiku-5-5, claude-opus-4-1, claude-sonnet-5-5; see --allow-model)"
        )
        for refused in ("claude-opus-5-5", "haiku-5-5", " "):
            assert post(url, {"prompt": "x", "model": refused})[0] == 400
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    sent = [(r.body or {}).get("model") for r in mock.records]
    assert sent == ["claude-haiku-5-5", "claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-4-1", "claude-sonnet-5-5"]


@pytest.mark.timeout(60)
def test_an_unknown_allowed_model_is_refused_at_start() -> None:
    run = serve_refusal("--allow-model", "sonet")
    assert run.returncode == 2 and run.stdout == b""
    assert run.stderr.decode().startswith("error: unknown model 'sonet' (did you mean sonnet?)")
