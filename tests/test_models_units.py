"""The pure parts of models.py: which id a short name means, the cache file, the SDK's fallback list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cvstream import models
from cvstream.errors import ExitStatus, UsageError
from cvstream.mock import models_api
from cvstream.models import Catalog, ModelEntry

MOCK = Catalog(tuple(ModelEntry.from_api(m) for m in models_api.CATALOGUE), "cache", 0.0)


def test_families_resolve_to_their_newest_current_model() -> None:
    assert MOCK.aliases() == {
        "fable": "claude-fable-5-2",
        "haiku": "claude-haiku-5-5",
        "opus": "claude-opus-5-5",
        "sonnet": "claude-sonnet-5-5",
    }  # mythos has only a retired model, so no alias


def test_a_newer_deprecated_model_loses_to_an_older_current_one() -> None:
    catalog = Catalog(
        (
            ModelEntry("claude-sonnet-9", created_at="2027-01-01T00:00:00Z", lifecycle="deprecated"),
            ModelEntry("claude-sonnet-8", created_at="2026-01-01T00:00:00Z"),
            ModelEntry("claude-sonnet-10", created_at="2028-01-01T00:00:00Z", lifecycle="retired"),
        ),
        "cache",
    )
    assert catalog.aliases() == {"sonnet": "claude-sonnet-8"}
    only_deprecated = Catalog((ModelEntry("claude-opus-1", lifecycle="deprecated"),), "cache")
    assert only_deprecated.aliases() == {"opus": "claude-opus-1"}  # better than no alias at all


def test_same_day_releases_prefer_the_higher_version_then_the_undated_id() -> None:
    day = "2026-01-01T00:00:00Z"
    catalog = Catalog(
        (
            ModelEntry("claude-haiku-5-5-20260101", created_at=day),
            ModelEntry("claude-haiku-5-5", created_at=day),
            ModelEntry("claude-haiku-5", created_at=day),
        ),
        "cache",
    )
    assert catalog.aliases()["haiku"] == "claude-haiku-5-5"
    undated = Catalog((ModelEntry("claude-sonnet-4-6"), ModelEntry("claude-sonnet-5"), ModelEntry("x")), "sdk")
    assert undated.aliases() == {"sonnet": "claude-sonnet-5"}  # no dates: the version decides


def test_the_family_comes_from_line_before_the_id() -> None:
    assert ModelEntry("claude-3-7-sonnet-20250219").family == "sonnet"
    assert ModelEntry("claude-odd-id", line="opus").family == "opus"
    assert ModelEntry("gpt-4").family is None


def test_resolution_rules() -> None:
    user = {"cv": "claude-sonnet-4-6", "fast": "haiku"}
    assert models.resolve("sonnet", MOCK, user) == models.Resolved(
        "claude-sonnet-5-5", "sonnet", MOCK.get("claude-sonnet-5-5")
    )
    assert models.resolve("Haiku", MOCK, user).id == "claude-haiku-5-5"
    assert models.resolve("cv", MOCK, user).id == "claude-sonnet-4-6"
    assert models.resolve("fast", MOCK, user) == models.Resolved(
        "claude-haiku-5-5", "fast", MOCK.get("claude-haiku-5-5")
    )
    exact = models.resolve("claude-sonnet-4-5-20250929", MOCK, {})
    assert exact.alias is None and exact.note == "claude-sonnet-4-5-20250929 is deprecated (it retires on 2026-11-30)"
    assert models.resolve("claude-brand-new-7", MOCK, {}) == models.Resolved("claude-brand-new-7")
    undated = models.resolve("claude-sonnet-4-5", MOCK, {})  # the API's alias, which its list does not hold
    assert undated.id == "claude-sonnet-4-5" and undated.entry == MOCK.get("claude-sonnet-4-5-20250929")
    assert undated.note == "claude-sonnet-4-5 (claude-sonnet-4-5-20250929) is deprecated (it retires on 2026-11-30)"
    assert models.resolve("claude-sonnet-4-5-20990101", MOCK, {}).entry is None  # a dated id is only itself
    assert models.resolve("claude-mythos-preview", MOCK, {}).note == (
        "claude-mythos-preview was retired on 2026-06-30; the API will likely refuse it"
    )
    assert models.resolve("sonnet", MOCK, {"sonnet": "claude-sonnet-5"}).id == "claude-sonnet-5"  # users win


def test_an_unknown_name_is_refused_with_the_aliases_and_a_guess() -> None:
    with pytest.raises(UsageError) as caught:
        models.resolve("sonet", MOCK, {"cv": "claude-sonnet-4-6"})
    error = caught.value
    assert error.status == ExitStatus.USAGE
    assert error.lines() == [
        "error: unknown model 'sonet' (did you mean sonnet?): not a model id (claude-...) nor an alias",
        "hint: aliases: fable = claude-fable-5-2, haiku = claude-haiku-5-5, opus = claude-opus-5-5, "
        "sonnet = claude-sonnet-5-5, cv = claude-sonnet-4-6; `cvstream models` lists the models",
    ]
    with pytest.raises(UsageError, match="alias bad points to 'gpt-4', which is neither"):
        models.resolve("bad", MOCK, {"bad": "gpt-4"})


def test_parse_aliases() -> None:
    assert models.parse_aliases("cv=claude-sonnet-5-5, Fast=haiku  x=y", "env") == {
        "cv": "claude-sonnet-5-5",
        "fast": "haiku",
        "x": "y",
    }
    assert models.parse_aliases("", "env") == {}
    with pytest.raises(UsageError, match="env: 'cv' is not name=model"):
        models.parse_aliases("cv", "env")


def test_cache_round_trip_and_broken_caches(tmp_path: Path) -> None:
    path = tmp_path / "c" / "models.json"
    catalog = Catalog(MOCK.models, "api", 1234.5)
    models.write_cache(path, catalog, "api")
    back = models.read_cache(path)
    assert back == Catalog(MOCK.models, "cache", 1234.5)
    assert back.age(1300.0) == pytest.approx(65.5)
    for broken in ("", "{", "[]", json.dumps({"version": 99, "models": [], "fetched_at": 1})):
        path.write_text(broken)
        assert models.read_cache(path) is None
    assert models.read_cache(tmp_path / "absent.json") is None


def test_cache_files_are_per_endpoint(tmp_path: Path) -> None:
    environ = {"CVSTREAM_CACHE_DIR": str(tmp_path)}
    assert models.endpoint_key(None, False) == models.endpoint_key("https://api.anthropic.com/", False) == "api"
    assert models.endpoint_key("http://127.0.0.1:9/", True) == "offline"
    assert models.cache_file(environ, "api") == tmp_path / "models.json"
    assert models.cache_file(environ, "offline") == tmp_path / "models-offline.json"
    proxy = models.cache_file(environ, models.endpoint_key("https://proxy.example/v1", False))
    assert proxy.parent == tmp_path and proxy.name.startswith("models-") and proxy.name != "models.json"


def test_the_sdk_list_marks_deprecated_models_with_their_retirement_day() -> None:
    catalog = models.sdk_catalog()
    assert catalog.origin == "sdk" and catalog.fetched_at is None
    deprecated = models.deprecated_models()
    for entry in catalog.models:
        assert entry.current == (entry.id not in deprecated)
        if deprecated.get(entry.id):
            assert entry.retires_at is not None and entry.retires_at.endswith("T00:00:00Z")
    assert set(catalog.aliases()) >= {"sonnet", "haiku", "opus"}
