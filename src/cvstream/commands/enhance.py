"""`cvstream enhance`: rewrite CV bullets, one file or many (`--jobs` at a time, `--out-dir`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cvstream.context import env_of
from cvstream.errors import UsageError
from cvstream.flags import NetworkFlags, OutputFlags, RequestFlags, SettingFlags, with_flags

EPILOG = (
    "Examples:\n\n"
    "  cvstream enhance bullets.txt\n\n"
    "  cvstream enhance bullets.txt --job job.txt --method stream\n\n"
    "  cvstream enhance a.txt b.txt c.txt --out-dir improved/ -j 4\n\n"
    "  cvstream enhance --example --offline"
)


def example_path() -> Path:
    """The example bullets file shipped inside the package (README's first command)."""
    return Path(__file__).resolve().parent.parent / "examples" / "bullets.txt"


@with_flags
def enhance(
    ctx: typer.Context,
    files: Annotated[
        list[str] | None,
        typer.Argument(help="Bullet files (one bullet per line; - reads stdin). None: read stdin.", show_default=False),
    ] = None,
    job: Annotated[
        Path | None,
        typer.Option("--job", help="A job description to tailor the bullets to.", dir_okay=False),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Files processed at once.", min=1)] = 4,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", "-o", help="Write each result to its own file here.", file_okay=False),
    ] = None,
    example: Annotated[
        bool, typer.Option("--example", help="Use the example bullets shipped with cvstream.", metavar="")
    ] = False,
    settings: SettingFlags = SettingFlags(),
    request: RequestFlags = RequestFlags(),
    output: OutputFlags = OutputFlags(),
    network: NetworkFlags = NetworkFlags(),
) -> int:
    """Rewrite CV bullets: strong verbs, every fact kept, one bullet out per bullet in.

    Bullets are the non-empty lines of each FILE; list markers (-, *, +, •, 1., 1)) are stripped.
    Several files run in one process, --jobs at a time: on stdout one after another under a
    header line, or each to its own file with --out-dir.
    """
    from cvstream.inputs import read_file, read_stdin
    from cvstream.launch import output_mode, preload_sdk, stream_answers, system_text
    from cvstream.prompt import ENHANCE_SYSTEM, enhance_message, parse_bullets

    preload_sdk()
    env = env_of(ctx)
    mode = output_mode(env, output)
    names = list(files or [])
    if example:
        names.append(str(example_path()))
    if not names:
        if env.stdin_isatty:
            raise UsageError("no bullets given", "pass a file (cvstream enhance bullets.txt) or pipe bullets on stdin")
        names = ["-"]
    if names.count("-") > 1:
        raise UsageError("stdin (-) can be read only once")
    if len(names) > 1 and out_dir is None and not mode.several:
        raise UsageError(
            f"--{mode.flag} cannot hold several inputs on one stdout",
            "add --out-dir DIR (one file each), or use --json (NDJSON with an input field)",
        )
    job_text = read_file(str(job), env.cwd) if job is not None else None
    system = system_text(env, request, ENHANCE_SYSTEM)
    inputs = []
    for name in names:
        label = "stdin" if name == "-" else (Path(name).name if example else name)
        text = read_stdin(env.stdin) if name == "-" else read_file(name, env.cwd)
        bullets = parse_bullets(text)
        if not bullets:
            raise UsageError(f"{label} has no bullets (it is empty or blank)")
        inputs.append((label, enhance_message(bullets, job_text)))
    if out_dir is not None:
        from cvstream.run import output_path

        out_dir = out_dir if out_dir.is_absolute() else env.cwd / out_dir
        targets = [output_path(out_dir, label, mode) for label, _ in inputs]
        if len(set(targets)) != len(targets):
            raise UsageError("two inputs would write the same file in --out-dir", "rename one of them")
    return stream_answers(
        env,
        inputs,
        system,
        settings=settings,
        request=request,
        network=network,
        output=output,
        mode=mode,
        jobs=jobs,
        out_dir=out_dir,
    )
