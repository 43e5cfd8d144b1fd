"""Every recorded upstream stream, replayed by `cvstream mock` over HTTP, through both SDK methods and
every output format: outputs must match an independent reading of the recording, and each other."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from cvstream.errors import ExitStatus
from cvstream.mock.server import MockServer
from cvstream.sinks.sse import DONE, text_frame
from tests.conftest import FIXTURES, Result
from tests.sse_reference import expected_for
from tests.test_live import screen_lines

RECORDINGS = sorted(p for p in FIXTURES.iterdir() if p.suffix in (".sse", ".txt"))
OVERLOADED = {"overloaded_error": ExitStatus.RATE_LIMITED}


def test_every_recording_is_replayed() -> None:
    assert len(RECORDINGS) >= 40


def _expected_status(raw: bytes, method: str = "create") -> ExitStatus:
    exp = expected_for(raw)
    if method == "stream" and not exp.helper_readable:
        return ExitStatus.INCOMPLETE
    if exp.error_type:
        return OVERLOADED.get(exp.error_type, ExitStatus.API_ERROR)
    return ExitStatus.OK if exp.complete else ExitStatus.INCOMPLETE


@pytest.fixture
def replay(mock_server: Callable[..., MockServer], cli: Callable[..., Result]) -> Callable[..., Result]:
    def run(path: Path, *args: str, tty: bool = False) -> Result:
        server = mock_server(transcript=path.read_bytes())
        return cli("ask", "replay", *args, base_url=server.base_url, tty=tty)

    return run


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.name[:70])
def test_replay_raw_and_sse(path: Path, replay: Callable[..., Result]) -> None:
    raw = path.read_bytes()
    exp = expected_for(raw)
    for method in ("create", "stream"):
        status = _expected_status(raw, method)
        result = replay(path, "--raw", "--method", method)
        assert (result.code, result.out) == (status, exp.text), (method, result.stderr)
        sse = replay(path, "--sse", "--method", method)
        frames = b"".join(text_frame(t) for t in _text_pieces(raw))
        tail = DONE if status == ExitStatus.OK else b""
        assert sse.code == status
        assert sse.stdout.startswith(frames) and sse.stdout[len(frames) :].startswith(tail or b": error ")


def _text_pieces(raw: bytes) -> list[str]:
    pieces = []
    for name, data in expected_for(raw).events:
        payload = json.loads(data)
        if name == "content_block_delta" and payload["delta"].get("type") == "text_delta" and payload["delta"]["text"]:
            pieces.append(payload["delta"]["text"])
    return pieces


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.name[:70])
def test_replay_json_is_identical_for_both_methods(path: Path, replay: Callable[..., Result]) -> None:
    raw = path.read_bytes()
    exp = expected_for(raw)
    outputs = {}
    for method in ("create", "stream"):
        result = replay(path, "--json", "--method", method)
        assert result.code == _expected_status(raw, method), result.stderr
        lines = result.out.splitlines()
        *events, summary_line = lines
        if not exp.helper_readable and method == "stream":  # what arrived before the helper gave up
            assert [json.loads(line) for line in events] == [json.loads(d) for _, d in exp.events][: len(events)]
            assert json.loads(summary_line)["error"]["exit_status"] == ExitStatus.INCOMPLETE
            continue
        assert [json.loads(line) for line in events] == [json.loads(data) for _, data in exp.events]
        # Lines are byte-exact where the API sent one line of data.
        for line, (_, data) in zip(events, exp.events, strict=True):
            if "\n" not in data:
                assert line == data
        summary = json.loads(summary_line)
        assert summary["type"] == "cvstream.summary"
        assert summary["usage"] == exp.usage
        assert summary["stop_reason"] == exp.stop_reason
        summary.pop("ttft_s"), summary.pop("duration_s")
        outputs[method] = (events, summary)
    if exp.helper_readable:
        assert outputs["create"] == outputs["stream"]


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.name[:70])
def test_replay_terminal_and_usage_identical_for_both_methods(path: Path, replay: Callable[..., Result]) -> None:
    results = {m: replay(path, "--method", m, tty=True) for m in ("create", "stream")}
    plain = {m: replay(path, "--plain", "--method", m) for m in ("create", "stream")}
    # The live region's intermediate frames depend on timing; what stays on the terminal must not.
    screens = {m: screen_lines(r.stdout.replace(b"\n", b"\r\n"), 80, 24) for m, r in results.items()}
    assert screens["create"] == screens["stream"]
    assert plain["create"].stdout == plain["stream"].stdout
    exp = expected_for(path.read_bytes())
    assert plain["create"].out.rstrip("\n") == exp.text.rstrip("\n")

    def usage_lines(result: Result) -> list[str]:
        lines = [line for line in result.stderr.splitlines() if line.startswith(("usage:", "usage so far:"))]
        assert len(lines) == (1 if exp.events and exp.events[0][0] == "message_start" else 0), result.stderr
        return [re.sub(r" · (first token|total) .*$", "", line) for line in lines]

    raw = path.read_bytes()
    assert results["create"].code == _expected_status(raw, "create")
    assert results["stream"].code == _expected_status(raw, "stream")
    if exp.helper_readable:
        assert usage_lines(results["create"]) == usage_lines(results["stream"])
