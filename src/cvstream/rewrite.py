"""The whole-CV flow of `enhance`: files -> documents, the checks made before any request, each input's sink.

`enhance` calls `read_documents` first: it returns None when every input is a plain bullets file and no
document flag was given, and the flat flow runs exactly as before. Otherwise it returns, for each input
in order, a `DocumentInput` (its parsed document and, for .docx, the parsed file, its user message, and
a sink factory the run path calls for it: stdout or an --out-dir file), or None for a plain bullets file
among documents, which keeps the flat flow of its own (`shape_jobs` leaves its job as it is).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from cvstream.documents.job import DocumentJob, DocumentOptions
from cvstream.errors import UsageError

if TYPE_CHECKING:
    from cvstream.config import Settings
    from cvstream.context import Env
    from cvstream.documents.docx import WordFile
    from cvstream.run import Job
    from cvstream.sinks import Sink

_ZIP = b"PK\x03\x04"  # how every .docx file begins
_SUFFIX = {"markdown": ".md", "text": ".txt", "latex": ".tex", "docx": ".docx"}
# A bullet of the answer is about 40 tokens; the default max_tokens (1024) would cut a long CV short.
TOKENS_PER_BULLET = 80
MAX_DOCUMENT_TOKENS = 32_000  # within every current model's output limit


@dataclass(frozen=True)
class DocumentFlags:
    only: tuple[str, ...] = ()
    diff: bool = False
    strict: bool = False
    in_place: bool = False
    no_backup: bool = False

    @property
    def given(self) -> bool:
        return bool(self.only or self.diff or self.strict or self.in_place or self.no_backup)


@dataclass
class DocumentInput:
    label: str
    job: DocumentJob
    user: str  # the user message: numbered bullets under their context

    @property
    def filename(self) -> str:
        """Its name in --out-dir: the input's own name and extension."""
        name = Path(self.label).name if self.label != "stdin" else "stdin"
        return name if Path(name).suffix else name + _SUFFIX[self.job.document.kind]

    def max_tokens(self, configured: int) -> int:
        needed = min(MAX_DOCUMENT_TOKENS, TOKENS_PER_BULLET * len(self.job.document.bullets) + 256)
        return max(configured, needed)


Raw = tuple[str, str, bytes]  # (name as given, label, bytes)


def read_inputs(names: list[tuple[str, str]], env: Env) -> list[Raw]:
    """Every input's bytes, read once (stdin included), with the usual checks; `names` holds (name, label)."""
    from cvstream.inputs import MAX_INPUT_BYTES, read_bytes

    return [
        (name, label, env.stdin.read(MAX_INPUT_BYTES + 1) if name == "-" else read_bytes(name, env.cwd))
        for name, label in names
    ]


def read_documents(
    raw: list[Raw],
    env: Env,
    flags: DocumentFlags,
    *,
    job_text: str | None,
    mode: str,
    out_dir: Path | None,
) -> list[DocumentInput | None] | None:
    """Each input as a document (None: a plain bullets file, read by the flat flow), or None for the whole
    run when no input is a document and no document flag was given. A document flag (--only, --diff,
    --strict, --in-place) makes every input a document, a bullets file included."""
    from cvstream.inputs import decode_input

    names = [name for name, _, _ in raw]
    kinds = []
    for name, label, data in raw:
        if name == "-" and data.startswith(_ZIP):  # a Word file is known by its name, which --out-dir keeps
            raise UsageError(
                "stdin looks like a Word file (a zip archive); cvstream reads Word files only by their name",
                "pass the file name as an argument: cvstream enhance cv.docx --out-dir DIR",
            )
        text = None if name.lower().endswith(".docx") else decode_input(data, label)
        kinds.append(input_kind(name, text))
    if not flags.given and all(kind == "bullets" for kind in kinds):
        return None
    _check_flags(names, kinds, flags, mode, out_dir)
    return [
        None
        if kind == "bullets" and not flags.given
        else _document(name, label, data, "text" if kind == "bullets" else kind, flags, job_text, env.cwd)
        for (name, label, data), kind in zip(raw, kinds, strict=True)
    ]


def input_kind(name: str, text: str | None) -> str:
    """How an input (`-`: stdin) is read: "bullets" (the flat flow) or a document's kind."""
    from cvstream.documents import kind_of

    return kind_of(name if name != "-" else "", text)


