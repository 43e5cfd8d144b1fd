"""`cvstream batch`: many inputs through the Message Batches API (half price, results within 24 hours).

Arguments -> items and a session; `cvstream.batch.actions` does the rest. Nothing heavy is imported
here: the SDK loads on a thread when a subcommand runs, while its inputs are read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cvstream.commands.enhance import ExampleOpt, JobOpt
from cvstream.context import env_of
from cvstream.errors import UsageError
from cvstream.flags import HistoryFlags, NetworkFlags, Omit, RequestFlags, SettingFlags, with_flags

if TYPE_CHECKING:
    from cvstream.batch.actions import Session
    from cvstream.batch.items import RequestOptions
    from cvstream.batch.plan import Item
    from cvstream.source.batches import BatchApi

app = typer.Typer(
    name="batch",
    help="Thousands of inputs through the Message Batches API: half price, results within 24 hours.",
    no_args_is_help=True,
)

API_MAX_REQUESTS = 100_000

OutDirOpt = Annotated[
    Path | None,
    typer.Option("--out-dir", "-o", help="One file per input here (default: ./BATCH_ID/).", file_okay=False),
]
WaitOpt = Annotated[bool, typer.Option("--wait", help="Wait for the batch to end, then write the results.", metavar="")]
BatchSizeOpt = Annotated[
    int,
    typer.Option(
        "--batch-size", help="Most requests per batch; more are split into batches followed as one job.", min=1
    ),
]
IdArg = Annotated[
    str | None,
    typer.Argument(help="A job id or batch id (default: the newest local job).", show_default=False),
]
# Of the output flags only these two apply to batches (there is no answer on stdout to format).
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No notes, progress or retry lines on stderr.", metavar="")
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show a traceback with errors.", metavar="")]
# Batch requests are not streamed (no --method); results are recorded, not continued (only --no-log).
BatchSettings = Annotated[SettingFlags, Omit("method")]
BatchHistory = Annotated[HistoryFlags, Omit("continue_", "cid")]


def _run(
    ctx: typer.Context,
    work: Callable[[Session, RequestOptions], int],
    *,
    quiet: bool,
    network: NetworkFlags,
    settings: SettingFlags | None = None,
    request: RequestFlags | None = None,
    history: HistoryFlags | None = None,
) -> int:
    """Resolve settings, then run `work` in a session; the connection (or the --offline mock) is made on
    first use, while the SDK loads on a thread (inputs are read meanwhile)."""
    from cvstream.preload import preload_sdk

    preload_sdk("cvstream.source.batches")
    from cvstream.batch.actions import Session
    from cvstream.batch.items import RequestOptions
    from cvstream.batch.state import Store, state_dir
    from cvstream.config import known_secrets
    from cvstream.launch import connect, settings_for, system_text
    from cvstream.report import Reporter

    env = env_of(ctx)
    flags = settings or SettingFlags()
    reporter = Reporter(env, quiet=quiet, secrets=known_secrets(env.environ, env.cwd))
    resolved = settings_for(env, flags, reporter.warning)
    opened: list[Any] = []

    def open_api() -> BatchApi:
        from cvstream.source.batches import BatchApi

        conn, mock = connect(resolved, network)
        if mock is not None:
            opened.append(mock)
            reporter.note(f"offline: batches run on cvstream's built-in mock server at {conn.base_url}")
        api = BatchApi(conn, on_retry=reporter.retry)
        opened.append(api)
        return api

    request = request or RequestFlags()
    options = RequestOptions(
        model=resolved.model.value,
        max_tokens=resolved.max_tokens.value,
        system=system_text(env, request, None),
        thinking=request.thinking,
        effort=request.effort.value if request.effort else None,
        max_tokens_default=resolved.max_tokens.source == "default",
    )
    no_log = history is not None and history.no_log
    session = Session(env, reporter, Store(state_dir(env.environ)), resolved.offline.value, open_api, no_log)
    try:
        return work(session, options)
    finally:
        for thing in reversed(opened):
            thing.close()


def _submit(
    s: Session, items: list[Item], request: RequestOptions, command: str, out_dir: Path | None, wait: bool, size: int
) -> int:
    from cvstream.batch import actions

    if size > API_MAX_REQUESTS:
        raise UsageError(f"--batch-size is at most {API_MAX_REQUESTS:,} (the API's limit), not {size:,}")
    target = None if out_dir is None else (out_dir if out_dir.is_absolute() else s.env.cwd / out_dir)
    if target is not None:
        clash = next((i for i in items if (target / i.filename).exists()), None)
        if clash is not None:
            raise UsageError(
                f"{target / clash.filename} already exists, so the result of {clash.label} would not be written",
                "pick another --out-dir, or remove the files there",
            )
    options = {"model": request.model, "max_tokens": request.max_tokens, "thinking": request.thinking}
    options |= {"effort": request.effort, "system": "default" if request.system is None else "given"}
    limits = {"max_requests": size}
    job = actions.submit(s, items, command=command, out_dir=target, options=options, limits=limits)
    if s.offline and not wait:
        s.reporter.note("offline: waiting here, as the built-in mock's batches end with this run")
        wait = True
    if not wait:
        s.reporter.note(f"follow it with: cvstream batch wait {job.id}   (results go to {job.out_dir})")
        return 0
    return actions.follow(s, job, None)


@app.command(
    epilog=(
        "Examples:\n\n"
        "  cvstream batch enhance cvs/*.txt --out-dir improved/\n\n"
        "  cvstream batch enhance cvs/*.txt --job job.txt --wait\n\n"
        "  cvstream batch enhance --example --offline --out-dir out/\n\n"
        "  cvstream batch enhance --example bullets.txt cv.md cv.tex --offline --out-dir out/"
    )
)
@with_flags
def enhance(
    ctx: typer.Context,
    files: Annotated[
        list[str] | None,
        typer.Argument(
            help="Bullet files (one bullet per line) or whole CVs (.md, .tex, .docx, plain text); - reads stdin.",
            show_default=False,
        ),
    ] = None,
    job: JobOpt = None,
    example: ExampleOpt = False,
    out_dir: OutDirOpt = None,
    wait: WaitOpt = False,
    batch_size: BatchSizeOpt = API_MAX_REQUESTS,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    settings: BatchSettings = SettingFlags(),
    request: RequestFlags = RequestFlags(),
    network: NetworkFlags = NetworkFlags(),
    history: BatchHistory = HistoryFlags(),
) -> int:
    """Submit one request per file, exactly as `cvstream enhance FILE` would send it.

    Prints the job id (its first batch's id) on stdout and exits; `cvstream batch wait ID` follows it
    later. Results are written as OUT_DIR/<file stem>.md; a whole CV comes back whole, its bullets
    rewritten in place, as OUT_DIR/<its own name> (cv.tex -> OUT_DIR/cv.tex).
    """
    from cvstream.batch.items import enhance_inputs, enhance_items
    from cvstream.commands.enhance import example_names

    names = list(files or [])
    if example:
        names, job = example_names(env_of(ctx), files, job)
    if not names:
        raise UsageError("no files given", "pass files (cvstream batch enhance cvs/*.txt), or - for stdin")

    def work(s: Session, options: RequestOptions) -> int:
        items = enhance_items(enhance_inputs(s.env, names, job, example=example), options)
        return _submit(s, items, options, "enhance", out_dir, wait, batch_size)

    return _run(
        ctx,
        work,
        quiet=quiet,
        network=network,
        settings=settings,
        request=request,
        history=history,
    )


@app.command(
    epilog=(
        "Examples:\n\n"
        "  cvstream batch ask --prompts questions.txt --out-dir answers/\n\n"
        "  jq -c '{prompt: .q, max_tokens: 300}' qs.json | cvstream batch ask --prompts - --wait"
    )
)
@with_flags
def ask(
    ctx: typer.Context,
    prompts: Annotated[
        str,
        typer.Option(
            "--prompts",
            "-p",
            help=(
                'One prompt per line, or JSONL with "prompt" and optional "system", "model", "max_tokens";'
                " - reads stdin."
            ),
        ),
    ],
    out_dir: OutDirOpt = None,
    wait: WaitOpt = False,
    batch_size: BatchSizeOpt = API_MAX_REQUESTS,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    settings: BatchSettings = SettingFlags(),
    request: RequestFlags = RequestFlags(),
    network: NetworkFlags = NetworkFlags(),
    history: BatchHistory = HistoryFlags(),
) -> int:
    """Submit one request per prompt, exactly as `cvstream ask` would send it.

    Results are written as OUT_DIR/<line number>.md.
    """
    from cvstream.batch.items import ask_items

    def work(s: Session, options: RequestOptions) -> int:
        items = ask_items(prompts, s.env.stdin, s.env.cwd, options)
        return _submit(s, items, options, "ask", out_dir, wait, batch_size)

    return _run(ctx, work, quiet=quiet, network=network, settings=settings, request=request, history=history)


def _absolute(s: Session, path: Path | None) -> Path | None:
    return path if path is None or path.is_absolute() else s.env.cwd / path


@app.command("wait")
@with_flags
def wait_(
    ctx: typer.Context,
    job_id: IdArg = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", "-o", help="Write the files here instead.", file_okay=False)
    ] = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    network: NetworkFlags = NetworkFlags(),
    history: BatchHistory = HistoryFlags(),
) -> int:
    """Wait for a job's batches to end (a progress bar on stderr), then write the results.

    Polls every 5 s, backing off to 60 s. Ctrl-C stops waiting; the batches keep running.
    """
    from cvstream.batch import actions

    def work(s: Session, _: RequestOptions) -> int:
        return actions.follow(s, s.store.require(job_id), _absolute(s, out_dir))

    return _run(ctx, work, quiet=quiet, network=network, history=history)


@app.command()
@with_flags
def results(
    ctx: typer.Context,
    job_id: IdArg = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", "-o", help="Write the files here (default: the job's).", file_okay=False),
    ] = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    network: NetworkFlags = NetworkFlags(),
    history: BatchHistory = HistoryFlags(),
) -> int:
    """Download an ended job's results: one file per input, skipping files already written.

    A succeeded request writes <name>.md, an errored one <name>.error.json; expired and canceled
    ones are listed on stderr. Exit 8 when any request did not succeed. A batch that is not a local
    job is written by custom id (--out-dir required).
    """
    from cvstream.batch import actions

    def work(s: Session, _: RequestOptions) -> int:
        target = _absolute(s, out_dir)
        job = s.store.find(job_id)
        if job is None and job_id is not None and job_id.startswith("msgbatch_"):
            job = actions.adhoc(job_id, target)
        return actions.results(s, job or s.store.require(job_id), target)

    return _run(ctx, work, quiet=quiet, network=network, history=history)


@app.command("list")
@with_flags
def list_(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", help="How many of the account's recent batches.", min=1)] = 20,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    network: NetworkFlags = NetworkFlags(),
) -> int:
    """The account's recent batches (marked with their local job), then older local jobs as last seen."""
    from cvstream.batch import actions

    def work(s: Session, _: RequestOptions) -> int:
        return actions.listing(s, limit)

    return _run(ctx, work, quiet=quiet, network=network)


def _on_job(action: str) -> Callable[..., int]:
    """`status`, `cancel` and `delete`: one job (or a batch that is not a local job)."""

    @with_flags
    def command(
        ctx: typer.Context,
        job_id: IdArg = None,
        quiet: QuietOpt = False,
        debug: DebugOpt = False,
        network: NetworkFlags = NetworkFlags(),
    ) -> int:
        from cvstream.batch import actions

        def work(s: Session, _: RequestOptions) -> int:
            job = s.store.find(job_id)
            local = job is not None
            if job is None and job_id is not None and job_id.startswith("msgbatch_"):
                job = actions.adhoc(job_id, s.env.cwd)
            job = job or s.store.require(job_id)
            if action == "status":
                return actions.status(s, job)
            if action == "cancel":
                return actions.cancel(s, job)
            return actions.delete(s, job, local)

        return _run(ctx, work, quiet=quiet, network=network)

    return command


app.command("status", help="A job's batches: status, counts (ok/errored/expired/canceled/processing), times.")(
    _on_job("status")
)
app.command("cancel", help="Cancel a job's batches; requests already done keep their results.")(_on_job("cancel"))
app.command("delete", help="Delete a job's ended batches and their results from the API, and the local record.")(
    _on_job("delete")
)
