"""`cvstream batch` results in the history: one answer row per result (`command = batch`), recorded once,
read back with `cvstream log --json`; the real entry point and SDK against the mock's batch endpoints."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cvstream.errors import ExitStatus
from cvstream.mock.server import MockServer
from cvstream.prompt import ENHANCE_SYSTEM
from tests.batch_support import batch_mock
from tests.conftest import FAKE_KEY, Result
from tests.test_history import read_only

Cli = Callable[..., Result]


def _files(home: Path, count: int) -> list[str]:
    for i in range(count):
        (home / f"cv{i}.txt").write_text(f"- led team {i}\n- shipped product {i}\n")
    return [f"cv{i}.txt" for i in range(count)]


def _logged(bcli: Cli) -> list[dict[str, Any]]:
    listed = bcli("log", "--json", "-n", "1000")
    assert listed.code == 0, listed.stderr
    rows = [json.loads(line) for line in listed.out.splitlines()]
    return sorted(rows, key=lambda r: str(r["label"]))


@pytest.mark.timeout(60)
def test_each_result_is_an_answer_in_the_history_and_results_again_adds_none(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = batch_mock(mock_server, errored=0.25, expired=0.25)
    result = bcli("batch", "enhance", *_files(home, 4), "-o", "out", "--wait", base_url=server.base_url)
    assert result.code == ExitStatus.SOME_FAILED, result.stderr
    rows = _logged(bcli)
    assert [(r["label"], r["command"], r["status"]) for r in rows] == [
        ("cv0.txt", "batch", "complete"),
        ("cv1.txt", "batch", "failed"),
        ("cv2.txt", "batch", "complete"),
        ("cv3.txt", "batch", "failed"),
    ]
    ok, expired, _, errored = rows
    assert ok["message"] == "led team 0\nshipped product 0" and ok["system"] == ENHANCE_SYSTEM
    assert ok["answer"] == (home / "out" / "cv0.md").read_text()
    assert ok["stop_reason"] == "end_turn" and ok["input_tokens"] > 0 and ok["output_tokens"] > 0
    assert ok["model"] and ok["method"] == "batch" and ok["error_kind"] is None
    assert ok["params"]["batch_id"] == result.out.strip() and ok["params"]["custom_id"] == "cv0"
    assert errored["error_kind"] == "api_error" and errored["error_message"].startswith("mock fault")
    assert errored["answer"] == "" and errored["message"] == "led team 3\nshipped product 3"
    assert expired["error_kind"] == "expired"
    # Found by the text of their answers at once: a result is never listed as an answer still streaming.
    word = max(re.findall(r"[a-z]{4,}", ok["answer"].lower()), key=len)
    found = bcli("log", "search", word, "--json")
    assert found.code == 0, found.stderr
    assert ok["id"] in [json.loads(line)["id"] for line in found.out.splitlines()]
    again = bcli("batch", "results", "-o", "out2", base_url=server.base_url)
    assert again.code == ExitStatus.SOME_FAILED, again.stderr
    assert (home / "out2" / "cv0.md").exists()  # written again elsewhere, recorded once
    assert len(_logged(bcli)) == 4
    assert "warning" not in result.stderr + again.stderr


@pytest.mark.timeout(60)
def test_a_broken_download_records_what_arrived_and_the_resumed_one_the_rest(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = batch_mock(mock_server, results_fault=True)
    submitted = bcli("batch", "enhance", *_files(home, 6), "-o", "out", base_url=server.base_url)
    broken = bcli("batch", "results", "--max-retries", "0", base_url=server.base_url)
    assert broken.code == ExitStatus.INCOMPLETE, broken.stderr
    assert len(_logged(bcli)) == 3
    resumed = bcli("batch", "results", submitted.out.strip(), base_url=server.base_url)
    assert resumed.code == 0, resumed.stderr
    rows = _logged(bcli)
    assert [r["label"] for r in rows] == [f"cv{i}.txt" for i in range(6)]
    assert {r["status"] for r in rows} == {"complete"}


@pytest.mark.timeout(60)
def test_ask_prompts_record_each_prompt_with_its_own_system_text(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = batch_mock(mock_server)
    lines = [{"prompt": "what is SSE?"}, {"prompt": "and HTTP/2?", "system": "be brief"}]
    (home / "q.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = bcli("batch", "ask", "--prompts", "q.jsonl", "-o", "out", "--wait", base_url=server.base_url)
    assert result.code == 0, result.stderr
    rows = _logged(bcli)
    assert [(r["label"], r["message"], r["system"]) for r in rows] == [
        ("q.jsonl:1", "what is SSE?", None),
        ("q.jsonl:2", "and HTTP/2?", "be brief"),
    ]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("off", ["--no-log", "CVSTREAM_LOG=0", "log off"])
def test_the_off_switches_keep_batch_results_out_of_the_history(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path, state: Path, off: str
) -> None:
    server = batch_mock(mock_server)
    args, env = ["batch", "enhance", *_files(home, 2), "-o", "out", "--wait"], {}
    if off == "--no-log":
        args.append(off)
    elif off == "CVSTREAM_LOG=0":
        env["CVSTREAM_LOG"] = "0"
    else:
        assert bcli("log", "off").code == 0
    result = bcli(*args, base_url=server.base_url, env=env)
    assert result.code == 0, result.stderr
    assert len(list((home / "out").glob("*.md"))) == 2
    assert not (state / "history.db").exists() or _logged(bcli) == []
    if off == "--no-log":  # `batch results` takes it too; without it, the results are recorded then
        assert bcli("batch", "results", "-o", "o2", "--no-log", base_url=server.base_url).code == 0
        assert _logged(bcli) == []
        assert bcli("batch", "results", "-o", "o3", base_url=server.base_url).code == 0
        assert len(_logged(bcli)) == 2


@pytest.mark.timeout(60)
def test_an_unwritable_history_warns_once_and_changes_nothing_else(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path, state: Path
) -> None:
    server = batch_mock(mock_server)
    state.mkdir(parents=True, exist_ok=True)
    assert bcli("ask", "first", base_url=server.base_url).code == 0  # creates the history
    path = state / "history.db"
    with read_only(path):
        result = bcli("batch", "enhance", *_files(home, 3), "-o", "out", "--wait", base_url=server.base_url)
    assert result.code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: the answer is not recorded in {path} (attempt to write a readonly database)"]
    assert sorted(p.name for p in (home / "out").iterdir()) == ["cv0.md", "cv1.md", "cv2.md"]
    assert [r["message"] for r in _logged(bcli)] == ["first"]
    assert "Traceback" not in result.stderr and FAKE_KEY not in result.stderr


@pytest.mark.timeout(60)
def test_a_corrupt_history_warns_once_and_changes_nothing_else(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path, state: Path
) -> None:
    server = batch_mock(mock_server)
    state.mkdir(parents=True)
    (state / "history.db").write_bytes(b"this is not a database at all" * 200)
    result = bcli("batch", "enhance", *_files(home, 2), "-o", "out", "--wait", base_url=server.base_url)
    assert result.code == 0, result.stderr
    assert result.stderr.count("warning:") == 1 and "file is not a database" in result.stderr
    assert len(list((home / "out").glob("*.md"))) == 2
