"""`cvstream models` (the models list, cached for a day) and `cvstream models show ID`.

The list comes from the Models API through source.py, is cached per endpoint (models.py), and falls back
to the cache at any age, then to the installed SDK's list, when there is no key or no network, saying so.
"""

from __future__ import annotations

import json as jsonlib
import time
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from cvstream.context import env_of
from cvstream.errors import AuthError, CvstreamError
from cvstream.flags import NetworkFlags, with_flags

T = TypeVar("T")

if TYPE_CHECKING:
    from collections.abc import Callable

    from cvstream.config import Settings
    from cvstream.context import Env
    from cvstream.models import Catalog, ModelEntry
    from cvstream.report import Reporter
    from cvstream.source import Connection

app = typer.Typer(
    name="models",
    help="List the models (from the Models API, cached for a day); `models show ID` shows one.",
    no_args_is_help=False,
)

JsonOpt = Annotated[
    bool, typer.Option("--json", help="NDJSON (the default when stdout is not a terminal).", metavar="")
]
OfflineOpt = Annotated[
    bool, typer.Option("--offline", help="Ask the built-in mock server (no key needed).", metavar="")
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No note on stderr about where the list came from.", metavar="")
]


def _settings(env: Env, offline: bool, reporter: Reporter) -> Settings:
    from cvstream.flags import SettingFlags
    from cvstream.launch import settings_for
    from cvstream.models import DEFAULT_ALIAS

    # The model is given so that a bad CVSTREAM_MODEL cannot stop the user from listing the right names.
    return settings_for(env, SettingFlags(model=DEFAULT_ALIAS, offline=offline), reporter.warning)


def load_catalog(
    env: Env, settings: Settings, network: NetworkFlags, *, refresh: bool = False
) -> tuple[Catalog, str | None]:
    """The fresh cache, else the API's list (cached on the way), else the cache at any age or the SDK's list;
    and, for a fallback, why the API's list could not be had.

    With `refresh`, the API is always asked and a failure is an error rather than a fallback.
    """
    from cvstream import models

    now = time.time()
    cached = models.read_cache(models.cache_file(env.environ, settings.endpoint))
    if cached is not None and not refresh and (cached.age(now) or 0.0) < models.CACHE_TTL:
        return cached, None
    try:
        rows = _fetch(settings, network, _list)
    except CvstreamError as exc:
        if refresh:
            raise
        return cached or models.sdk_catalog(), exc.message
    return models.fetched(env.environ, settings.endpoint, rows, now), None


def _list(conn: Connection) -> list[dict[str, Any]]:
    from cvstream.source import list_models

    return list_models(conn)


def _fetch(settings: Settings, network: NetworkFlags, call: Callable[[Connection], T]) -> T:
    """Run `call(connection)` against the configured API, or a mock started for it with --offline."""
    from cvstream.launch import connect

    if not settings.api_key.value and not settings.offline.value:
        raise AuthError("no API key", "set ANTHROPIC_API_KEY, or use --offline")
    conn, mock = connect(settings, network)
    try:
        return call(conn)
    finally:
        if mock is not None:
            mock.close()


def _row(entry: ModelEntry, aliases: list[str]) -> dict[str, Any]:
    return {**entry.as_dict(), "aliases": aliases}


def _aliases_by_id(catalog: Catalog, settings: Settings) -> dict[str, list[str]]:
    from cvstream.models import alias_table

    by_id: dict[str, list[str]] = {}
    for alias, target in alias_table(catalog, settings.aliases).items():
        by_id.setdefault(target, []).append(alias)
    return by_id


