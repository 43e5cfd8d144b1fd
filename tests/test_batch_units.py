"""The pure parts of `cvstream batch` (custom ids, splitting, prompts, polling) and the mock's wire shapes."""

from __future__ import annotations

import http.client
import inspect
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import pytest
from anthropic.types.messages import DeletedMessageBatch, MessageBatch, MessageBatchIndividualResponse

from cvstream.batch.follow import POLL_FAILURES, poll_delay, wait
from cvstream.batch.plan import custom_ids, prompts_from_lines, request_size, split
from cvstream.batch.state import BatchRef, Job
from cvstream.errors import RateLimitError, UsageError
from cvstream.flags import Omit, SettingFlags, with_flags
from cvstream.mock.batches import BatchConfig
from cvstream.mock.server import MockConfig, MockServer
from cvstream.source.batches import BatchInfo
from tests.conftest import subprocess_env

ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def test_custom_ids_are_valid_unique_and_close_to_the_names() -> None:
    names = ["anna", "anna cv (2)", "anna_cv_2", "é", "x" * 80, "x" * 80 + "y", "anna"]
    ids = custom_ids(names)
    assert all(ID.match(i) for i in ids) and len(set(ids)) == len(ids)
    assert ids[:4] == ["anna", "anna_cv_2", ids[2], "input"]
    assert ids[2].startswith("anna_cv_2-") and ids[6].startswith("anna-")
    assert len(ids[4]) == 64 and ids[4].startswith("x" * 53 + "-") and ids[4] != ids[5]
    assert custom_ids(names) == ids  # deterministic: the same inputs get the same ids


