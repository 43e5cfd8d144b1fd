"""Make README's screenshots: docs/enhance.svg (a live `enhance` run with its usage summary) and
docs/error.svg (an overloaded API, retried, then a clear error).

    python scripts/screenshots.py

cvstream runs through its real entry point against `cvstream mock` on a pseudo-terminal-like buffer;
the bytes it wrote are replayed through a terminal emulator (pyte), and the final screen, colours
included, is exported with rich's console recording (`export_svg`).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pyte
from rich.console import Console
from rich.style import Style
from rich.text import Text

from cvstream.cli import main
from cvstream.context import Env
from cvstream.mock.server import MockConfig, MockServer

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 92, 40
IMPROVED = """\
- **Built** the billing service in Python and PostgreSQL, owning its design and delivery.
- **Led** a team of 4 engineers through the migration to Kubernetes.
- **Cut** monthly cloud costs by 30% by rightsizing instances.
- **Wrote** the on-call runbook now used by 3 teams.
- **Mentored** two junior developers.
"""
PYTE_COLOURS = {"brown": "yellow", "default": None}


class _Terminal(io.BytesIO):
    def isatty(self) -> bool:
        return True


def run(args: list[str], config: MockConfig, stderr_tty: bool) -> bytes:
    """Run cvstream; return what a terminal would have received (stdout, then stderr)."""
    with MockServer(config) as mock:
        out, err = _Terminal(), io.BytesIO()
        environ = {
            "ANTHROPIC_API_KEY": "sk-ant-demo-0000000000",
            "ANTHROPIC_BASE_URL": mock.base_url,
            "COLUMNS": str(WIDTH),
            "LINES": str(HEIGHT),
            "TERM": "xterm-256color",
            "FORCE_COLOR": "1",
            "HOME": "/nonexistent",
        }
        env = Env(
            stdin=io.BytesIO(),
            stdout=out,
            stderr=io.TextIOWrapper(err, write_through=True),
            environ=environ,
            cwd=ROOT,
            stdin_isatty=True,
            stdout_isatty=True,
            stderr_isatty=stderr_tty,
        )
        main(args, env)
        return out.getvalue() + err.getvalue()


def _style(char: pyte.screens.Char) -> Style:
    def colour(value: str) -> str | None:
        if value in PYTE_COLOURS:
            return PYTE_COLOURS[value]
        return f"#{value}" if len(value) == 6 and all(c in "0123456789abcdef" for c in value) else value

    return Style(
        color=colour(char.fg),
        bgcolor=colour(char.bg),
        bold=char.bold,
        italic=char.italics,
        underline=char.underscore,
        reverse=char.reverse,
    )


def screenshot(prompt: str, data: bytes, path: Path) -> None:
    screen = pyte.HistoryScreen(WIDTH, HEIGHT, history=10_000)
    pyte.ByteStream(screen).feed(data.replace(b"\n", b"\r\n"))
    rows = [screen.history.top[i] for i in range(len(screen.history.top))]
    rows += [screen.buffer[y] for y in range(screen.lines)]
    lines = []
    for row in rows:
        text = Text()
        for x in range(WIDTH):
            char = row[x]
            text.append(char.data, _style(char))
        lines.append(text)
    while lines and not lines[-1].plain.strip():
        lines.pop()
    console = Console(record=True, width=WIDTH, force_terminal=True, color_system="truecolor", file=io.StringIO())
    console.print(Text("$ ", style="bold green") + Text(prompt, style="bold"))
    for line in lines:
        console.print(line, overflow="crop", no_wrap=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(console.export_svg(title=prompt))
    print(path)


if __name__ == "__main__":
    enhance = run(
        ["enhance", "examples/bullets.txt", "--quiet"],
        MockConfig(port=0, text=IMPROVED, tokens_per_second=400, first_token_ms=50),
        stderr_tty=False,
    )
    screenshot("cvstream enhance examples/bullets.txt", enhance, ROOT / "docs" / "enhance.svg")
    error = run(["ask", "write release notes"], MockConfig(port=0, fault="http529", retry_after=0.2), stderr_tty=False)
    screenshot('cvstream ask "write release notes"', error, ROOT / "docs" / "error.svg")
    sys.exit(0)
