"""`cvstream config`: every setting's resolved value and where it came from; `config prices`: the price table."""

from __future__ import annotations

import typer

from cvstream.context import env_of
from cvstream.flags import SettingFlags, with_flags

EPILOG = (
    "Examples:\n\n"
    "  cvstream config\n\n"
    "  CVSTREAM_MODEL=claude-haiku-4-5 cvstream config\n\n"
    "  cvstream config --method stream\n\n"
    "  cvstream config prices > ~/.config/cvstream/prices.toml"
)

app = typer.Typer(name="config", no_args_is_help=False)


@app.callback(invoke_without_command=True, epilog=EPILOG)
@with_flags
def config(
    ctx: typer.Context,
    settings: SettingFlags = SettingFlags(),
) -> int:
    """Show every setting's resolved value and where it came from.

    Precedence: flag > environment > ./.env > user config .env > default. The key is never shown.
    Pass the same flags as `ask` to see how they combine. `cvstream config prices` shows the price table.
    """
    if ctx.invoked_subcommand is not None:
        return 0
    from cvstream.config import shown_url, user_config_dir
    from cvstream.history.db import db_path, logging_enabled
    from cvstream.launch import settings_for
    from cvstream.report import Reporter

    env = env_of(ctx)
    resolved = settings_for(env, settings, Reporter(env).warning)
    key = resolved.api_key
    logging, logging_source = logging_enabled(env.environ)
    rows = [
        ("api key", f"set (from {key.name} in {key.source})" if key.value else "not set", ""),
        ("base url", shown_url(resolved.base_url.value), resolved.base_url.source),
        ("model", resolved.model.value, resolved.model.source),
        ("max tokens", str(resolved.max_tokens.value), resolved.max_tokens.source),
        ("method", resolved.method.value, resolved.method.source),
        ("offline", "yes" if resolved.offline.value else "no", resolved.offline.source),
        ("user config", str(user_config_dir(env.environ) / ".env"), ""),
        ("aliases", ", ".join(f"{k} = {v}" for k, v in resolved.aliases.items()) or "none", ""),
        ("history", str(db_path(env.environ)), ""),
        ("logging", "on" if logging else "off", logging_source),
    ]
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        line = f"{name:<{width}}  {value}" + (f"  ({source})" if source else "")
        env.stdout.write((line + "\n").encode())
    env.stdout.flush()
    return 0


@app.command("prices")
def prices(ctx: typer.Context) -> int:
    """Print the path of prices.toml and the prices in it; without one, a commented template to fill in.

    Prices are dollars per million tokens, per model id or short name; cvstream never guesses them.
    Start with: cvstream config prices > ~/.config/cvstream/prices.toml
    """
    from cvstream.config import user_config_dir
    from cvstream.flags import SettingFlags
    from cvstream.launch import settings_for
    from cvstream.models import DEFAULT_ALIAS, local_catalog
    from cvstream.prices import load_prices, prices_file, template
    from cvstream.report import Reporter

    env = env_of(ctx)
    reporter = Reporter(env)
    path = prices_file(user_config_dir(env.environ))
    if path.exists():
        table = load_prices(path.parent)
        lines = [str(path)]
        width = max((len(name) for name in table), default=0)
        for name, price in table.items():
            cache = "".join(
                f"  {kind} {value:.2f}"
                for kind, value in (("cache write", price.cache_write), ("cache read", price.cache_read))
                if value is not None
            )
            lines.append(f"{name:<{width}}  input {price.input:.2f}  output {price.output:.2f}{cache}")
        if table:
            lines.append("($ per million tokens)")
        else:
            reporter.note(f"note: {path} prices no model yet")
    else:
        settings = settings_for(env, SettingFlags(model=DEFAULT_ALIAS), reporter.warning)
        catalog = local_catalog(env.environ, settings.endpoint)
        lines = [template(path, [m.id for m in catalog.models if not m.retired])]
        reporter.note(f"note: {path} does not exist yet: save this template there and fill in the prices")
    env.stdout.write("".join(line + "\n" for line in lines).encode())
    env.stdout.flush()
    return 0
