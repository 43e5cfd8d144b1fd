"""Local state of batch jobs: one JSON file per job, written atomically, in cvstream's data directory.

`$CVSTREAM_HOME/batches/` when CVSTREAM_HOME is set, else the platform's user data directory
(`~/.local/share/cvstream/batches/` on Linux). Directory 0700, files 0600: prompts are private.

A job is what one `cvstream batch enhance|ask` submitted: one batch, or several when the inputs were
over the API's limits. Its id is its first batch's id, and any of its batch ids finds it too. The file
keeps, per input, its custom id, where it came from, the name of its output file and the request's user
and system text, so results (which arrive in any order) can be matched to inputs days later, and recorded
in the history with what was asked.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cvstream.errors import OutputError, UsageError

VERSION = 1


def state_dir(environ: Mapping[str, str]) -> Path:
    home = environ.get("CVSTREAM_HOME")
    if home:
        return Path(home).expanduser() / "batches"
    import platformdirs

    return platformdirs.user_data_path("cvstream") / "batches"


@dataclass
class BatchRef:
    id: str
    requests: int
    status: str = "in_progress"  # last seen
    counts: dict[str, int] = field(default_factory=dict)  # last seen request_counts
    created_at: str = ""
    ended_at: str | None = None
    expires_at: str = ""


@dataclass
class Input:
    custom_id: str
    label: str
    name: str
    batch: int  # index into Job.batches; -1 when its batch was never submitted
    message: str = ""  # the request's user text and system text, recorded with its answer in the history
    system: str | None = None  # ("" and None in jobs submitted before they were kept)
    document: dict[str, str] | None = None  # a whole CV document: kind, sha256 (its kept copy), filename

    @property
    def filename(self) -> str:
        """The output file of a succeeded request: the document's own name, else <name>.md."""
        return self.document["filename"] if self.document else f"{self.name}.md"


@dataclass
class Job:
    id: str
    command: str  # enhance, ask
    created_at: str
    out_dir: str
    options: dict[str, Any]
    offline: bool
    batches: list[BatchRef]
    inputs: list[Input]

    def by_custom_id(self, batch: int) -> dict[str, Input]:
        return {item.custom_id: item for item in self.inputs if item.batch == batch}

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        # Inputs as rows: a 100,000-input job stays a few MB.
        # Each distinct system text once (`systems`), the rows pointing at it by index.
        systems: dict[str, int] = {}
        data["inputs"] = [
            [
                i.custom_id,
                i.label,
                i.name,
                i.batch,
                i.message,
                None if i.system is None else systems.setdefault(i.system, len(systems)),
                *([i.document] if i.document else []),
            ]
            for i in self.inputs
        ]
        data["systems"] = list(systems)
        return {"version": VERSION, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        return cls(
            id=data["id"],
            command=data["command"],
            created_at=data["created_at"],
            out_dir=data["out_dir"],
            options=data.get("options") or {},
            offline=bool(data.get("offline")),
            batches=[BatchRef(**b) for b in data["batches"]],
            inputs=[_input(row, data.get("systems") or []) for row in data["inputs"]],
        )


def _input(row: list[Any], systems: list[str]) -> Input:
    if len(row) > 5 and row[5] is not None:
        row = [*row[:5], systems[row[5]], *row[6:]]
    return Input(*row)


class Store:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.sources = directory / "sources"  # whole CV documents of jobs, by SHA-256 (their answers are rebuilt
        # into them when the results arrive, however the files were changed or moved meanwhile)

    def save_source(self, sha256: str, data: bytes) -> None:
        """Keep a copy of a document (once per content), 0600 in a 0700 directory."""
        target = self.sources / sha256
        if target.exists():
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.sources.mkdir(exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.sources, prefix=f".{sha256}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            raise OutputError(
                f"cannot keep a copy of the document in {self.sources} ({exc.strerror})",
                "set CVSTREAM_HOME to a writable directory",
            ) from None

    def _prune_sources(self) -> None:
        """Remove the copies no remaining job refers to."""
        if not self.sources.is_dir():
            return
        used = {i.document["sha256"] for job in self.jobs() for i in job.inputs if i.document}
        for path in self.sources.iterdir():
            if path.name not in used and not path.name.startswith("."):
                path.unlink(missing_ok=True)

    def _path(self, job_id: str) -> Path:
        return self.directory / f"{job_id}.json"

    def save(self, job: Job) -> None:
        """Write the job's file atomically (a crash leaves the old file or the new one, never half)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{job.id}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(job.to_json(), handle, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self._path(job.id))
        except OSError as exc:
            raise OutputError(
                f"cannot record the batch job in {self.directory} ({exc.strerror})",
                "set CVSTREAM_HOME to a writable directory",
            ) from None

    def remove(self, job_id: str) -> None:
        try:
            self._path(job_id).unlink(missing_ok=True)
            self._prune_sources()
        except OSError as exc:
            raise OutputError(f"cannot remove the job's record in {self.directory} ({exc.strerror})") from None

    def _load(self, path: Path) -> Job | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Job.from_json(data) if data.get("version") == VERSION else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def jobs(self) -> Iterator[Job]:
        """Every readable job, newest first."""
        if not self.directory.is_dir():
            return
        paths = sorted(self.directory.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        loaded = [job for job in (self._load(p) for p in paths) if job is not None]
        yield from sorted(loaded, key=lambda j: j.created_at, reverse=True)

    def find(self, job_or_batch_id: str | None) -> Job | None:
        """The job with this id or holding this batch; None: the newest job."""
        if job_or_batch_id is None:
            return next(self.jobs(), None)
        direct = self._path(job_or_batch_id)
        if direct.is_file():
            return self._load(direct)
        return next((j for j in self.jobs() if any(b.id == job_or_batch_id for b in j.batches)), None)

    def require(self, job_or_batch_id: str | None) -> Job:
        job = self.find(job_or_batch_id)
        if job is None:
            if job_or_batch_id is None:
                raise UsageError("no batch jobs recorded here yet", "submit one with `cvstream batch enhance` or `ask`")
            raise UsageError(
                f"no local batch job {job_or_batch_id}",
                "`cvstream batch list` shows local jobs and the account's recent batches",
            )
        return job
