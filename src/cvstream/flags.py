"""Options shared by several commands, each declared once.

A group is a frozen dataclass whose fields carry their `typer.Option`. A command asks for a group by
annotating one parameter with its class; `@with_flags` replaces that parameter with the group's fields
(so Typer builds the options, help panels and completion from the one declaration) and hands the
command one instance. Adding a flag shared by every command is one field here plus its use. A command
that needs a group less some of its flags annotates the parameter `Annotated[Group, Omit("field")]`:
those flags are not offered, and the instance holds their defaults.

This module deliberately avoids `from __future__ import annotations`: Typer reads these annotations
as objects.
"""

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args, get_origin, get_type_hints

import typer

F = TypeVar("F", bound=Callable[..., Any])

NETWORK, OUTPUT, REQUEST, HISTORY = "Network", "Output", "Request", "History"


class Method(str, Enum):
    create = "create"
    stream = "stream"


class Effort(str, Enum):
    low = "low"
    medium = "medium"
    high = "high"
    xhigh = "xhigh"
    max = "max"


def _complete_models(incomplete: str) -> list[str]:
    import os

    from cvstream.models import completions

    return completions(os.environ, incomplete)


@dataclass(frozen=True)
class SettingFlags:
    """What `config` shows and every command that talks to the API resolves (flag > env > .env > default)."""

    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Model id or short name (sonnet, haiku, opus, or your own: see `cvstream models`).",
            show_default="CVSTREAM_MODEL, else the newest Sonnet",
            autocompletion=_complete_models,
            rich_help_panel=REQUEST,
        ),
    ] = None
    max_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-tokens",
            help="Most tokens to generate.",
            show_default="CVSTREAM_MAX_TOKENS, else 1024",
            rich_help_panel=REQUEST,
        ),
    ] = None
    method: Annotated[
        Method | None,
        typer.Option(
            "--method",
            help="SDK method: create(stream=True), or the messages.stream() helper.",
            show_default="CVSTREAM_METHOD, else create",
            case_sensitive=False,
            rich_help_panel=REQUEST,
        ),
    ] = None
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="Answer from the built-in mock server (no key needed).",
            show_default="CVSTREAM_OFFLINE, else off",
            metavar="",
            rich_help_panel=NETWORK,
        ),
    ] = False


@dataclass(frozen=True)
class RequestFlags:
    """What goes into the request besides the message."""

    system: Annotated[str | None, typer.Option("--system", "-s", help="System text.", rich_help_panel=REQUEST)] = None
    system_file: Annotated[
        Path | None,
        typer.Option(
            "--system-file", help="Read the system text from a file.", dir_okay=False, rich_help_panel=REQUEST
        ),
    ] = None
    thinking: Annotated[
        bool, typer.Option("--thinking", help="Enable adaptive thinking.", metavar="", rich_help_panel=REQUEST)
    ] = False
    effort: Annotated[
        Effort | None,
        typer.Option("--effort", help="Output effort (output_config.effort).", rich_help_panel=REQUEST),
    ] = None


@dataclass(frozen=True)
class NetworkFlags:
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Connect and per-read timeout in seconds.",
            show_default="10 connect, 180 read",
            rich_help_panel=NETWORK,
            min=0.001,
        ),
    ] = None
    max_retries: Annotated[
        int | None,
        typer.Option(
            "--max-retries", help="Retries before the answer begins.", min=0, show_default="2", rich_help_panel=NETWORK
        ),
    ] = None
    max_retry_wait: Annotated[
        float,
        typer.Option(
            "--max-retry-wait",
            help="Longest retry-after to obey, in seconds; longer ones fail at once.",
            min=0,
            rich_help_panel=NETWORK,
        ),
    ] = 60.0


@dataclass(frozen=True)
class OutputFlags:
    raw: Annotated[
        bool,
        typer.Option(
            "--raw",
            help="Only the answer's text (the default when stdout is not a terminal).",
            metavar="",
            rich_help_panel=OUTPUT,
        ),
    ] = False
    sse: Annotated[
        bool,
        typer.Option(
            "--sse",
            help='Server-Sent Events: data: {"text": ...} per delta, then data: [DONE].',
            metavar="",
            rich_help_panel=OUTPUT,
        ),
    ] = False
    json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="NDJSON: every API event as sent, then a cvstream.summary line.",
            metavar="",
            rich_help_panel=OUTPUT,
        ),
    ] = False
    plain: Annotated[
        bool,
        typer.Option(
            "--plain",
            help="Plain streamed text on a terminal, no Markdown rendering.",
            metavar="",
            rich_help_panel=OUTPUT,
        ),
    ] = False
    hide_thinking: Annotated[
        bool,
        typer.Option(
            "--hide-thinking", help="Do not show thinking on the terminal.", metavar="", rich_help_panel=OUTPUT
        ),
    ] = False
    no_usage: Annotated[
        bool, typer.Option("--no-usage", help="No usage summary on stderr.", metavar="", rich_help_panel=OUTPUT)
    ] = False
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="No notes, retry lines or spinner on stderr (errors still show).",
            metavar="",
            rich_help_panel=OUTPUT,
        ),
    ] = False
    debug: Annotated[
        bool, typer.Option("--debug", help="Show a traceback with errors.", metavar="", rich_help_panel=OUTPUT)
    ] = False


