"""`cvstream completion bash|zsh|fish`: print the shell completion script shipped with cvstream."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from cvstream.context import env_of

EPILOG = (
    "Examples:\n\n"
    "  cvstream completion bash > ~/.local/share/bash-completion/completions/cvstream\n\n"
    "  mkdir -p ~/.zfunc && cvstream completion zsh > ~/.zfunc/_cvstream\n\n"
    "  mkdir -p ~/.config/fish/completions && cvstream completion fish > ~/.config/fish/completions/cvstream.fish"
)
FILES = {"bash": "cvstream.bash", "zsh": "_cvstream", "fish": "cvstream.fish"}


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion(ctx: typer.Context, shell: Annotated[Shell, typer.Argument(help="The shell.")]) -> int:
    """Print the completion script for a shell (generated from this app; see README, Shell completions)."""
    env = env_of(ctx)
    path = Path(__file__).resolve().parent.parent / "completions" / FILES[shell.value]
    env.stdout.write(path.read_bytes())
    env.stdout.flush()
    return 0
