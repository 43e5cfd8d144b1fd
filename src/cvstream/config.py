"""Settings from flags, the environment and .env files: the only user of python-dotenv.

Precedence, first match wins: command-line flag > environment > `.env` in the working directory >
`.env` in the user config dir (`$XDG_CONFIG_HOME/cvstream/.env`, else `~/.config/cvstream/.env`) >
default. .env files are read, never loaded into `os.environ`, so they cannot override it.
Every resolved value remembers where it came from, for `cvstream config` and for error messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

from cvstream.errors import UsageError

if TYPE_CHECKING:
    from cvstream.models import Resolved

T = TypeVar("T")

METHODS = ("create", "stream")
DEFAULT_BASE_URL = "https://api.anthropic.com"
SECRET_NAMES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
DEFAULT_MAX_TOKENS = 1024  # as in the web app


@dataclass(frozen=True, slots=True)
class Setting(Generic[T]):
    value: T
    source: str  # "flag --model", "environment", ".env (/path/.env)", "default"
    name: str = ""  # the variable it was read from, if any


@dataclass(frozen=True, slots=True)
class Settings:
    api_key: Setting[str | None]  # ANTHROPIC_API_KEY, else ANTHROPIC_AUTH_TOKEN (see `name`)
    base_url: Setting[str | None]
    model: Setting[str]
    max_tokens: Setting[int]
    method: Setting[str]
    offline: Setting[bool]
    resolved_model: Resolved  # the id in `model`, its alias and what the models list knows of it
    aliases: Mapping[str, str]  # the user's own aliases (CVSTREAM_ALIASES, then config.toml)
    endpoint: str  # which API the models list belongs to (models.endpoint_key)

    @property
    def key_is_auth_token(self) -> bool:
        return self.api_key.name == "ANTHROPIC_AUTH_TOKEN"


def user_config_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "cvstream"


def config_file(environ: Mapping[str, str]) -> Path:
    return user_config_dir(environ) / "config.toml"


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file of the user's ({} when it does not exist); a broken one is a usage error."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}  # the usual case, on every run: no parser imported
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror})") from None
    import tomllib

    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not valid UTF-8", "save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}", "fix it, or move it away") from None


def user_aliases(environ: Mapping[str, str], layers: list[tuple[str, Mapping[str, str]]]) -> dict[str, str]:
    """The user's aliases: the [aliases] table of config.toml, overridden by CVSTREAM_ALIASES."""
    from cvstream.models import parse_aliases

    path = config_file(environ)
    table = read_toml(path).get("aliases", {})
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise UsageError(f"{path}: [aliases] must map names to model ids", 'for example cv = "claude-sonnet-5-5"')
    aliases = {str(k).lower(): v for k, v in table.items()}
    found = _lookup(layers, ("CVSTREAM_ALIASES",))
    if found is not None:
        value, source, name = found
        aliases.update(parse_aliases(value, f"{name} in {source}"))
    return aliases


Warn = Callable[[str], None]


def _ignore(_message: str) -> None:
    pass


def _read_env_file(path: Path, warn: Warn) -> dict[str, str]:
    """The variables of a .env file; an unreadable one is skipped with a warning, never fatal."""
    try:
        if not path.is_file():
            return {}
        from dotenv import dotenv_values

        with path.open(encoding="utf-8-sig") as handle:  # a leading byte order mark is not part of a name
            values = dotenv_values(stream=handle)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        warn(f"warning: ignoring {path} ({reason})")
        return {}
    return {k: v for k, v in values.items() if v is not None}


def env_layers(environ: Mapping[str, str], cwd: Path, warn: Warn = _ignore) -> list[tuple[str, Mapping[str, str]]]:
    """The non-flag layers, highest precedence first."""
    local = cwd / ".env"
    user = user_config_dir(environ) / ".env"
    return [
        ("environment", environ),
        (f".env ({local})", _read_env_file(local, warn)),
        (f".env ({user})", _read_env_file(user, warn)),
    ]


def known_secrets(environ: Mapping[str, str], cwd: Path) -> tuple[str, ...]:
    """Every key cvstream can find, in any layer: all of them are redacted from everything it prints."""
    return tuple(
        value for _, values in env_layers(environ, cwd) for name in SECRET_NAMES if (value := values.get(name, ""))
    )


def shown_url(url: str | None) -> str:
    """A base URL without any credentials in it, for messages and `cvstream config`."""
    parts = urlsplit(url or DEFAULT_BASE_URL)
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def parse_base_url(text: str, where: str) -> str:
    """An http(s) URL with a host, else a usage error naming the setting (never echoing credentials)."""
    try:
        parts = urlsplit(text.strip())
        _ = parts.port  # raises on a bad port
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise UsageError(
            f"{where}: not a valid http(s) URL", "for example ANTHROPIC_BASE_URL=https://api.anthropic.com"
        )
    return text.strip()


def parse_model(text: str, where: str) -> str:
    if not text.strip():
        raise UsageError(f"{where}: the model id is empty", "pass one, e.g. --model claude-sonnet-5-5")
    return text.strip()


def _lookup(layers: list[tuple[str, Mapping[str, str]]], names: tuple[str, ...]) -> tuple[str, str, str] | None:
    """(value, source, variable) of the first non-empty variable among `names`, layer by layer."""
    for source, values in layers:
        for name in names:
            value = values.get(name)
            if value:
                return value, source, name
    return None


