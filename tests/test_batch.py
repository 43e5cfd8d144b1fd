"""`cvstream batch` end to end: the real entry point and the real SDK against the mock's batch endpoints."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cvstream.errors import ExitStatus
from cvstream.mock.server import MockServer
from cvstream.prompt import ENHANCE_SYSTEM
from tests.batch_support import batch_mock
from tests.conftest import FAKE_KEY, Result, subprocess_env

Cli = Callable[..., Result]


@pytest.fixture
def bcli(bcli: Cli) -> Cli:
    """The shared `bcli` (tests/batch_support.py), with `batch` as the command."""
    return lambda *args, **kwargs: bcli("batch", *args, **kwargs)


def _files(home: Path, count: int) -> list[str]:
    names = []
    for i in range(count):
        path = home / f"cv{i}.txt"
        path.write_text(f"- led team {i}\n- shipped product {i}\n")
        names.append(path.name)
    return names


def _job(state: Path, job_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((state / "batches" / f"{job_id}.json").read_text())
    return data


def _check_clean(result: Result) -> None:
    assert "Traceback" not in result.stderr
    assert FAKE_KEY not in result.stderr and FAKE_KEY not in result.out


@pytest.mark.timeout(60)
def test_submit_records_the_job_then_wait_writes_one_file_per_input(
    bcli: Cli, cli: Cli, mock_server: Callable[..., MockServer], home: Path, state: Path
) -> None:
    server = batch_mock(mock_server)
    names = _files(home, 2)
    submitted = bcli("enhance", *names, "--out-dir", "out", base_url=server.base_url)
    assert submitted.code == 0, submitted.stderr
    job_id = submitted.out.strip()
    assert re.fullmatch(r"msgbatch_\w+", job_id)
    assert f"follow it with: cvstream batch wait {job_id}" in submitted.stderr
    job = _job(state, job_id)
    assert job["out_dir"] == str(home / "out") and job["command"] == "enhance"
    assert [row[1:4] for row in job["inputs"]] == [["cv0.txt", "cv0", 0], ["cv1.txt", "cv1", 0]]
    assert [row[4:] for row in job["inputs"]] == [[f"led team {i}\nshipped product {i}", 0] for i in range(2)]
    assert job["systems"] == [ENHANCE_SYSTEM]  # each system text once
    assert (state / "batches").stat().st_mode & 0o777 == 0o700
    assert (state / "batches" / f"{job_id}.json").stat().st_mode & 0o777 == 0o600

    waited = bcli("wait", base_url=server.base_url)  # no id: the newest job
    assert waited.code == 0, waited.stderr
    assert f"{job_id}: ended: 2 succeeded, 0 errored, 0 processing" in waited.stderr
    assert f"wrote 2 files to {home / 'out'}" in waited.stderr
    for i in range(2):
        text = (home / "out" / f"cv{i}.md").read_text()
        assert text == f"- [offline] Led team {i}\n- [offline] Shipped product {i}\n"  # as streamed enhance gets
    _check_clean(waited)

    # Each request is exactly what the streaming command sends (without `stream`).
    streamed = cli("enhance", names[0], "--raw", base_url=server.base_url)
    assert streamed.code == 0
    sent = dict(server.records[-1].body or {})
    assert sent.pop("stream") is True
    assert server.state.batches is not None
    batched = server.state.batches.batches[job_id].requests[0]
    assert batched == ("cv0", sent)


@pytest.mark.timeout(60)
def test_a_job_over_the_batch_size_is_split_and_followed_as_one(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path, state: Path
) -> None:
    server = batch_mock(mock_server)
    names = _files(home, 3)
    submitted = bcli("enhance", *names, "--batch-size", "2", "-o", "out", "--wait", base_url=server.base_url)
    assert submitted.code == 0, submitted.stderr
    assert "submitted batch 1 of 2" in submitted.stderr and "submitted batch 2 of 2" in submitted.stderr
    assert server.state.batches is not None
    sizes = [len(b.requests) for b in server.state.batches.batches.values()]
    assert sizes == [2, 1]
    job = _job(state, submitted.out.strip())
    assert [b["requests"] for b in job["batches"]] == [2, 1]
    assert "ended: 3 succeeded" in submitted.stderr
    assert sorted(p.name for p in (home / "out").iterdir()) == ["cv0.md", "cv1.md", "cv2.md"]
    status = bcli("status", base_url=server.base_url)
    assert status.code == 0
    rows = status.out.splitlines()
    assert len(rows) == 3 and rows[1].split()[1] == "ended" and rows[2].endswith("(part 2)")


@pytest.mark.timeout(60)
def test_errored_and_expired_requests_are_listed_and_exit_8(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = batch_mock(mock_server, errored=0.25, expired=0.25)
    names = _files(home, 4)
    result = bcli("enhance", *names, "-o", "out", "--wait", base_url=server.base_url)
    assert result.code == ExitStatus.SOME_FAILED, result.stderr
    assert int(ExitStatus.SOME_FAILED) == 8
    assert "ended: 2 succeeded, 1 errored, 0 processing, 1 expired" in result.stderr
    assert "errored: cv3.txt: api_error: mock fault" in result.stderr
    assert "expired: cv1.txt (not processed within 24 hours)" in result.stderr
    error = json.loads((home / "out" / "cv3.error.json").read_text())
    assert error["input"] == "cv3.txt" and error["error"]["error"]["type"] == "api_error"
    assert sorted(p.name for p in (home / "out").iterdir()) == ["cv0.md", "cv2.md", "cv3.error.json"]
    again = bcli("results", "-o", "out", base_url=server.base_url)
    assert again.code == 8
    assert f"wrote 0 files to {home / 'out'} (3 already there, skipped)" in again.stderr
    _check_clean(again)


@pytest.mark.timeout(60)
def test_a_broken_results_download_is_resumed_by_running_results_again(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = batch_mock(mock_server, results_fault=True)
    names = _files(home, 6)
    submitted = bcli("enhance", *names, "-o", "out", base_url=server.base_url)
    broken = bcli("results", submitted.out.strip(), "--max-retries", "0", base_url=server.base_url)
    assert broken.code == ExitStatus.INCOMPLETE, broken.stderr
    assert "the results download of batch" in broken.stderr and "broke off after 3 results" in broken.stderr
    assert "hint: run the same command again: the files already written are kept and skipped" in broken.stderr
    assert len(list((home / "out").glob("*.md"))) == 3
    assert not list((home / "out").glob(".*"))  # no temporary file left behind
    resumed = bcli("results", base_url=server.base_url)
    assert resumed.code == 0, resumed.stderr
    assert f"wrote 3 files to {home / 'out'} (3 already there, skipped)" in resumed.stderr
    assert len(list((home / "out").glob("*.md"))) == 6


@pytest.mark.timeout(60)
def test_a_broken_download_is_retried_in_the_same_run(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = batch_mock(mock_server, results_fault=True)
    result = bcli("enhance", *_files(home, 4), "-o", "out", "--wait", base_url=server.base_url)
    assert result.code == 0, result.stderr
    assert "broke off after 2 results (" in result.stderr and "downloading again" in result.stderr
    assert f"wrote 4 files to {home / 'out'}\n" in result.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_stops_waiting_and_batch_wait_resumes(
    installed: Path,
    bcli: Cli,
    mock_server: Callable[..., MockServer],
    home: Path,
    state: Path,
    sig: signal.Signals,
    code: int,
) -> None:
    server = batch_mock(mock_server, seconds=3600.0)
    names = _files(home, 2)
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url, CVSTREAM_HOME=str(state))
    proc = subprocess.Popen(
        [str(installed), "batch", "enhance", *names, "-o", "out", "--wait"],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        polled = server.wait_for(lambda rs: any(r.method == "GET" for r in rs), timeout=30)
        assert polled  # submitted, recorded, and now between polls
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    job_id = out.decode().strip()
    stderr = err.decode()
    assert f"stopped waiting: {job_id} keeps running" in stderr
    assert f"resume with: cvstream batch wait {job_id}" in stderr
    assert "Traceback" not in stderr

    server.state.config.batch.seconds = 0.0  # the batch ends on Anthropic's side meanwhile
    resumed = bcli("wait", job_id, base_url=server.base_url)
    assert resumed.code == 0, resumed.stderr
    assert sorted(p.name for p in (home / "out").iterdir()) == ["cv0.md", "cv1.md"]


@pytest.mark.timeout(60)
def test_cancel_then_results_lists_the_canceled_then_delete(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path, state: Path
) -> None:
    server = batch_mock(mock_server, seconds=3600.0)
    job_id = bcli("enhance", *_files(home, 3), "-o", "out", base_url=server.base_url).out.strip()
    early = bcli("results", base_url=server.base_url)
    assert early.code == ExitStatus.USAGE and f"{job_id} has not ended yet" in early.stderr
    refused = bcli("delete", job_id, base_url=server.base_url)
    assert refused.code == ExitStatus.USAGE and "cancel it first" in refused.stderr

    canceled = bcli("cancel", job_id, base_url=server.base_url)
    assert canceled.code == 0, canceled.stderr
    assert f"{job_id}: canceling" in canceled.stderr
    status = bcli("status", job_id, base_url=server.base_url)
    assert status.out.splitlines()[1].split()[1:3] == ["ended", "0/0/0/3/0"]
    results = bcli("results", job_id, base_url=server.base_url)
    assert results.code == ExitStatus.SOME_FAILED
    assert [line for line in results.stderr.splitlines() if line.startswith("canceled:")] == [
        f"canceled: cv{i}.txt" for i in (0, 1, 2)
    ]
    deleted = bcli("delete", job_id, base_url=server.base_url)
    assert deleted.code == 0 and f"deleted {job_id}" in deleted.stderr
    assert not (state / "batches" / f"{job_id}.json").exists()
    gone = bcli("status", job_id, base_url=server.base_url)
    assert gone.code == ExitStatus.API_ERROR and f"batch {job_id}: not found (HTTP 404" in gone.stderr


@pytest.mark.timeout(60)
def test_ask_prompts_file_plain_and_jsonl(
    bcli: Cli, cli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = batch_mock(mock_server)
    (home / "q.txt").write_text("what is SSE?\n\nwhat is JSONL?\n")
    plain = bcli("ask", "--prompts", "q.txt", "-o", "a", "--wait", "--max-tokens", "300", base_url=server.base_url)
    assert plain.code == 0, plain.stderr
    assert sorted(p.name for p in (home / "a").iterdir()) == ["1.md", "3.md"]
    assert "> what is JSONL?" in (home / "a" / "3.md").read_text()
    assert cli("ask", "what is SSE?", "--max-tokens", "300", "--raw", base_url=server.base_url).code == 0
    sent = dict(server.records[-1].body or {})
    assert sent.pop("stream") is True
    assert server.state.batches is not None
    assert next(iter(server.state.batches.batches.values())).requests[0] == ("1", sent)  # as `ask` sends it
    lines = [
        {"prompt": "one", "model": "claude-haiku-4-5"},
        {"prompt": "two", "system": "be brief", "max_tokens": 5},
    ]
    stdin = "\n".join(json.dumps(line) for line in lines).encode()
    jsonl = bcli("ask", "--prompts", "-", "-o", "b", "--wait", stdin=stdin, base_url=server.base_url)
    assert jsonl.code == 0, jsonl.stderr
    assert server.state.batches is not None
    params = [p for _, p in list(server.state.batches.batches.values())[-1].requests]
    assert params[0]["model"] == "claude-haiku-4-5" and params[0]["max_tokens"] == 1024
    assert params[1]["system"] == "be brief" and params[1]["max_tokens"] == 5
    assert (home / "b" / "2.md").read_text().count(" ") <= 5  # cut at max_tokens
    assert "note: stdin:2: the answer stopped at max_tokens" in jsonl.stderr


def test_bad_prompts_line_is_refused_before_anything_is_sent(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = batch_mock(mock_server)
    (home / "q.jsonl").write_text('{"prompt": "ok"}\n{"prompt": 3}\n')
    result = bcli("ask", "--prompts", "q.jsonl", base_url=server.base_url)
    assert result.code == ExitStatus.USAGE
    assert 'error: q.jsonl:2: expected an object with a non-empty "prompt" string' in result.stderr
    assert server.records == []


@pytest.mark.timeout(60)
def test_list_shows_recent_batches_with_their_local_job(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = batch_mock(mock_server)
    job_id = bcli("enhance", *_files(home, 2), "-o", "out", base_url=server.base_url).out.strip()
    listed = bcli("list", base_url=server.base_url)
    assert listed.code == 0, listed.stderr
    header, row = listed.out.splitlines()
    assert header.split() == ["id", "status", "ok/err/exp/canc/proc", "created", "ended", "expires", "job"]
    assert row.startswith(job_id) and "ended" in row and f"enhance 2 inputs -> {home / 'out'}" in row


def test_failures_of_the_batch_calls_use_the_usual_exit_codes(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = mock_server(fault="http401")
    rejected = bcli("enhance", *_files(home, 1), base_url=server.base_url)
    assert rejected.code == ExitStatus.AUTH and "creating a batch: the API key was rejected" in rejected.stderr
    _check_clean(rejected)
    overloaded = mock_server(fault="http529", retry_after=0.0)
    result = bcli("enhance", *_files(home, 1), "--max-retries", "1", base_url=overloaded.base_url)
    assert result.code == ExitStatus.RATE_LIMITED
    assert "retry 1: HTTP 529 overloaded_error" in result.stderr
    nothing = bcli("wait", base_url=server.base_url)
    assert nothing.code == ExitStatus.USAGE and "no batch jobs recorded here yet" in nothing.stderr


def test_an_existing_result_file_is_refused_at_submit(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = batch_mock(mock_server)
    (home / "out").mkdir()
    (home / "out" / "cv0.md").write_text("older")
    result = bcli("enhance", *_files(home, 1), "-o", "out", base_url=server.base_url)
    assert result.code == ExitStatus.USAGE and "cv0.md already exists" in result.stderr
    assert server.records == []


@pytest.mark.timeout(60)
def test_offline_runs_and_waits_with_no_key(bcli: Cli, home: Path) -> None:
    result = bcli("enhance", *_files(home, 2), "--offline", "-o", "out", key=None)
    assert result.code == 0, result.stderr
    assert "offline: waiting here" in result.stderr
    assert sorted(p.name for p in (home / "out").iterdir()) == ["cv0.md", "cv1.md"]


@pytest.mark.timeout(60)
def test_a_terminal_gets_a_progress_bar(bcli: Cli, mock_server: Callable[..., MockServer], home: Path) -> None:
    server = batch_mock(mock_server)
    result = bcli("enhance", *_files(home, 2), "-o", "out", "--wait", base_url=server.base_url, stderr_tty=True)
    assert result.code == 0, result.stderr
    assert "waiting for msgbatch_" in result.stderr
    assert "(Ctrl-C stops waiting; the batch keeps running)" in result.stderr
    assert "2/2" in result.stderr and "2 succeeded, 0 errored, 0 processing, 0m0" in result.stderr


@pytest.mark.timeout(60)
def test_results_of_a_batch_submitted_elsewhere_are_named_by_custom_id(
    bcli: Cli, mock_server: Callable[..., MockServer], tmp_path: Path
) -> None:
    import anthropic

    server = batch_mock(mock_server)
    client = anthropic.Anthropic(api_key="k", base_url=server.base_url, max_retries=0)
    params = {"model": "m", "max_tokens": 50, "messages": [{"role": "user", "content": "from elsewhere"}]}
    batch = client.messages.batches.create(requests=[{"custom_id": "q-1", "params": params}])  # type: ignore[typeddict-item]
    client.close()
    refused = bcli("results", batch.id, base_url=server.base_url)
    assert refused.code == ExitStatus.USAGE and "hint: pass --out-dir" in refused.stderr
    result = bcli("results", batch.id, "-o", str(tmp_path / "elsewhere"), base_url=server.base_url)
    assert result.code == 0, result.stderr
    assert "> from elsewhere" in (tmp_path / "elsewhere" / "q-1.md").read_text()
    missing = bcli("status", "msgbatch_nope", base_url=server.base_url)
    assert missing.code == ExitStatus.API_ERROR
    assert missing.stderr.startswith(
        "error: batch msgbatch_nope: not found (HTTP 404: message_batch: msgbatch_nope not found)"
    )
