"""`cvstream config`: every setting's resolved value and where it came from."""

from __future__ import annotations

import typer

from cvstream.context import env_of
from cvstream.flags import SettingFlags, with_flags

EPILOG = (
    "Examples:\n\n"
    "  cvstream config\n\n"
    "  CVSTREAM_MODEL=claude-haiku-4-5 cvstream config\n\n"
    "  cvstream config --method stream"
)


@with_flags
def config(
    ctx: typer.Context,
    settings: SettingFlags = SettingFlags(),
) -> int:
    """Show every setting's resolved value and where it came from.

    Precedence: flag > environment > ./.env > user config .env > default. The key is never shown.
    Pass the same flags as `ask` to see how they combine.
    """
    from cvstream.config import shown_url, user_config_dir
    from cvstream.launch import settings_for
    from cvstream.report import Reporter

    env = env_of(ctx)
    resolved = settings_for(env, settings, Reporter(env).warning)
    key = resolved.api_key
    rows = [
        ("api key", f"set (from {key.name} in {key.source})" if key.value else "not set", ""),
        ("base url", shown_url(resolved.base_url.value), resolved.base_url.source),
        ("model", resolved.model.value, resolved.model.source),
        ("max tokens", str(resolved.max_tokens.value), resolved.max_tokens.source),
        ("method", resolved.method.value, resolved.method.source),
        ("offline", "yes" if resolved.offline.value else "no", resolved.offline.source),
        ("user config", str(user_config_dir(env.environ) / ".env"), ""),
    ]
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        line = f"{name:<{width}}  {value}" + (f"  ({source})" if source else "")
        env.stdout.write((line + "\n").encode())
    env.stdout.flush()
    return 0