def _resolve(
    flag_value: T | None,
    flag_name: str,
    layers: list[tuple[str, Mapping[str, str]]],
    names: tuple[str, ...],
    parse: Callable[[str, str], T],
    default: Callable[[], T],
) -> Setting[T]:
    if flag_value is not None:
        return Setting(flag_value, f"flag {flag_name}")
    found = _lookup(layers, names)
    if found is None:
        return Setting(default(), "default")
    value, source, name = found
    return Setting(parse(value, f"{name} in {source}"), source, name)


def parse_max_tokens(text: str, where: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{where}: max tokens must be a whole number, not {text!r}") from None
    return check_max_tokens(value, where)


def check_max_tokens(value: int, where: str = "--max-tokens") -> int:
    if value <= 0:
        raise UsageError(f"{where} must be at least 1, not {value}", "for example --max-tokens 1024")
    return value


def parse_method(text: str, where: str) -> str:
    if text.strip().lower() not in METHODS:
        raise UsageError(f"{where}: method must be create or stream, not {text!r}")
    return text.strip().lower()


def _parse_bool(text: str, where: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise UsageError(f"{where}: expected 1 or 0, not {text!r}")


def load_settings(
    environ: Mapping[str, str],
    cwd: Path,
    *,
    model: str | None = None,
    max_tokens: int | None = None,
    method: str | None = None,
    offline: bool | None = None,
    warn: Warn = _ignore,
) -> Settings:
    """Resolve every setting; flags are the keyword arguments (None = not given).

    An error names the setting and where it came from; every key found in any layer is redacted from it.
    """
    layers = env_layers(environ, cwd, warn)
    try:
        return _load(environ, layers, model=model, max_tokens=max_tokens, method=method, offline=offline)
    except UsageError as exc:
        raise exc.redacted(_secrets(layers)) from None


def _secrets(layers: list[tuple[str, Mapping[str, str]]]) -> list[str]:
    return [v for _, values in layers for name in SECRET_NAMES if (v := values.get(name, ""))]


@dataclass(frozen=True, slots=True)
class Names:
    """What a model name means here: the models list's endpoint and the user's own aliases."""

    endpoint: str  # models.endpoint_key
    aliases: Mapping[str, str]  # CVSTREAM_ALIASES, then config.toml


def model_names(environ: Mapping[str, str], cwd: Path, warn: Warn = _ignore) -> Names:
    """The names a run without flags would see, for the commands that read model names without sending
    (`log --model`, `log stats`' prices), so a short name means there what it means to `ask`."""
    layers = env_layers(environ, cwd, warn)
    try:
        _, _, names = _names(environ, layers, None)
    except UsageError as exc:
        raise exc.redacted(_secrets(layers)) from None
    return names


def _names(
    environ: Mapping[str, str], layers: list[tuple[str, Mapping[str, str]]], offline: bool | None
) -> tuple[Setting[str | None], Setting[bool], Names]:
    from cvstream import models

    base_url = _resolve(None, "", layers, ("ANTHROPIC_BASE_URL",), parse_base_url, lambda: None)
    is_offline: Setting[bool] = _resolve(
        offline or None, "--offline", layers, ("CVSTREAM_OFFLINE",), _parse_bool, lambda: False
    )
    endpoint = models.endpoint_key(base_url.value, is_offline.value)
    return base_url, is_offline, Names(endpoint, user_aliases(environ, layers))


def _load(
    environ: Mapping[str, str],
    layers: list[tuple[str, Mapping[str, str]]],
    *,
    model: str | None,
    max_tokens: int | None,
    method: str | None,
    offline: bool | None,
) -> Settings:
    from cvstream import models

    def as_str(value: str, _where: str) -> str:
        return value

    if max_tokens is not None:
        check_max_tokens(max_tokens)
    if method is not None:
        parse_method(method, "--method")
    if model is not None:
        model = parse_model(model, "--model")
    base_url, is_offline, names = _names(environ, layers, offline)
    endpoint, aliases = names.endpoint, names.aliases
    catalog = models.local_catalog(environ, endpoint)  # a small JSON file, or the SDK's list: no network
    named = _resolve(model, "--model", layers, ("CVSTREAM_MODEL",), parse_model, lambda: "")
    if named.value:
        try:
            resolved = models.resolve(named.value, catalog, aliases)
        except UsageError as exc:
            if named.name:  # say where a bad name came from when it was not typed just now
                exc.message = f"{exc.message} (from {named.name} in {named.source})"
            raise
    else:
        resolved = models.default_model(catalog, aliases)
    via = f", alias {resolved.alias}" if resolved.alias and named.value else ""
    source = named.source if named.value else f"default: the newest {models.DEFAULT_ALIAS}"
    return Settings(
        api_key=_resolve(None, "", layers, SECRET_NAMES, as_str, lambda: None),
        base_url=base_url,
        model=Setting(resolved.id, source + via, named.name),
        max_tokens=_resolve(
            max_tokens,
            "--max-tokens",
            layers,
            ("CVSTREAM_MAX_TOKENS",),
            parse_max_tokens,
            lambda: DEFAULT_MAX_TOKENS,
        ),
        method=_resolve(method, "--method", layers, ("CVSTREAM_METHOD",), parse_method, lambda: "create"),
        offline=is_offline,
        resolved_model=resolved,
        aliases=aliases,
        endpoint=endpoint,
    )
