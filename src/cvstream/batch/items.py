"""Inputs of `batch enhance` and `batch ask` -> items: each request exactly as the streaming command sends it.

`batch enhance` reads its files as `enhance` does (`rewrite.read_inputs`). A `--prompts` file
follows the same rules as any input (`inputs.py`: UTF-8, no NUL bytes, at most 1 MiB) per line, and may
itself be any size (it is read line by line).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cvstream.batch.plan import Item, prompts_from_lines
from cvstream.context import Env
from cvstream.errors import UsageError
from cvstream.inputs import MAX_INPUT_BYTES, decode_input
from cvstream.prompt import ask_message


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """What every request of the job shares (a prompt line may override model and max_tokens)."""

    model: str
    max_tokens: int
    system: str | None
    thinking: bool
    effort: str | None


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


def bullet_inputs(env: Env, names: list[str], job: Path | None, *, example: bool = False) -> list[tuple[str, str]]:
    """(label, user message) per bullet file (`-`: stdin, once), read as `enhance` reads its inputs
    (`rewrite.read_inputs`). Whole CV documents are refused: their answers are documents rebuilt
    around the rewritten bullets, which batches do not do yet."""
    from cvstream.documents import kind_of
    from cvstream.inputs import read_file
    from cvstream.prompt import enhance_message, parse_bullets
    from cvstream.rewrite import read_inputs

    if names.count("-") > 1:
        raise UsageError("stdin (-) can be read only once")
    labels = ["stdin" if name == "-" else (Path(name).name if example else name) for name in names]
    job_text = read_file(str(job), env.cwd) if job is not None else None
    inputs = []
    for name, label, data in read_inputs(list(zip(names, labels, strict=True)), env):
        text = None if name.lower().endswith(".docx") else decode_input(data, label)
        kind = kind_of(name if name != "-" else "", text)
        if kind != "bullets" or text is None:
            raise UsageError(
                f"{label} is a whole CV document ({kind}); batch enhance takes bullet files",
                f"rewrite it with `cvstream enhance {label}`, or put its bullets in a plain file",
            )
        bullets = parse_bullets(text)
        if not bullets:
            raise UsageError(f"{label} has no bullets (it is empty or blank)")
        inputs.append((label, enhance_message(bullets, job_text)))
    return inputs


def enhance_items(inputs: list[tuple[str, str]], options: RequestOptions) -> list[Item]:
    """One item per (label, user message) of `enhance`'s reading, named by the file's stem."""
    items = [Item(label, Path(label).stem, _params(options, user)) for label, user in inputs]
    stems: dict[str, str] = {}
    for item in items:
        if item.name in stems:
            raise UsageError(
                f"{stems[item.name]} and {item.label} would both write {item.name}.md", "rename one of them"
            )
        stems[item.name] = item.label
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
