"""`cvstream enhance`: rewrite CV bullets, one file or many (`--jobs` at a time, `--out-dir`).

A plain bullets file runs the flat flow (the bullets in, a list out). A whole CV (Markdown, plain text with
section labels, LaTeX, Word) runs the document flow of `rewrite.py`: the same CV comes back with its
bullets rewritten in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cvstream.context import Env, env_of
from cvstream.errors import UsageError
from cvstream.flags import BudgetFlags, HistoryFlags, NetworkFlags, OutputFlags, RequestFlags, SettingFlags, with_flags

if TYPE_CHECKING:
    from collections.abc import Callable

    from cvstream.config import Settings
    from cvstream.rewrite import DocumentFlags, DocumentInput
    from cvstream.run import Job

EPILOG = (
    "Examples:\n\n"
    "  cvstream enhance bullets.txt\n\n"
    "  cvstream enhance bullets.txt --job job.txt --method stream\n\n"
    "  cvstream enhance a.txt b.txt c.txt --out-dir improved/ -j 4\n\n"
    "  cvstream enhance --example --offline\n\n"
    "  cvstream enhance --example cv.md --job job.txt --offline\n\n"
    "  cvstream enhance cv.md > cv.new.md\n\n"
    "  cvstream enhance cv.tex --only Experience --diff | git apply\n\n"
    "  cvstream enhance cv.docx --in-place"
)
DOCUMENTS = "Documents"


# `enhance`'s own inputs, declared once and shared with `cvstream count enhance`.
FilesArg = Annotated[
    list[str] | None,
    typer.Argument(
        help="CVs (.md, .txt, .tex, .docx) or bullet files (one bullet per line); - reads stdin. None: stdin.",
        show_default=False,
    ),
]
JobOpt = Annotated[
    Path | None,
    typer.Option("--job", help="A job description to tailor the bullets to.", dir_okay=False),
]
ExampleOpt = Annotated[
    bool,
    typer.Option(
        "--example",
        help="FILE and --job name files shipped with cvstream: bullets.txt (the default), cv.md, cv.txt, cv.tex, "
        "cv.docx, job.txt; `--example list` lists them.",
        metavar="",
    ),
]
OnlyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--only",
        help="Rewrite only the bullets under headings containing this text (repeatable).",
        rich_help_panel=DOCUMENTS,
        show_default=False,
        metavar="TEXT",
    ),
]


@dataclass
class Prepared:
    """What an `enhance` run sends: one (label, user message) per input, the system text, and, when some
    inputs are whole CVs, each input's document (None for a bullets file; `documents` None: none is one)."""

    inputs: list[tuple[str, str]]
    system: str | None
    documents: list[DocumentInput | None] | None
    document_system: str | None = None  # a document's system text, when the run also has bullets files

    def shape(self, env: Env, flags: DocumentFlags, mode: str) -> Callable[[list[Job], Settings], list[Job]] | None:
        """`launch.stream_answers`' hook giving each document its sink, file name and room for its bullets."""
        if self.documents is None:
            return None
        from cvstream.rewrite import shape_jobs

        return shape_jobs(env, self.documents, flags, mode, self.document_system)


def example_names(env: Env, files: list[str] | None, job: Path | None) -> tuple[list[str], Path | None]:
    """With --example: the shipped files FILE and --job name (none: the bullets file); `list` lists them."""
    from cvstream.shipped import directory, example_path, listing

    if files == ["list"]:
        env.stdout.write(f"The examples shipped with cvstream (in {directory()}):\n{listing()}\n".encode())
        raise typer.Exit()
    names = [str(example_path(name)) for name in files or ["bullets.txt"]]
    return names, example_path(str(job)) if job is not None else None


def read_enhance_inputs(
    env: Env,
    files: list[str] | None,
    job: Path | None,
    example: bool,
    request: RequestFlags,
    flags: DocumentFlags,
    *,
    mode: str,
    out_dir: Path | None,
) -> Prepared:
    """Read and check every input: what `enhance` sends and `count enhance` counts. Each input is read by
    its own kind: a bullets file by the flat flow, a whole CV as a document, in the same run."""
    from cvstream.inputs import decode_input, read_file
    from cvstream.launch import system_text
    from cvstream.prompt import ENHANCE_SYSTEM, enhance_message, parse_bullets
    from cvstream.rewrite import read_documents, read_inputs

    names = list(files or [])
    if example:
        names, job = example_names(env, files, job)
    if not names:
        if env.stdin_isatty:
            raise UsageError("no bullets given", "pass a file (cvstream enhance bullets.txt) or pipe bullets on stdin")
        names = ["-"]
    if names.count("-") > 1:
        raise UsageError("stdin (-) can be read only once")
    job_text = read_file(str(job), env.cwd) if job is not None else None
    labels = ["stdin" if name == "-" else (Path(name).name if example else name) for name in names]
    raw = read_inputs(list(zip(names, labels, strict=True)), env)
    documents = read_documents(raw, env, flags, job_text=job_text, mode=mode, out_dir=out_dir)
    inputs = []
    for index, (_, label, data) in enumerate(raw):
        document = documents[index] if documents is not None else None
        if document is not None:
            inputs.append((label, document.user))
            continue
        bullets = parse_bullets(decode_input(data, label))
        if not bullets:
            raise UsageError(f"{label} has no bullets (it is empty or blank)")
        inputs.append((label, enhance_message(bullets, job_text)))
    if documents is None:
        return Prepared(inputs, system_text(env, request, ENHANCE_SYSTEM), None)
    from cvstream.documents.prompt import DOCUMENT_SYSTEM

    document_system = system_text(env, request, DOCUMENT_SYSTEM)
    if all(document is not None for document in documents):
        return Prepared(inputs, document_system, documents)
    return Prepared(inputs, system_text(env, request, ENHANCE_SYSTEM), documents, document_system)


