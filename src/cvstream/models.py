"""Which models exist and what a short name means: the Models API's list cached on disk, the SDK's list as
the fallback, and alias resolution.

Resolution runs on every `ask`, so it stays cheap: it reads one small JSON file (the cache) or, without
one, parses the installed SDK's model list with `ast` (`import anthropic` costs about a second). It
never touches the network: only `cvstream models` (and `count`) fetch the list, through `source.py`.

The cache is per endpoint (the API, another ANTHROPIC_BASE_URL, or --offline's mock), in the user cache
directory (platformdirs; CVSTREAM_CACHE_DIR overrides it), and is fresh for 24 hours.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvstream.errors import UsageError

if TYPE_CHECKING:
    from cvstream.config import Names

CACHE_TTL = 24 * 3600.0  # seconds a fetched list stays fresh
# The default when neither the cache nor the SDK's files list a Sonnet; kept current by a test.
FALLBACK_DEFAULT = "claude-sonnet-5-5"
DEFAULT_ALIAS = "sonnet"  # the default model is the newest Sonnet, resolved like `-m sonnet`
_CACHE_VERSION = 1

_DATE_SUFFIX = re.compile(r"-(\d{8})$")
_FAMILY = re.compile(r"^claude-(?:[\d-]+-)?([a-z]+)")  # claude-sonnet-5-5, claude-3-7-sonnet-2025...
_DAY = re.compile(r"^(\w+) (\d+)\w*, (\d{4})$")  # the SDK's "June 30th, 2026"


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One model as the Models API describes it (every field but `id` may be missing)."""

    id: str
    display_name: str = ""
    created_at: str | None = None  # RFC 3339
    max_input_tokens: int | None = None  # the context window
    max_tokens: int | None = None  # the most output tokens
    deprecated_at: str | None = None
    retires_at: str | None = None
    lifecycle: str = "active"  # active, deprecated, retired
    line: str | None = None  # the family (sonnet, haiku, opus, ...), when the API says

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ModelEntry:
        """From a ModelInfo dict (`model_dump(mode="json")` or a cache row), tolerating missing fields."""

        def text(name: str) -> str | None:
            value = data.get(name)
            return str(value) if value is not None else None

        def number(name: str) -> int | None:
            value = data.get(name)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        deprecated = text("deprecated_at")
        return cls(
            id=str(data["id"]),
            display_name=text("display_name") or "",
            created_at=text("created_at"),
            max_input_tokens=number("max_input_tokens"),
            max_tokens=number("max_tokens"),
            deprecated_at=deprecated,
            retires_at=text("retires_at"),
            lifecycle=text("lifecycle") or ("deprecated" if deprecated else "active"),
            line=text("line"),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def family(self) -> str | None:
        if self.line:
            return self.line
        match = _FAMILY.match(self.id)
        return match[1] if match else None

    @property
    def retired(self) -> bool:
        return self.lifecycle == "retired"

    @property
    def current(self) -> bool:
        return self.lifecycle not in ("deprecated", "retired")

    def newness(self) -> tuple[str, tuple[int, ...], int]:
        """A sort key, newest last: release date, then the version in the id, then the undated id."""
        created = _instant(self.created_at)
        versions = tuple(int(n) for n in re.findall(r"\d+", _DATE_SUFFIX.sub("", self.id)))
        return created, versions, 0 if _DATE_SUFFIX.search(self.id) else 1

    def lifecycle_note(self, sent: str | None = None) -> str | None:
        name = self.id if sent in (None, self.id) else f"{sent} ({self.id})"  # an undated id: its dated release too
        if self.retired:
            when = f" on {day(self.retires_at)}" if self.retires_at else ""
            return f"{name} was retired{when}; the API will likely refuse it"
        if not self.current:
            when = f" (it retires on {day(self.retires_at)})" if self.retires_at else ""
            return f"{name} is deprecated{when}"
        return None


def _instant(value: str | None) -> str:
    """An RFC 3339 time as a sortable UTC string ("" when unknown or unreadable)."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).isoformat()
    except ValueError:
        return ""


def day(value: str | None) -> str:
    """The date part of an RFC 3339 time, for display ("" when unknown)."""
    return (value or "")[:10]


@dataclass(frozen=True, slots=True)
class Catalog:
    """A list of models and where it came from: "api" (just fetched), "cache" or "sdk"."""

    models: tuple[ModelEntry, ...]
    origin: str
    fetched_at: float | None = None  # epoch seconds the list was fetched (api and cache)

    def get(self, model_id: str) -> ModelEntry | None:
        return next((m for m in self.models if m.id == model_id), None)

    def find(self, model_id: str) -> ModelEntry | None:
        """The model an id names: itself, else (an undated id the API resolves but does not list) its newest
        dated release, whose limits and lifecycle it has."""
        dated = [m for m in self.models if _DATE_SUFFIX.sub("", m.id) == model_id]
        return self.get(model_id) or (max(dated, key=ModelEntry.newness) if dated else None)

    def aliases(self) -> dict[str, str]:
        """Each family's short name -> its newest current model (else its newest not retired)."""
        best: dict[str, ModelEntry] = {}
        for entry in self.models:
            family = entry.family
            if family is None or entry.retired:
                continue
            held = best.get(family)
            if held is None or (entry.current, entry.newness()) > (held.current, held.newness()):
                best[family] = entry
        return {family: entry.id for family, entry in sorted(best.items())}

    def age(self, now: float) -> float | None:
        return None if self.fetched_at is None else max(0.0, now - self.fetched_at)


# -- the SDK's list ------------------------------------------------------------------------------------
def _sdk_dir() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("anthropic")  # finds the package without running its __init__
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def _string_constants(path: Path) -> list[str]:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


@cache
def known_models() -> tuple[str, ...]:
    """Every model id the SDK lists (newest first, as the SDK orders them), deprecated ones included."""
    root = _sdk_dir()
    try:
        if root is not None:
            names = [s for s in _string_constants(root / "types" / "model_param.py") if s.startswith("claude-")]
            if names:
                return tuple(dict.fromkeys(names))
    except (OSError, SyntaxError):
        pass
    return (FALLBACK_DEFAULT,)


@cache
def deprecated_models() -> dict[str, str]:
    """The SDK's deprecated ids -> their retirement date as the SDK writes it ("June 30th, 2026")."""
    import ast

    root = _sdk_dir()
    try:
        if root is not None:
            tree = ast.parse((root / "_data" / "deprecated_models.py").read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Dict):
                    return {
                        k.value: v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else ""
                        for k, v in zip(node.keys, node.values, strict=True)
                        if isinstance(k, ast.Constant) and isinstance(k.value, str)
                    }
    except (OSError, SyntaxError):
        pass
    return {}


def _sdk_day(text: str) -> str | None:
    match = _DAY.match(text.strip())
    if not match:
        return None
    try:
        return datetime.strptime(f"{match[1]} {match[2]} {match[3]}", "%B %d %Y").strftime("%Y-%m-%dT00:00:00Z")
    except ValueError:
        return None


def sdk_catalog() -> Catalog:
    deprecated = deprecated_models()
    entries = tuple(
        ModelEntry(
            id=model_id,
            lifecycle="deprecated" if model_id in deprecated else "active",
            retires_at=_sdk_day(deprecated[model_id]) if model_id in deprecated else None,
        )
        for model_id in known_models()
    )
    return Catalog(entries, "sdk")


# -- the cache -----------------------------------------------------------------------------------------
def cache_dir(environ: Mapping[str, str]) -> Path:
    explicit = environ.get("CVSTREAM_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return platformdirs.user_cache_path("cvstream", appauthor=False)


def endpoint_key(base_url: str | None, offline: bool) -> str:
    """Which API a list belongs to: another base URL (a proxy, the mock) may serve other models."""
    if offline:
        return "offline"
    url = (base_url or "").rstrip("/")
    return "api" if url in ("", "https://api.anthropic.com") else url


def cache_file(environ: Mapping[str, str], endpoint: str) -> Path:
    if endpoint == "api":
        name = "models.json"
    elif endpoint == "offline":
        name = "models-offline.json"
    else:
        import hashlib

        name = f"models-{hashlib.sha256(endpoint.encode()).hexdigest()[:12]}.json"
    return cache_dir(environ) / name


def read_cache(path: Path) -> Catalog | None:
    """The cached list, or None when there is none or it cannot be read (a broken cache is ignored)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != _CACHE_VERSION:
            return None
        models = tuple(ModelEntry.from_api(m) for m in data["models"])
        return Catalog(models, "cache", float(data["fetched_at"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_cache(path: Path, catalog: Catalog, endpoint: str) -> None:
    """Replace the cache atomically (a reader never sees half a file); failures are not fatal."""
    models = [m.as_dict() for m in catalog.models]
    body = {"version": _CACHE_VERSION, "endpoint": endpoint, "fetched_at": catalog.fetched_at, "models": models}
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".models.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(body, handle, indent=1)
        os.replace(tmp, path)
    except OSError:
        pass


def local_catalog(environ: Mapping[str, str], endpoint: str) -> Catalog:
    """The cached list at any age, else the SDK's: what resolution uses (no network)."""
    return read_cache(cache_file(environ, endpoint)) or sdk_catalog()


def fetched(environ: Mapping[str, str], endpoint: str, rows: Iterable[Mapping[str, Any]], now: float) -> Catalog:
    """A list just fetched from the Models API, written to the cache."""
    catalog = Catalog(tuple(ModelEntry.from_api(row) for row in rows), "api", now)
    write_cache(cache_file(environ, endpoint), catalog, endpoint)
    return catalog


# -- short names ---------------------------------------------------------------------------------------
def parse_aliases(text: str, where: str) -> dict[str, str]:
    """`name=model` pairs separated by commas or whitespace (CVSTREAM_ALIASES)."""
    aliases: dict[str, str] = {}
    for pair in re.split(r"[,\s]+", text.strip()):
        if not pair:
            continue
        name, sep, target = pair.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise UsageError(
                f"{where}: {pair!r} is not name=model", "for example CVSTREAM_ALIASES=cv=claude-sonnet-5-5"
            )
        aliases[name.strip().lower()] = target.strip()
    return aliases


@dataclass(frozen=True, slots=True)
class Resolved:
    id: str  # what is sent
    alias: str | None = None  # the short name it came from, if any
    entry: ModelEntry | None = None  # what the list knows of it (limits, lifecycle)

    @property
    def note(self) -> str | None:
        return self.entry.lifecycle_note(self.id) if self.entry is not None else None


def alias_table(catalog: Catalog, user: Mapping[str, str]) -> dict[str, str]:
    """Every short name -> the id it resolves to (user aliases override the families')."""
    families = catalog.aliases()
    table = dict(families)
    for name, target in user.items():
        table[name] = families.get(target.lower(), target)
    return table


def resolve(name: str, catalog: Catalog, user: Mapping[str, str]) -> Resolved:
    """A model name as the user wrote it -> the id to send; refuses anything that is neither."""
    wanted = name.strip()
    if not wanted:
        raise UsageError("the model name is empty", "pass a model id or an alias such as sonnet")
    families = catalog.aliases()
    key = wanted.lower()
    if key in user:
        target = user[key]
        model_id = families.get(target.lower(), target)
        if not (model_id.startswith("claude-") or catalog.get(model_id)):
            raise UsageError(
                f"alias {key} points to {target!r}, which is neither a model id nor an alias",
                "fix it in CVSTREAM_ALIASES or the [aliases] table of config.toml",
            )
        return Resolved(model_id, key, catalog.find(model_id))
    if key in families:
        return Resolved(families[key], key, catalog.get(families[key]))
    if catalog.get(wanted) or wanted.startswith("claude-"):
        return Resolved(wanted, None, catalog.find(wanted))
    raise _unknown(wanted, catalog, user)


def resolve_in(environ: Mapping[str, str], names: Names, name: str) -> Resolved:
    """`resolve` with the models list of `names.endpoint` (`config.model_names`), for commands that only read."""
    return resolve(name, local_catalog(environ, names.endpoint), names.aliases)


def _unknown(name: str, catalog: Catalog, user: Mapping[str, str]) -> UsageError:
    import difflib

    table = alias_table(catalog, user)
    close = difflib.get_close_matches(name.lower(), [*table, *(m.id for m in catalog.models)], n=1)
    guess = f" (did you mean {close[0]}?)" if close else ""
    listing = ", ".join(f"{alias} = {target}" for alias, target in table.items())
    return UsageError(
        f"unknown model {name!r}{guess}: not a model id (claude-...) nor an alias",
        f"aliases: {listing}; `cvstream models` lists the models",
    )


def default_model(catalog: Catalog, user: Mapping[str, str]) -> Resolved:
    """The newest Sonnet (or what the user's own `sonnet` alias says)."""
    try:
        return resolve(DEFAULT_ALIAS, catalog, user)
    except UsageError:
        return Resolved(FALLBACK_DEFAULT)


def completions(environ: Mapping[str, str], incomplete: str) -> list[str]:
    """What `--model` completes: the aliases, then the current ids (a broken CVSTREAM_ALIASES is skipped)."""
    catalog = local_catalog(environ, endpoint_key(environ.get("ANTHROPIC_BASE_URL"), False))
    try:
        user = parse_aliases(environ.get("CVSTREAM_ALIASES", ""), "CVSTREAM_ALIASES")
    except UsageError:
        user = {}
    names: Iterable[str] = [*alias_table(catalog, user), *(m.id for m in catalog.models if m.current)]
    return [n for n in dict.fromkeys(names) if n.startswith(incomplete)]
