"""`cvstream count ask ...` / `cvstream count enhance ...`: the input tokens of a run, before sending it.

The inputs are read by `ask`'s and `enhance`'s own `read_inputs`, with their own argument declarations
and flag groups, so `count` takes exactly what they take. Counting is `messages/count_tokens` (free,
nothing generated); the context window comes from the models list (fetched when the cache is stale).
"""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cvstream.commands.ask import PromptArg
from cvstream.commands.enhance import ExampleOpt, FilesArg, JobOpt, OnlyOpt
from cvstream.context import Env, env_of
from cvstream.flags import InputFlags, NetworkFlags, RequestFlags, SettingFlags, with_flags

if TYPE_CHECKING:
    from collections.abc import Callable

    from cvstream.config import Settings
    from cvstream.models import ModelEntry
    from cvstream.prices import Price
    from cvstream.run import Job

app = typer.Typer(
    name="count",
    help="Count the input tokens of an `ask` or `enhance` run before sending it (free: nothing is generated).",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="NDJSON: one line per input.", metavar="")]

EPILOG = (
    "Examples:\n\n"
    '  git diff | cvstream count ask "review this"\n\n'
    "  cvstream count enhance cv.md --job job.txt -m haiku\n\n"
    "  cvstream count enhance *.txt --json | jq .input_tokens"
)


@app.command("ask", epilog=EPILOG)
@with_flags
def count_ask(
    ctx: typer.Context,
    prompt: PromptArg = None,
    json: JsonOpt = False,
    settings: SettingFlags = SettingFlags(),
    request: RequestFlags = RequestFlags(),
    network: NetworkFlags = NetworkFlags(),
    stdin: InputFlags = InputFlags(),
) -> int:
    """Count the input tokens `cvstream ask` would send (same arguments and options)."""
    from cvstream.commands.ask import read_inputs
    from cvstream.preload import preload_sdk

    preload_sdk()
    env = env_of(ctx)
    inputs, system = read_inputs(env, prompt, request, stdin)
    return count_inputs(env, inputs, system, settings, request, network, json)


@app.command("enhance", epilog=EPILOG)
@with_flags
def count_enhance(
    ctx: typer.Context,
    files: FilesArg = None,
    job: JobOpt = None,
    example: ExampleOpt = False,
    only: OnlyOpt = None,
    json: JsonOpt = False,
    settings: SettingFlags = SettingFlags(),
    request: RequestFlags = RequestFlags(),
    network: NetworkFlags = NetworkFlags(),
) -> int:
    """Count the input tokens `cvstream enhance` would send, per file (same arguments and options)."""
    from cvstream.commands.enhance import read_enhance_inputs
    from cvstream.preload import preload_sdk
    from cvstream.rewrite import DocumentFlags

    preload_sdk()
    env = env_of(ctx)
    flags = DocumentFlags(tuple(only or ()))
    prepared = read_enhance_inputs(env, files, job, example, request, flags, mode="raw", out_dir=None)
    # A whole CV gets the room for its bullets that `enhance` would give it (shape_jobs), so count that.
    shape = prepared.shape(env, flags, "raw")
    return count_inputs(env, prepared.inputs, prepared.system, settings, request, network, json, shape)


def count_inputs(
    env: Env,
    inputs: list[tuple[str, str]],
    system: str | None,
    settings: SettingFlags,
    request: RequestFlags,
    network: NetworkFlags,
    json: bool,
    shape: Callable[[list[Job], Settings], list[Job]] | None = None,
) -> int:
    """Count each input as the run would send it; print a table, or NDJSON with --json."""
    from cvstream.commands.models import load_catalog
    from cvstream.config import known_secrets
    from cvstream.launch import connect, price_of, settings_for
    from cvstream.report import Reporter
    from cvstream.run import Job
    from cvstream.source import Request, count_tokens

    reporter = Reporter(env, secrets=known_secrets(env.environ, env.cwd))
    resolved = settings_for(env, settings, reporter.warning)
    model, max_tokens = resolved.model.value, resolved.max_tokens.value
    catalog, problem = load_catalog(env, resolved, network)
    entry = catalog.get(model) or resolved.resolved_model.entry
    if problem and (entry is None or entry.max_input_tokens is None):
        reporter.note(f"note: {model}'s context window is unknown (cannot fetch the models list: {problem})")
    price = price_of(env, resolved)
    conn, mock = connect(resolved, network)
    effort = request.effort.value if request.effort else None
    jobs = [Job(label, Request(model, max_tokens, user, system, request.thinking, effort)) for label, user in inputs]
    if shape is not None:
        jobs = shape(jobs, resolved)
    rows = []
    try:
        for job in jobs:
            tokens = count_tokens(conn, job.request)
            rows.append(_row(job.label, model, tokens, job.request.max_tokens, entry, price))
    finally:
        if mock is not None:
            mock.close()
    lines = [jsonlib.dumps(row) for row in rows] if json else _table(rows)
    env.stdout.write("".join(line + "\n" for line in lines).encode())
    env.stdout.flush()
    for row in rows:
        if not json and row["fits"] is False:
            reporter.note(
                f"note: {row['input']}: {row['input_tokens']:,} input tokens + --max-tokens {row['max_tokens']:,} "
                f"do not fit in {model}'s context window of {row['context_window']:,}"
            )
    return 0


def _row(
    label: str, model: str, tokens: int, max_tokens: int, entry: ModelEntry | None, price: Price | None
) -> dict[str, Any]:
    window = entry.max_input_tokens if entry is not None else None
    return {
        "input": label,
        "model": model,
        "input_tokens": tokens,
        "context_window": window,
        "left": None if window is None else window - tokens,
        "max_tokens": max_tokens,
        "fits": None if window is None else tokens + max_tokens <= window,
        "max_cost_usd": None if price is None else round(price.worst_case(tokens, max_tokens), 6),
    }


def _table(rows: list[dict[str, Any]]) -> list[str]:
    def number(value: int | None) -> str:
        return "-" if value is None else f"{value:,}"

    header = ("input", "model", "tokens", "context window", "left")
    cells = [header] + [
        (
            Path(r["input"]).name if len(r["input"]) > 40 else r["input"],
            r["model"],
            number(r["input_tokens"]),
            number(r["context_window"]),
            number(r["left"]),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return [
        "  ".join(
            c.rjust(w) if i >= 2 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in cells
    ]