def _tokens(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _table(entries: list[ModelEntry], by_id: dict[str, list[str]]) -> list[str]:
    from cvstream.models import day

    header = ("ID", "NAME", "CONTEXT", "MAX OUTPUT", "CREATED", "DEPRECATED", "RETIRES", "ALIASES")
    rows = [header] + [
        (
            e.id,
            e.display_name or "-",
            _tokens(e.max_input_tokens),
            _tokens(e.max_tokens),
            day(e.created_at) or "-",
            day(e.deprecated_at) or ("yes" if e.lifecycle == "deprecated" else ""),
            day(e.retires_at) + (" (retired)" if e.retired else ""),
            ", ".join(by_id.get(e.id, [])),
        )
        for e in entries
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    right = {2, 3}
    return [
        "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def _write(env: Env, lines: list[str]) -> None:
    env.stdout.write("".join(line + "\n" for line in lines).encode())
    env.stdout.flush()


def _context(ctx: typer.Context, quiet: bool) -> tuple[Env, Reporter]:
    from cvstream.config import known_secrets
    from cvstream.report import Reporter

    env = env_of(ctx)
    return env, Reporter(env, quiet=quiet, secrets=known_secrets(env.environ, env.cwd))


@app.callback(invoke_without_command=True)
@with_flags
def list_models(
    ctx: typer.Context,
    all_models: Annotated[bool, typer.Option("--all", help="Include retired models.", metavar="")] = False,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Fetch the list again, even if the cache is fresh.", metavar="")
    ] = False,
    json: JsonOpt = False,
    offline: OfflineOpt = False,
    quiet: QuietOpt = False,
    network: NetworkFlags = NetworkFlags(),
) -> int:
    """List the models: id, name, context window, most output tokens, dates, and the aliases of each.

    From the Models API, cached for 24 hours (--refresh fetches again). Without a key or network: the
    cache at any age, else the installed SDK's list; a note on stderr says which. A table on a terminal,
    NDJSON (one model a line) in a pipe or with --json.
    """
    if ctx.invoked_subcommand is not None:
        return 0

    env, reporter = _context(ctx, quiet)
    settings = _settings(env, offline, reporter)
    catalog, problem = load_catalog(env, settings, network, refresh=refresh)
    by_id = _aliases_by_id(catalog, settings)
    entries = [e for e in catalog.models if all_models or not e.retired]
    hidden = len(catalog.models) - len(entries)
    if json or not env.stdout_isatty:
        _write(env, [jsonlib.dumps(_row(e, by_id.get(e.id, []))) for e in entries])
    else:
        _write(env, _table(entries, by_id))
    more = f"; {hidden} retired not shown (--all shows them)" if hidden else ""
    why = f" (cannot fetch the list: {problem})" if problem else ""
    reporter.note(f"models: {len(entries)} from {describe_origin(catalog, time.time())}{why}{more}")
    return 0


@app.command("show")
@with_flags
def show(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="A model id or an alias (sonnet, haiku, opus, yours).")],
    json: JsonOpt = False,
    offline: OfflineOpt = False,
    quiet: QuietOpt = False,
    network: NetworkFlags = NetworkFlags(),
) -> int:
    """Show one model's details, asked of the API (else taken from the cached list)."""
    from cvstream import models
    from cvstream.source import retrieve_model

    env, reporter = _context(ctx, quiet)
    settings = _settings(env, offline, reporter)
    catalog = models.local_catalog(env.environ, settings.endpoint)
    resolved = models.resolve(model, catalog, settings.aliases)
    try:
        data: dict[str, Any] = _fetch(settings, network, lambda conn: retrieve_model(conn, resolved.id))
    except CvstreamError as exc:
        if exc.upstream_status is not None:  # the API answered (404: no such model): that is the answer
            raise
        entry = catalog.get(resolved.id)
        if entry is None:
            raise CvstreamError(
                f"cannot ask the API about {resolved.id} ({exc.message}), and the models list does not have it"
            ) from None
        reporter.note(f"note: cannot ask the API ({exc.message}); showing {describe_origin(catalog, time.time())}")
        data = entry.as_dict()
    aliases = [a for a, target in models.alias_table(catalog, settings.aliases).items() if target == data["id"]]
    data["aliases"] = aliases
    if json or not env.stdout_isatty:
        _write(env, [jsonlib.dumps(data)])
        return 0
    _write(env, _details(data))
    return 0


def _details(data: dict[str, Any]) -> list[str]:
    from cvstream.models import day

    caps = data.get("capabilities")
    supported = (
        sorted(name for name, value in caps.items() if isinstance(value, dict) and value.get("supported"))
        if isinstance(caps, dict)
        else []
    )
    rows = [
        ("id", data["id"]),
        ("name", data.get("display_name") or "-"),
        ("aliases", ", ".join(data.get("aliases") or []) or "-"),
        (
            "context window",
            _tokens(data.get("max_input_tokens")) + " tokens" if data.get("max_input_tokens") else "not published",
        ),
        ("most output", _tokens(data.get("max_tokens")) + " tokens" if data.get("max_tokens") else "not published"),
        ("created", day(data.get("created_at")) or "-"),
        ("lifecycle", str(data.get("lifecycle") or "active")),
        ("deprecated", day(data.get("deprecated_at")) or "-"),
        ("retires", day(data.get("retires_at")) or "-"),
        ("capabilities", ", ".join(supported) or "-"),
    ]
    width = max(len(name) for name, _ in rows)
    return [f"{name:<{width}}  {value}" for name, value in rows]


def describe_origin(catalog: Catalog, now: float) -> str:
    """Where a list came from, for the note under `cvstream models`."""
    if catalog.origin == "api":
        return "the Models API (just fetched; cached for 24 h)"
    if catalog.origin == "cache":
        return f"the cache, fetched {format_age(catalog.age(now) or 0.0)} ago"
    return "the installed SDK's built-in list (no limits or dates)"


def format_age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"
