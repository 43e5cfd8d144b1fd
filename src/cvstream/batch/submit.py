"""Submitting a job: items -> custom ids -> batches within the limits -> created, and recorded locally.

The job is recorded after its first batch is created and again after each next one, so an interrupted
or failed submission of a split job still knows the batches that run; inputs whose batch could not be
created are kept as not submitted (and listed with the results).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvstream.batch.follow import remember
from cvstream.batch.plan import MAX_BYTES, MAX_REQUESTS, Item, custom_ids, request_size, split
from cvstream.batch.state import BatchRef, Input, Job, Store
from cvstream.errors import CvstreamError, Interrupted

if TYPE_CHECKING:
    from cvstream.source.batches import BatchApi, BatchInfo


def submit(
    items: list[Item],
    api: BatchApi,
    store: Store,
    *,
    command: str,
    out_dir: Path | None,
    cwd: Path,
    options: dict[str, Any],
    offline: bool,
    announce: Callable[[BatchInfo, int, int], None],
    max_requests: int = MAX_REQUESTS,
    max_bytes: int = MAX_BYTES,
) -> Job:
    """Create the job's batches; `announce(info, index, count)` after each. Raises the API's error (the
    job recorded so far, if any batch was created, keeps the rest as not submitted)."""
    for item in items:
        if item.document is not None:
            store.save_source(item.document.sha256, item.source)
    ids = custom_ids([item.name for item in items])
    ranges = split([request_size(i, item.params) for i, item in zip(ids, items, strict=True)], max_requests, max_bytes)
    job: Job | None = None
    for number, part in enumerate(ranges):
        requests = [{"custom_id": ids[k], "params": items[k].params} for k in part]
        try:
            info = api.create(requests)
        except KeyboardInterrupt:
            if job is None:
                raise Interrupted("interrupted: nothing was submitted") from None
            raise Interrupted(
                f"interrupted: {len(job.batches)} of {len(ranges)} batches were submitted",
                f"`cvstream batch wait {job.id}` follows them; the rest were not submitted",
            ) from None
        except CvstreamError as exc:
            if job is not None:
                exc.message += f" (batch {number + 1} of {len(ranges)}; the {len(job.batches)} before it are running)"
                exc.hint = f"`cvstream batch wait {job.id}` follows those; the rest were not submitted"
            raise
        del requests
        if job is None:
            job = Job(
                id=info.id,
                command=command,
                created_at=datetime.now(UTC).isoformat(),
                out_dir=str(out_dir if out_dir is not None else cwd / info.id),
                options=options,
                offline=offline,
                batches=[],
                inputs=[_input(ids[k], item) for k, item in enumerate(items)],
            )
        job.batches.append(BatchRef(info.id, len(part)))
        for k in part:
            job.inputs[k].batch = number
        remember(job, number, info)
        store.save(job)
        announce(info, number, len(ranges))
    assert job is not None
    return job


def _input(custom_id: str, item: Item) -> Input:
    """The job's record of an item: with the request's user and system text, and its document if any."""
    system = item.params.get("system")
    message = str(item.params["messages"][-1]["content"])
    document = asdict(item.document) if item.document is not None else None
    return Input(custom_id, item.label, item.name, -1, message, system if isinstance(system, str) else None, document)