def _check_flags(names: list[str], kinds: list[str], flags: DocumentFlags, mode: str, out_dir: Path | None) -> None:
    if flags.no_backup and not flags.in_place:
        raise UsageError("--no-backup only goes with --in-place")
    if flags.in_place:
        if "-" in names:
            raise UsageError("--in-place cannot rewrite stdin", "pass the file itself")
        if out_dir is not None:
            raise UsageError("give --in-place or --out-dir, not both")
        if mode == "sse":
            raise UsageError("--in-place writes the document, --sse only the answer's text: choose one")
    if flags.diff and mode in ("sse", "json"):
        raise UsageError(f"--diff shows the changes, --{mode} the answer's events: choose one")
    if out_dir is not None and (flags.diff or mode in ("sse", "json")):
        shown = "--diff" if flags.diff else f"--{mode}"
        raise UsageError(f"--out-dir writes the rewritten documents; {shown} goes to stdout: choose one")
    writes_docx = out_dir is not None or flags.in_place or flags.diff or mode in ("json", "sse")
    for name, kind in zip(names, kinds, strict=True):
        if kind == "docx" and not writes_docx:
            streams = mode in ("live", "plain")  # the document streams on stdout too; in a pipe nothing would
            raise UsageError(
                f"{name} is a Word file, which is never written to stdout",
                f"add --out-dir DIR (writes DIR/{Path(name).name}) or --in-place"
                + ("; the answer still shows here" if streams else ", or --diff for a unified diff of the changes"),
            )


def _document(
    name: str, label: str, data: bytes, kind: str, flags: DocumentFlags, job_text: str | None, cwd: Path
) -> DocumentInput:
    from cvstream.documents.prompt import document_message
    from cvstream.documents.scope import select

    parsed = _parse(label, data, kind)
    document, word, bom = parsed.document, parsed.word, parsed.bom
    if not document.bullets:
        raise UsageError(f"{label} has no bullets", _no_bullets_hint(kind))
    limited, numbers = select(document, flags.only)
    if not limited.bullets:
        sections = list(dict.fromkeys(s for b in document.bullets for s in b.sections))
        shown = ", ".join(sections) if sections else "(none)"
        if not flags.only:
            section = (document.bullets[0].sections or ("TEXT",))[-1]
            raise UsageError(
                f"{label} has no experience or achievement bullets (skills, education and contact lines are kept)",
                f"name a section to rewrite it anyway, e.g. --only {section}; its sections: {shown}",
            )
        raise UsageError(
            f"--only {' / '.join(flags.only)} matches no section with bullets in {label}", f"its sections: {shown}"
        )
    path = None if name == "-" else (Path(name) if Path(name).is_absolute() else cwd / name)
    if flags.in_place and path is not None and not os.access(path.parent, os.W_OK | os.X_OK):
        raise UsageError(
            f"--in-place cannot write next to {label} (permission denied on {path.parent})",
            "use --out-dir DIR, or make the directory writable",
        )
    job = DocumentJob(label, limited, bom=bom, word=_renumbered(word, numbers), path=path)
    return DocumentInput(label, job, document_message(limited, job_text))


def parse_document(label: str, data: bytes, kind: str) -> DocumentJob:
    """A document's bytes, parsed as `kind`, with its achievement bullets only (scope.py) and no --only: the
    same bytes always give the same bullets and numbers (a batch's answer is put back with it)."""
    from cvstream.documents.scope import select

    parsed = _parse(label, data, kind)
    document, numbers = select(parsed.document)
    return DocumentJob(label, document, bom=parsed.bom, word=_renumbered(parsed.word, numbers))


def _renumbered(word: WordFile | None, numbers: list[int]) -> WordFile | None:
    """A Word file's bullet paragraphs under the numbers the bullets have once selected."""
    if word is None:
        return None
    from cvstream.documents.docx import WordFile

    return WordFile(word.package, {new: word.paragraphs[old] for new, old in enumerate(numbers, start=1)})


