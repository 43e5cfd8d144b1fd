"""A job's results as answers in the history (`command = batch`), each recorded once.

Every result read from a download is recorded, whether its file is written now or was written by an
earlier run, so a crash between the two loses no row; a result already recorded (an earlier run of
`batch results`, or an earlier attempt of this download) is not recorded again. A row is found again by
its batch id and custom id, kept in its `params`. Rows are written in transactions of `CHUNK`, so 10,000
results are not 10,000 commits. As everywhere in the history, a database that cannot be written warns
once and changes nothing else.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from cvstream.history.store import new_id

if TYPE_CHECKING:
    from cvstream.batch.state import Input, Job
    from cvstream.history.store import Recorder
    from cvstream.source.batches import BatchResult

CHUNK = 500

_INSERT = """INSERT INTO answers (id, conversation_id, created, command, label, model, method, system, message,
    answer, stop_reason, status, error_kind, error_message, input_tokens, output_tokens, cache_read_tokens,
    cache_write_tokens, params)
    VALUES (?, ?, ?, 'batch', ?, ?, 'batch', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_RECORDED = """SELECT json_extract(params, '$.custom_id') FROM answers
    WHERE command = 'batch' AND json_extract(params, '$.batch_id') = ?"""


def _error(result: BatchResult) -> tuple[str, str]:
    """(kind, message) of a result that did not succeed."""
    if result.kind != "errored":
        return result.kind, f"the request was {result.kind} before it ran"
    inner = result.error.get("error") if isinstance(result.error, dict) else None
    if isinstance(inner, dict):
        return str(inner.get("type") or "errored"), str(inner.get("message") or "")
    return "errored", "the request errored"


class JobRecorder:
    """Records one job's results; `add` per result, `flush` at the end of each download attempt."""

    def __init__(self, recorder: Recorder, job: Job) -> None:
        self.recorder = recorder
        self.job = job
        self._seen: dict[str, set[str]] = {}
        self._pending: list[tuple[Any, ...]] = []

    def _recorded(self, batch_id: str) -> set[str]:
        if batch_id not in self._seen:
            self._seen[batch_id] = {str(row[0]) for row in self.recorder.read(_RECORDED, (batch_id,))}
        return self._seen[batch_id]

    def add(self, batch: int, item: Input | None, result: BatchResult) -> None:
        if not self.recorder.working:
            return
        batch_id = self.job.batches[batch].id
        recorded = self._recorded(batch_id)
        if result.custom_id in recorded:
            return
        recorded.add(result.custom_id)
        # The job's shared options; not max_tokens and system, which a document or a prompt line may change.
        options = {k: v for k, v in self.job.options.items() if k not in ("system", "max_tokens")}
        params = {**options, "method": "batch", "batch_id": batch_id, "custom_id": result.custom_id}
        params["job"] = self.job.id
        if result.kind == "succeeded":
            status, kind, message = "complete", None, None
        else:
            status, (kind, message) = "failed", _error(result)
        answer_id = new_id()
        self._pending.append(
            (
                answer_id,
                answer_id,
                time.time(),
                item.label if item else result.custom_id,
                result.model or str(self.job.options.get("model") or "unknown"),
                item.system if item else None,
                item.message if item else "",
                result.text,
                result.stop_reason,
                status,
                kind,
                None if message is None else self.recorder.redact(message),
                result.input_tokens,
                result.output_tokens,
                result.cache_read_tokens,
                result.cache_write_tokens,
                json.dumps(params, sort_keys=True),
            )
        )
        if len(self._pending) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            rows, self._pending = self._pending, []
            self.recorder.write_many(_INSERT, rows)
