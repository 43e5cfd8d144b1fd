"""Inputs of `batch enhance` and `batch ask` -> items: each request exactly as the streaming command sends it.

`batch enhance` reads its files as `enhance` does (`rewrite.read_inputs`, `rewrite.read_documents` for
whole CV documents). A `--prompts` file
follows the same rules as any input (`inputs.py`: UTF-8, no NUL bytes, at most 1 MiB) per line, and may
itself be any size (it is read line by line).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from cvstream.batch.plan import DocumentSource, Item, prompts_from_lines
from cvstream.context import Env
from cvstream.errors import UsageError
from cvstream.inputs import MAX_INPUT_BYTES, decode_input
from cvstream.prompt import ask_message

if TYPE_CHECKING:
    from cvstream.rewrite import DocumentInput


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """What every request of the job shares (a prompt line may override model and max_tokens)."""

    model: str
    max_tokens: int
    system: str | None  # None: the command's own (per input for `batch enhance`: bullets or a document)
    thinking: bool
    effort: str | None
    max_tokens_default: bool = False  # not chosen: a whole document gets room for all its bullets


@dataclass(frozen=True, slots=True)
class EnhanceInput:
    """One input of `batch enhance`, read as `enhance` reads it."""

    label: str
    user: str  # the user message
    document: DocumentInput | None = None  # a whole CV document (else a bullets file)
    kind: str = "bullets"
    data: bytes = b""  # a document's bytes (kept with the job: its answer is rebuilt around them)


def _params(options: RequestOptions, user: str, **overrides: object) -> dict[str, Any]:
    from cvstream.source import Request

    fields: dict[str, object] = {
        "model": options.model,
        "max_tokens": options.max_tokens,
        "system": options.system,
        "thinking": options.thinking,
        "effort": options.effort,
    }
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return Request(user=user, **fields).params()  # type: ignore[arg-type]


def enhance_inputs(env: Env, names: list[str], job: Path | None, *, example: bool = False) -> list[EnhanceInput]:
    """Each file (`-`: stdin, once) read as `enhance` reads it (`rewrite.read_inputs`): a bullets file
    gives the bullets request of `cvstream enhance bullets.txt`, a whole CV document (.md, .tex, .docx, a
    plain-text CV) the numbered-bullet request of `cvstream enhance cv.md`."""
    from cvstream.documents import kind_of
    from cvstream.inputs import read_file
    from cvstream.prompt import enhance_message, parse_bullets
    from cvstream.rewrite import DocumentFlags, read_documents, read_inputs

    if names.count("-") > 1:
        raise UsageError("stdin (-) can be read only once")
    labels = ["stdin" if name == "-" else (Path(name).name if example else name) for name in names]
    job_text = read_file(str(job), env.cwd) if job is not None else None
    inputs = []
    for name, label, data in read_inputs(list(zip(names, labels, strict=True)), env):
        text = None if name.lower().endswith(".docx") else decode_input(data, label)
        kind = kind_of(name if name != "-" else "", text)
        if kind != "bullets":
            # Batches always write files (a Word file too), so they pass as --out-dir would.
            documents = read_documents(
                [(name, label, data)], env, DocumentFlags(), job_text=job_text, mode="raw", out_dir=env.cwd
            )
            document = documents[0] if documents is not None else None
            assert document is not None  # (not a bullets file)
            inputs.append(EnhanceInput(label, document.user, document, kind, data))
            continue
        assert text is not None
        bullets = parse_bullets(text)
        if not bullets:
            raise UsageError(f"{label} has no bullets (it is empty or blank)")
        inputs.append(EnhanceInput(label, enhance_message(bullets, job_text)))
    return inputs


def enhance_items(inputs: list[EnhanceInput], options: RequestOptions) -> list[Item]:
    """One item per input of `enhance`'s reading: a bullets file is named by its stem (written as
    <stem>.md), a whole document by its name (written back whole as itself: cv.tex; failed: cv.tex.error.json)."""
    from cvstream.documents.prompt import DOCUMENT_SYSTEM
    from cvstream.prompt import ENHANCE_SYSTEM

    items = []
    for given in inputs:
        doc = given.document
        if doc is None:
            system = ENHANCE_SYSTEM if options.system is None else options.system
            items.append(Item(given.label, Path(given.label).stem, _params(options, given.user, system=system)))
            continue
        system = DOCUMENT_SYSTEM if options.system is None else options.system
        max_tokens = doc.max_tokens(options.max_tokens) if options.max_tokens_default else options.max_tokens
        params = _params(options, given.user, system=system, max_tokens=max_tokens)
        source = DocumentSource(given.kind, hashlib.sha256(given.data).hexdigest(), doc.filename)
        items.append(Item(given.label, doc.filename, params, source, given.data))
    writes: dict[str, str] = {}
    for item in items:
        for written in (item.filename, f"{item.name}.error.json"):
            if written in writes:
                raise UsageError(f"{writes[written]} and {item.label} would both write {written}", "rename one of them")
            writes[written] = item.label
    return items


def _lines(handle: BinaryIO, source: str) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(handle, start=1):
        if len(raw) > MAX_INPUT_BYTES:
            raise UsageError(f"{source}:{number} is over the limit of {MAX_INPUT_BYTES:,} bytes")
        yield number, decode_input(raw, f"{source}:{number}")


def ask_items(prompts: str, stdin: BinaryIO, cwd: Path, options: RequestOptions) -> list[Item]:
    """One item per prompt of a `--prompts` file (`-`: stdin), named by its line number."""
    source = "stdin" if prompts == "-" else prompts
    if prompts == "-":
        return _prompt_items(_lines(stdin, source), source, options)
    path = Path(prompts) if Path(prompts).is_absolute() else cwd / prompts
    if not path.is_file():
        raise UsageError(
            f"{prompts}: no such file" if not path.exists() else f"{prompts} is not a file", "check the path"
        )
    try:
        with path.open("rb") as handle:
            return _prompt_items(_lines(handle, source), source, options)
    except OSError as exc:
        raise UsageError(f"{prompts}: cannot read it ({exc.strerror})") from None


def _prompt_items(lines: Iterator[tuple[int, str]], source: str, options: RequestOptions) -> list[Item]:
    items = [
        Item(
            f"{source}:{p.line}",
            str(p.line),
            _params(options, ask_message([p.prompt], None), model=p.model, max_tokens=p.max_tokens, system=p.system),
        )
        for p in prompts_from_lines(lines, source)
    ]
    if not items:
        raise UsageError(f"{source} has no prompts (it is empty or blank)")
    return items