def _parse(label: str, data: bytes, kind: str) -> DocumentJob:
    """A document's bytes, parsed as `kind`: every list item a bullet."""
    from cvstream.documents import load_text
    from cvstream.inputs import decode_input

    if kind == "docx":
        from cvstream.documents import docx

        try:
            document, word = docx.parse(data)
        except Exception as exc:  # python-docx raises several types for a damaged or foreign file
            raise UsageError(f"{label} is not a Word .docx file python-docx can read ({exc})") from None
        return DocumentJob(label, document, word=word)
    text = decode_input(data, label)
    return DocumentJob(label, load_text(kind, text), bom=data.startswith(b"\xef\xbb\xbf"))


def _no_bullets_hint(kind: str) -> str:
    return {
        "markdown": "bullets are list items (-, *, +, 1.)",
        "latex": "bullets are \\item entries of itemize and enumerate lists",
        "docx": "bullets are list paragraphs (Word's bullets or numbering, or a List style)",
    }.get(kind, "bullets are the non-empty lines that are not section labels")


SinkFactory = Callable[[BinaryIO, bool, "str | None", Callable[[str], None]], "Sink"]


def sink_factory(env: Env, item: DocumentInput, flags: DocumentFlags, mode: str, single: bool = True) -> SinkFactory:
    """How to build this input's sink: (out, to_file, label, warn) -> Sink. With one input going to a file
    (--out-dir) and a terminal on stdout, the document also streams there."""
    options = DocumentOptions(strict=flags.strict, diff=flags.diff, in_place=flags.in_place, backup=not flags.no_backup)

    def make(out: BinaryIO, to_file: bool, label: str | None, warn: Callable[[str], None]) -> Sink:
        from cvstream.sinks.document import DocumentSink

        if mode == "sse":
            from cvstream.sinks.sse import SseSink

            return SseSink(out)
        terminal = mode in ("live", "plain")
        if to_file:  # its warnings name it when several inputs run (the label is otherwise only stdout's)
            view = _view(env, env.stdout, item, mode) if terminal and single and not flags.diff else None
            named = label or (None if single else item.job.name)
            return DocumentSink(item.job, options, out=out, view=view, warn=warn, label=named)
        if mode == "json":
            from cvstream.sinks.ndjson import NdjsonSink

            return DocumentSink(item.job, options, out=out, ndjson=NdjsonSink(out, label=label), label=label)
        if flags.diff:
            console = env.stdout_console() if terminal else None
            return DocumentSink(item.job, options, out=out, console=console, warn=warn, label=label)
        if terminal:
            return DocumentSink(item.job, options, view=_view(env, out, item, mode), warn=warn, label=label)
        return DocumentSink(item.job, options, out=None if flags.in_place else out, warn=warn, label=label)

    return make


def _view(env: Env, out: BinaryIO, item: DocumentInput, mode: str) -> Sink:
    """The terminal view: Markdown rendered live for Markdown and Word, plain text for plain text and LaTeX."""
    if mode == "live" and item.job.document.kind in ("markdown", "docx"):
        from cvstream.sinks.live import LiveSink

        return LiveSink(env.stdout_console())
    from cvstream.sinks.text import TextSink

    return TextSink(out, final_newline=True)


def shape_jobs(
    env: Env,
    documents: list[DocumentInput | None],
    flags: DocumentFlags,
    mode: str,
    system: str | None = None,
) -> Callable[[list[Job], Settings], list[Job]]:
    """For `launch.stream_answers`: each document's job gets its sink and file name, and, unless
    --max-tokens (or CVSTREAM_MAX_TOKENS) says otherwise, room for all its bullets; with `system`, that
    system text too (a run mixing bullets files and documents: the run's system is the bullets one). A
    bullets file's job (None) is left as it is."""

    def shape(jobs: list[Job], settings: Settings) -> list[Job]:
        from dataclasses import replace

        configured = settings.max_tokens.value
        default = settings.max_tokens.source == "default"
        shaped = []
        for job, item in zip(jobs, documents, strict=True):
            if item is None:
                shaped.append(job)
                continue
            request = replace(job.request, max_tokens=item.max_tokens(configured) if default else configured)
            if system is not None:
                request = replace(request, system=system)
            make = sink_factory(env, item, flags, mode, single=len(jobs) == 1)
            shaped.append(replace(job, request=request, make_sink=make, filename=item.filename))
        return shaped

    return shape