@dataclass(frozen=True)
class InputFlags:
    """How stdin is treated."""

    no_stdin: Annotated[
        bool,
        typer.Option(
            "--no-stdin",
            help="Never read stdin, even when it is not a terminal (for `while read` loops).",
            metavar="",
        ),
    ] = False


@dataclass(frozen=True)
class BudgetFlags:
    """Spending limits checked before anything is sent."""

    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            help="Refuse a run whose worst case (counted input + --max-tokens) costs more, in dollars (prices.toml).",
            min=0,
            show_default=False,
            metavar="DOLLARS",
            rich_help_panel=REQUEST,
        ),
    ] = None


@dataclass(frozen=True)
class HistoryFlags:
    """Conversations and recording (every answer is kept in the history unless logging is off)."""

    continue_: Annotated[
        bool,
        typer.Option(
            "--continue",
            "-c",
            help="Continue the latest conversation (its earlier turns are sent).",
            metavar="",
            rich_help_panel=HISTORY,
        ),
    ] = False
    cid: Annotated[
        str | None,
        typer.Option(
            "--cid",
            help="Continue this conversation (any unique prefix of its id; see `cvstream log`).",
            show_default=False,
            rich_help_panel=HISTORY,
        ),
    ] = None
    no_log: Annotated[
        bool,
        typer.Option(
            "--no-log", help="Do not record this answer (also CVSTREAM_LOG=0).", metavar="", rich_help_panel=HISTORY
        ),
    ] = False


@dataclass(frozen=True)
class Omit:
    """`Annotated[Group, Omit("a", "b")]`: the group without the flags of fields a and b."""

    fields: tuple[str, ...]

    def __init__(self, *fields: str) -> None:
        object.__setattr__(self, "fields", fields)


GROUPS = (SettingFlags, RequestFlags, NetworkFlags, OutputFlags, InputFlags, BudgetFlags, HistoryFlags)


def with_flags(func: F) -> F:
    """Replace each parameter annotated with a flag group by that group's fields (see the module docstring)."""
    hints = get_type_hints(func, include_extras=True)
    groups: dict[str, tuple[type[Any], set[str]]] = {}
    params: list[inspect.Parameter] = []
    for param in inspect.signature(func).parameters.values():
        hint = hints.get(param.name, param.annotation)
        group, omitted = _group_of(hint)
        if group is not None:
            unknown = omitted - {f.name for f in dataclasses.fields(group)}
            if unknown:
                raise TypeError(f"{group.__name__} has no field {sorted(unknown)[0]!r} to omit")
            groups[param.name] = (group, omitted)
            field_hints = get_type_hints(group, include_extras=True)
            for f in dataclasses.fields(group):
                if f.name in omitted:
                    continue
                params.append(
                    inspect.Parameter(
                        f.name,
                        inspect.Parameter.POSITIONAL_OR_KEYWORD,
                        default=f.default,
                        annotation=field_hints[f.name],
                    )
                )
        else:
            params.append(param.replace(annotation=hint))

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        for name, (group, omitted) in groups.items():
            given = {f.name: kwargs.pop(f.name) for f in dataclasses.fields(group) if f.name not in omitted}
            kwargs[name] = group(**given)
        return func(**kwargs)

    del command.__wrapped__  # Typer must read the new signature, not the original
    command.__signature__ = inspect.Signature(params, return_annotation=hints.get("return", Any))  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params} | {"return": hints.get("return", Any)}
    return command  # type: ignore[return-value]


def _group_of(hint: Any) -> tuple[type[Any] | None, set[str]]:
    """(the flag group, the fields omitted) of a parameter's annotation; (None, ...) if it is no group."""
    if hint in GROUPS:
        return hint, set()
    if get_origin(hint) is Annotated:
        base, *extras = get_args(hint)
        if base in GROUPS and any(isinstance(e, Omit) for e in extras):
            return base, {name for e in extras if isinstance(e, Omit) for name in e.fields}
    return None, set()


def setting_overrides(flags: SettingFlags) -> Mapping[str, Any]:
    """The setting flags as `load_settings` keyword arguments (None = not given)."""
    return {
        "model": flags.model,
        "max_tokens": flags.max_tokens,
        "method": flags.method.value if flags.method else None,
        "offline": flags.offline or None,
    }
