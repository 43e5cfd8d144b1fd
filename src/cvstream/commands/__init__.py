"""One module per command: its arguments -> inputs, settings and an output mode; nothing else.

`COMMANDS` lists them (what `cvstream --help` shows); `register` adds some or all of them to the app. A
run imports only the module of the command it names, so each module imports nothing heavy at module level
and `cvstream --help` imports none of them (a test checks the two listings agree).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping

import typer

# Each command: what its module exports, a function (registered with the module's EPILOG) or a Typer
# group named `app`; and the line `cvstream --help` shows for it.
COMMANDS: dict[str, tuple[str, str]] = {
    "enhance": ("enhance", "Rewrite CV bullets: strong verbs, every fact kept, one bullet out per bullet in."),
    "ask": ("ask", "Ask anything; piped stdin is included below the instruction."),
    "mock": ("mock", "Run a loopback Anthropic Messages API for trying cvstream and testing scripts without a key."),
    "serve": ("serve", "Serve the web app's streaming route, so its front-end streams through cvstream unchanged."),
    "completion": (
        "completion",
        "Print the completion script for a shell (generated from this app; see README, Shell completions).",
    ),
    "config": ("app", "Show every setting's resolved value and where it came from."),
    "batch": ("app", "Thousands of inputs through the Message Batches API: half price, results within 24 hours."),
    "models": ("app", "List the models (from the Models API, cached for a day); `models show ID` shows one."),
    "count": (
        "app",
        "Count the input tokens of an `ask` or `enhance` run before sending it (free: nothing is generated).",
    ),
    "log": ("app", "Find, show and manage recorded answers (every answer is kept unless logging is off)."),
}
LISTING = "listing"  # build_app(LISTING): every command as a name and its line, for the top-level help
ROOT_FLAGS = {"--version", "-V", "--help", "-h", "--install-completion", "--show-completion"}


def register(app: typer.Typer, commands: Iterable[str] | str) -> None:
    """Add `commands` (names in COMMANDS) to `app`, or with LISTING every command as its name and help line."""
    if commands == LISTING:
        for name, (_, summary) in COMMANDS.items():
            app.command(name, help=summary)(_listed)
        return
    for name in commands:
        module = importlib.import_module(f"cvstream.commands.{name}")
        target = getattr(module, COMMANDS[name][0])
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name, epilog=module.EPILOG)(target)


def _listed() -> None:
    """Never run: a named command is always built for real (commands_needed)."""


def commands_needed(args: list[str], environ: Mapping[str, str]) -> Iterable[str] | str:
    """What a run with these arguments reaches: the command it names, none for --version, else LISTING."""
    if "_CVSTREAM_COMPLETE" in environ:  # shell completion walks the whole tree
        return tuple(COMMANDS)
    for arg in args:
        if arg in ("--version", "-V"):
            return ()
        if arg not in ROOT_FLAGS:
            return (arg,) if arg in COMMANDS else LISTING  # an unknown name: click names the real ones
        if arg in ("--help", "-h"):
            return LISTING
    return LISTING