def test_split_keeps_both_limits_and_the_order() -> None:
    assert split([10] * 5, max_requests=2) == [range(0, 2), range(2, 4), range(4, 5)]
    overhead = len('{"requests": []}')
    assert split([40, 40, 40], max_bytes=overhead + 80) == [range(0, 2), range(2, 3)]
    assert split([]) == []
    with pytest.raises(UsageError, match="input 2 alone is 500 bytes"):
        split([10, 500], max_bytes=100)
    params = {"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "é"}]}
    assert request_size("a", params) >= len(json.dumps({"custom_id": "a", "params": params}, ensure_ascii=False))


def test_prompts_plain_lines_or_jsonl() -> None:
    plain = list(prompts_from_lines([(1, "first\n"), (2, "  \n"), (3, " second ")], "q"))
    assert [(p.line, p.prompt) for p in plain] == [(1, "first"), (3, "second")]
    jsonl = list(prompts_from_lines([(1, '{"prompt": "a", "model": "m", "max_tokens": 9}'), (2, "")], "q"))
    assert jsonl[0].model == "m" and jsonl[0].max_tokens == 9 and jsonl[0].system is None
    for bad, words in [
        ("{nope", "q:1: not valid JSON"),
        ('{"prompt": "a", "temperature": 1}', "unknown field 'temperature'"),
        ('{"prompt": "a", "max_tokens": true}', "must be a whole number"),
    ]:
        with pytest.raises(UsageError, match=re.escape(words)):
            list(prompts_from_lines([(1, bad)], "q"))


def test_poll_delay_backs_off_from_5_to_60_and_honours_retry_after() -> None:
    assert [poll_delay(n) for n in range(6)] == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
    assert poll_delay(0, retry_after=30.0) == 30.0 and poll_delay(4, retry_after=2.0) == 60.0


def _info(status: str, processing: int) -> BatchInfo:
    now = datetime.now(UTC)
    done = 2 - processing
    return BatchInfo("b1", status, processing, done, 0, 0, 0, now, now if status == "ended" else None, now)


class FakeApi:
    """Stands in for BatchApi in the polling loop: answers or errors from a script."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script

    def retrieve(self, batch_id: str) -> BatchInfo:
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        assert isinstance(item, BatchInfo)
        return item


class Seen:
    def __init__(self) -> None:
        self.updates: list[str] = []
        self.notes: list[str] = []

    def update(self, infos: list[BatchInfo]) -> None:
        self.updates.append(infos[0].status)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def close(self) -> None:
        pass


def _job() -> Job:
    return Job("b1", "ask", "", "/tmp/x", {}, False, [BatchRef("b1", 2)], [])


def test_wait_polls_with_backoff_and_rides_out_a_rate_limit() -> None:
    slept: list[float] = []
    limited = RateLimitError("rate limited", retry_after=45.0)
    api = FakeApi([_info("in_progress", 2), limited, _info("in_progress", 2), _info("ended", 0)])
    seen = Seen()
    infos = wait(_job(), api, None, seen, sleep=slept.append)  # type: ignore[arg-type]
    assert infos[0].ended and slept == [5.0, 45.0, 20.0]
    assert seen.updates == ["in_progress", "in_progress", "ended"]
    assert seen.notes == ["polling failed (rate limited); trying again in 45 s"]


def test_wait_gives_up_after_repeated_failures() -> None:
    failures: list[Any] = [RateLimitError("rate limited") for _ in range(POLL_FAILURES)]
    slept: list[float] = []
    with pytest.raises(RateLimitError):
        wait(_job(), FakeApi(failures), None, Seen(), sleep=slept.append)  # type: ignore[arg-type]
    assert len(slept) == POLL_FAILURES - 1


def _request(server: MockServer, method: str, path: str, body: object = None) -> tuple[int, bytes]:
    parts = urlsplit(server.base_url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    headers = {"x-api-key": "k", "content-type": "application/json"}
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    response = conn.getresponse()
    return response.status, response.read()


def test_the_mock_batch_objects_parse_as_the_sdk_types() -> None:
    params = {"model": "m", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    requests = [{"custom_id": f"r{i}", "params": params} for i in range(4)] + [
        {"custom_id": "bad", "params": {"model": "m"}}
    ]
    with MockServer(MockConfig(port=0, batch=BatchConfig(seconds=0.0, errored=0.25, expired=0.25))) as server:
        status, raw = _request(server, "POST", "/v1/messages/batches", {"requests": requests})
        assert status == 200
        batch = MessageBatch.model_validate_json(raw, strict=True)
        status, raw = _request(server, "GET", f"/v1/messages/batches/{batch.id}")
        ended = MessageBatch.model_validate_json(raw, strict=True)
        assert ended.processing_status == "ended" and ended.results_url and ended.ended_at
        assert ended.expires_at.timestamp() - ended.created_at.timestamp() == 24 * 3600
        counts = ended.request_counts
        assert (counts.succeeded, counts.errored, counts.expired, counts.processing) == (2, 2, 1, 0)
        status, raw = _request(server, "GET", urlsplit(ended.results_url).path)
        lines = [MessageBatchIndividualResponse.model_validate_json(x, strict=True) for x in raw.splitlines()]
        assert sorted(x.custom_id for x in lines) == ["bad", "r0", "r1", "r2", "r3"]
        assert {x.result.type for x in lines} == {"succeeded", "errored", "expired"}
        status, raw = _request(server, "GET", "/v1/messages/batches?limit=1")
        page = json.loads(raw)
        assert page["has_more"] is False and page["first_id"] == page["last_id"] == batch.id
        status, raw = _request(server, "DELETE", f"/v1/messages/batches/{batch.id}")
        assert DeletedMessageBatch.model_validate_json(raw, strict=True).id == batch.id
        dup = [{"custom_id": "same", "params": params}] * 2
        status, raw = _request(server, "POST", "/v1/messages/batches", {"requests": dup})
        assert status == 400 and b"duplicate custom_id" in raw


def test_batch_help_does_not_import_the_sdk() -> None:
    for args in (["batch", "--help"], ["batch", "enhance", "--help"], ["batch", "wait", "--help"]):
        run = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "cvstream", *args], capture_output=True, env=subprocess_env()
        )
        assert run.returncode == 0, run.stderr
        lines = [line for line in run.stderr.decode().splitlines() if "|" in line]
        modules = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in lines}
        assert "anthropic" not in modules and "platformdirs" not in modules, args
        assert "sqlite3" not in modules and "docx" not in modules, args


@pytest.mark.parametrize("name", ["enhance", "ask", "wait", "results", "list", "status", "cancel", "delete"])
def test_batch_help_keeps_its_text_and_flags_take_no_value(name: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "cvstream", "batch", name, "--help"],
        capture_output=True,
        text=True,
        env={**subprocess_env(), "COLUMNS": "250"},
    )
    assert run.returncode == 0, run.stderr
    assert not re.search(r"\w \.(\s|$)", run.stdout), "help text lost words to markup"
    assert all("--help" in line for line in run.stdout.splitlines() if "<bool>" in line)
    assert "Usage: cvstream batch " + name in run.stdout


@pytest.mark.parametrize("name", ["enhance", "ask"])
def test_batch_help_has_no_method_and_no_conversation_flags(name: str) -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "cvstream", "batch", name, "--help"],
        capture_output=True,
        text=True,
        env={**subprocess_env(), "COLUMNS": "250"},
    ).stdout
    for flag in ("--model", "--max-tokens", "--offline", "--system", "--no-log"):
        assert flag in shown, flag
    for flag in ("--method", "--continue", "--cid"):
        assert flag not in shown, flag
    streaming = subprocess.run(
        [sys.executable, "-m", "cvstream", name, "--help"],
        capture_output=True,
        text=True,
        env={**subprocess_env(), "COLUMNS": "250"},
    ).stdout
    assert "--method" in streaming and "--continue" in streaming  # the streaming commands keep them


def test_omit_leaves_fields_of_a_group_out_and_holds_their_defaults() -> None:
    seen: list[SettingFlags] = []

    def command(settings: Annotated[SettingFlags, Omit("method")] = SettingFlags()) -> None:
        seen.append(settings)

    wrapped = with_flags(command)
    assert list(inspect.signature(wrapped).parameters) == ["model", "max_tokens", "offline"]
    wrapped(model="haiku", max_tokens=None, offline=True)  # type: ignore[call-arg]
    assert seen == [SettingFlags(model="haiku", offline=True)] and seen[0].method is None

    def wrong(settings: Annotated[SettingFlags, Omit("nope")] = SettingFlags()) -> None: ...

    with pytest.raises(TypeError, match="SettingFlags has no field 'nope' to omit"):
        with_flags(wrong)