@with_flags
def enhance(
    ctx: typer.Context,
    files: FilesArg = None,
    job: JobOpt = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Files processed at once.", min=1)] = 4,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", "-o", help="Write each result to its own file here.", file_okay=False),
    ] = None,
    example: ExampleOpt = False,
    only: OnlyOpt = None,
    diff: Annotated[
        bool,
        typer.Option(
            "--diff",
            help="The changes instead of the document: word by word here, a unified diff in a pipe.",
            rich_help_panel=DOCUMENTS,
            metavar="",
        ),
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Exit 6 if a bullet did not come back rewritten.", rich_help_panel=DOCUMENTS, metavar=""
        ),
    ] = False,
    in_place: Annotated[
        bool,
        typer.Option(
            "--in-place",
            help="Rewrite each FILE itself, after a complete answer (keeps NAME.orig).",
            rich_help_panel=DOCUMENTS,
            metavar="",
        ),
    ] = False,
    no_backup: Annotated[
        bool,
        typer.Option("--no-backup", help="With --in-place: keep no NAME.orig.", rich_help_panel=DOCUMENTS, metavar=""),
    ] = False,
    settings: SettingFlags = SettingFlags(),
    request: RequestFlags = RequestFlags(),
    output: OutputFlags = OutputFlags(),
    network: NetworkFlags = NetworkFlags(),
    budget: BudgetFlags = BudgetFlags(),
    history: HistoryFlags = HistoryFlags(),
) -> int:
    """Rewrite CV bullets: strong verbs, every fact kept, one bullet out per bullet in.

    A whole CV (.md, .tex, .docx, or text with headings or section labels) comes back whole, its
    experience and achievement bullets rewritten in place and everything else (skills, languages,
    education, contact lines) kept byte for byte. A plain bullets file: its bullets are the non-empty
    lines; list markers (-, *, +, •, 1., 1)) are stripped. Several files run in one process, --jobs at
    a time, each by its own kind: on stdout one after another under a header line, or each to its own
    file with --out-dir.
    """
    from cvstream.preload import preload_sdk

    preload_sdk()
    from cvstream.launch import output_mode, stream_answers
    from cvstream.rewrite import DocumentFlags

    env = env_of(ctx)
    mode = output_mode(env, output)
    if len(files or []) > 1 and out_dir is None and not mode.several:
        raise UsageError(
            f"--{mode.flag} cannot hold several inputs on one stdout",
            "add --out-dir DIR (one file each), or use --json (NDJSON with an input field)",
        )
    out_dir = out_dir if out_dir is None or out_dir.is_absolute() else env.cwd / out_dir
    flags = DocumentFlags(tuple(only or ()), diff, strict, in_place, no_backup)
    prepared = read_enhance_inputs(env, files, job, example, request, flags, mode=mode.flag, out_dir=out_dir)
    if out_dir is not None:
        from cvstream.sinks import output_path

        documents = prepared.documents or [None] * len(prepared.inputs)
        _unique_targets(
            [
                out_dir / d.filename if d is not None else output_path(out_dir, label, mode)
                for (label, _), d in zip(prepared.inputs, documents, strict=True)
            ]
        )
    shape = prepared.shape(env, flags, mode.flag)
    return stream_answers(
        env,
        prepared.inputs,
        prepared.system,
        settings=settings,
        budget=budget,
        request=request,
        network=network,
        output=output,
        mode=mode,
        jobs=jobs,
        out_dir=out_dir,
        shape=shape,
        history=history,
        command="enhance",
    )


def _unique_targets(targets: list[Path]) -> None:
    if len(set(targets)) != len(targets):
        raise UsageError("two inputs would write the same file in --out-dir", "rename one of them")
