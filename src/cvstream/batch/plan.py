"""Pure planning of a batch job: inputs -> requests with custom ids -> batches within the API's limits.

Nothing here does I/O: `prompts_from_lines` parses the lines of a `--prompts` file, `custom_ids` derives
ids the API accepts, and `split` cuts the requests into batches of at most `max_requests` requests and
`max_bytes` bytes of JSON each (the API's limits by default; parameters, so tests can lower them).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from cvstream.errors import UsageError

MAX_REQUESTS = 100_000  # per batch (the API's limit)
MAX_BYTES = 256 * 1024 * 1024  # per batch creation request body (the API's limit)
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]+")
_ID_LENGTH = 64


@dataclass(frozen=True, slots=True)
class DocumentSource:
    """A whole CV document of a job: how it is parsed, its bytes' SHA-256 (the name of the copy kept
    with the job's state) and the name of the rewritten document in the output directory."""

    kind: str  # markdown, text, latex, docx
    sha256: str
    filename: str  # "anna.tex"


@dataclass(frozen=True, slots=True)
class Item:
    """One input of a job: where it came from, the name of its output file, and its request."""

    label: str  # "cv/anna.txt", "prompts.txt:42"
    name: str  # the output file's stem: "anna", "42" (a whole document: its name, "anna.tex")
    params: dict[str, Any]  # a non-streaming Messages request, exactly what the streaming command sends
    document: DocumentSource | None = None  # a whole CV document: its answer is rebuilt into it
    source: bytes = b""  # the document's bytes

    @property
    def filename(self) -> str:
        """The output file of a succeeded request."""
        return self.document.filename if self.document is not None else f"{self.name}.md"


@dataclass(frozen=True, slots=True)
class Prompt:
    line: int
    prompt: str
    system: str | None = None
    model: str | None = None
    max_tokens: int | None = None


def prompts_from_lines(lines: Iterable[tuple[int, str]], source: str) -> Iterator[Prompt]:
    """Prompts from (line number, text) pairs: one prompt per non-blank line, or JSONL objects with
    `prompt` and optional `system`, `model`, `max_tokens` (JSONL when the first non-blank line starts
    with `{`). Blank lines are skipped; line numbers name the outputs."""
    jsonl: bool | None = None
    for number, raw in lines:
        text = raw.rstrip("\r\n")
        if not text.strip():
            continue
        if jsonl is None:
            jsonl = text.lstrip().startswith("{")
        if not jsonl:
            yield Prompt(number, text.strip())
            continue
        yield _json_prompt(number, text, source)


def _json_prompt(number: int, text: str, source: str) -> Prompt:
    where = f"{source}:{number}"
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{where}: not valid JSON ({exc.msg})", "one JSON object per line, or plain text lines"
        ) from None
    if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str) or not obj["prompt"].strip():
        raise UsageError(f'{where}: expected an object with a non-empty "prompt" string')
    unknown = set(obj) - {"prompt", "system", "model", "max_tokens"}
    if unknown:
        raise UsageError(f"{where}: unknown field {sorted(unknown)[0]!r}", "fields: prompt, system, model, max_tokens")
    for name in ("system", "model"):
        if obj.get(name) is not None and not isinstance(obj[name], str):
            raise UsageError(f'{where}: "{name}" must be a string')
    max_tokens = obj.get("max_tokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise UsageError(f'{where}: "max_tokens" must be a whole number of at least 1')
    return Prompt(number, obj["prompt"], obj.get("system"), obj.get("model"), max_tokens)


def custom_ids(names: list[str]) -> list[str]:
    """One id per name, valid for the API (`^[a-zA-Z0-9_-]{1,64}$`) and unique, as close to the name as
    can be: unsafe characters become `_`; a name cut to fit, or clashing with another, gets a short hash."""
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        safe = _UNSAFE.sub("_", name).strip("_") or "input"
        candidate = safe if len(safe) <= _ID_LENGTH else _hashed(safe, name)
        salt = 0
        while candidate in seen:
            salt += 1
            candidate = _hashed(safe, f"{name}\0{salt}")
        seen.add(candidate)
        out.append(candidate)
    return out


def _hashed(safe: str, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return f"{safe[: _ID_LENGTH - 11]}-{digest}"


def request_size(custom_id: str, params: dict[str, Any]) -> int:
    """Bytes this request adds to a creation body (an upper bound: the default, spacious JSON, ASCII)."""
    return len(json.dumps({"custom_id": custom_id, "params": params})) + 2


def split(sizes: list[int], max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES) -> list[range]:
    """Cut requests (given by their sizes) into consecutive batches within both limits."""
    overhead = len('{"requests": []}')
    batches: list[range] = []
    start, used = 0, overhead
    for index, size in enumerate(sizes):
        if size + overhead > max_bytes:
            raise UsageError(
                f"input {index + 1} alone is {size:,} bytes as a request, over the batch limit of {max_bytes:,} bytes"
            )
        if index > start and (index - start >= max_requests or used + size > max_bytes):
            batches.append(range(start, index))
            start, used = index, overhead
        used += size
    if sizes:
        batches.append(range(start, len(sizes)))
    return batches
