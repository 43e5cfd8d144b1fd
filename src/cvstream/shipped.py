"""The example files shipped inside the package (`--example`), so a wheel's user can try every flow.

With `--example`, the FILE arguments (and `--job`) name these files instead of paths: `cvstream enhance
--example` is the bullets file, `cvstream enhance --example cv.md` the whole CV in Markdown.
"""

from __future__ import annotations

from pathlib import Path

from cvstream.errors import UsageError

# name: what it is (README, "cvstream enhance"; the order is the listing's)
EXAMPLES = {
    "bullets.txt": "a plain list of bullets (the flat flow, the default)",
    "cv.md": "a whole CV in Markdown",
    "cv.txt": "the same CV in plain text",
    "cv.tex": "the same CV in LaTeX",
    "cv.docx": "the same CV in Word (give --out-dir or --in-place)",
    "job.txt": "a job description, for --job",
}
ALIASES = {"bullets": "bullets.txt", "cv": "cv.md", "job": "job.txt"}
DEFAULT = "bullets.txt"


def directory() -> Path:
    return Path(__file__).resolve().parent / "examples"


def listing() -> str:
    """`bullets.txt (bullets): a plain list ...`, one per line."""
    back = {name: alias for alias, name in ALIASES.items()}
    return "\n".join(f"  {name}{f' ({back[name]})' if name in back else ''}: {what}" for name, what in EXAMPLES.items())


def example_path(name: str = DEFAULT) -> Path:
    """The shipped file a name (or its short form: bullets, cv, job) stands for."""
    full = ALIASES.get(name, name)
    if full not in EXAMPLES:
        raise UsageError(
            f"--example: no example named {name!r}; with --example, FILE and --job name shipped examples",
            "the examples: " + ", ".join(EXAMPLES) + f" (bullets, cv and job for short; in {directory()})",
        )
    return directory() / full
