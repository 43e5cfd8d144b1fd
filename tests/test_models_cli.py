"""`cvstream models`, `models show` and short model names, end to end against the mock through the real SDK."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cvstream import models
from cvstream.mock import models_api
from cvstream.mock.server import MockServer
from tests.conftest import Result

pytestmark = pytest.mark.timeout(60)

Cli = Callable[..., Result]
CURRENT = [m["id"] for m in models_api.CATALOGUE if m["lifecycle"] != "retired"]


def _cache(home: Path, base_url: str) -> Path:
    environ = {"CVSTREAM_CACHE_DIR": str(home / ".cache" / "cvstream")}
    return models.cache_file(environ, models.endpoint_key(base_url, False))


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _list_requests(server: MockServer) -> list[str]:
    return [r.path for r in server.records if r.path.startswith("/v1/models?")]


def _ids(result: Result) -> list[str]:
    return [json.loads(line)["id"] for line in result.out.splitlines()]


def test_lists_every_page_as_ndjson_and_caches_it(cli: Cli, mock_server: Callable[..., MockServer], home: Path) -> None:
    server = mock_server(models_page_max=4)
    result = cli("models", base_url=server.base_url)
    assert result.code == 0
    assert _ids(result) == CURRENT
    assert len(_list_requests(server)) == 4  # 13 models in pages of 4
    rows = {json.loads(line)["id"]: json.loads(line) for line in result.out.splitlines()}
    assert rows["claude-sonnet-5-5"]["aliases"] == ["sonnet"]
    assert rows["claude-sonnet-5-5"]["max_input_tokens"] == 1_000_000
    assert rows["claude-fable-5-2"]["max_tokens"] is None and rows["claude-fable-5-2"]["aliases"] == ["fable"]
    assert result.stderr == (
        "models: 11 from the Models API (just fetched; cached for 24 h); 2 retired not shown (--all shows them)\n"
    )
    assert _cache(home, server.base_url).is_file()
    again = cli("models", "--all", base_url=server.base_url)
    assert _ids(again) == [m["id"] for m in models_api.CATALOGUE]
    assert len(_list_requests(server)) == 4  # served from the cache
    assert again.stderr.startswith("models: 13 from the cache, fetched ")
    cli("models", "--refresh", base_url=server.base_url)
    assert len(_list_requests(server)) == 8


def test_a_table_on_a_terminal(cli: Cli, mock: MockServer) -> None:
    result = cli("models", tty=True, base_url=mock.base_url)
    lines = result.out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "CONTEXT", "MAX", "OUTPUT", "CREATED", "DEPRECATED", "RETIRES", "ALIASES"]
    sonnet = next(line for line in lines if line.startswith("claude-sonnet-5-5 "))
    assert sonnet.split() == [
        "claude-sonnet-5-5",
        "Claude",
        "Sonnet",
        "5.5",
        "1,000,000",
        "128,000",
        "2026-09-15",
        "sonnet",
    ]
    old = next(line for line in lines if line.startswith("claude-sonnet-4-5-20250929 "))
    assert old.split()[-2:] == ["2026-08-30", "2026-11-30"]
    assert "\x1b[" not in result.out
    assert cli("models", "--json", tty=True, base_url=mock.base_url).out.startswith('{"id": "claude-fable-5-2"')


def test_a_stale_cache_is_refetched_and_shown_with_its_age_when_the_network_is_down(
    cli: Cli, mock: MockServer, home: Path
) -> None:
    stale = models.Catalog((models.ModelEntry("claude-sonnet-1", line="sonnet"),), "api", time.time() - 3 * 86400)
    models.write_cache(_cache(home, mock.base_url), stale, "test")
    fresh = cli("models", base_url=mock.base_url)
    assert _ids(fresh) == CURRENT and len(_list_requests(mock)) == 1

    down = _closed_port_url()
    models.write_cache(_cache(home, down), stale, "test")
    result = cli("models", base_url=down)
    assert result.code == 0
    assert _ids(result) == ["claude-sonnet-1"]
    assert result.stderr == (
        f"models: 1 from the cache, fetched 3 days ago (cannot fetch the list: cannot connect to {down} "
        "(connection refused))\n"
    )
    refresh = cli("models", "--refresh", base_url=down)
    assert refresh.code == 5 and refresh.out == ""
    assert refresh.stderr.startswith(f"error: cannot connect to {down} (connection refused)\n")


def test_without_a_key_the_sdk_list_and_says_so(cli: Cli) -> None:
    result = cli("models", key=None)
    assert result.code == 0
    assert "claude-sonnet-5-5" in _ids(result)
    assert result.stderr == (
        "models: 22 from the installed SDK's built-in list (no limits or dates) (cannot fetch the list: no API key)\n"
    )


def test_show_one_model_by_alias_and_unknowns(cli: Cli, mock: MockServer) -> None:
    result = cli("models", "show", "haiku", base_url=mock.base_url)
    assert result.code == 0
    shown = json.loads(result.out)
    assert shown["id"] == "claude-haiku-5-5" and shown["capabilities"]["batch"] == {"supported": True}
    table = cli("models", "show", "claude-fable-5-2", tty=True, base_url=mock.base_url)
    assert "context window  not published" in table.out and "aliases         fable" in table.out
    missing = cli("models", "show", "claude-nope-1", base_url=mock.base_url)
    assert missing.code == 1 and "model not found: claude-nope-1 (HTTP 404: model: claude-nope-1)" in missing.stderr
    unknown = cli("models", "show", "sonet", base_url=mock.base_url)
    assert unknown.code == 2
    assert unknown.stderr.startswith("error: unknown model 'sonet' (did you mean sonnet?)")


def test_show_without_network_uses_the_cache(cli: Cli, mock: MockServer, home: Path) -> None:
    cli("models", "--offline")
    result = cli("models", "show", "opus", "--offline", key=None)
    assert json.loads(result.out)["id"] == "claude-opus-5-5"
    offline = cli("models", "show", "claude-opus-5", key=None)  # no key, no --offline: the SDK's list
    assert offline.code == 0 and json.loads(offline.out)["id"] == "claude-opus-5"
    assert offline.stderr.startswith("note: cannot ask the API (no API key); showing the installed SDK's")


def test_short_names_resolve_from_the_cached_list(cli: Cli, mock: MockServer) -> None:
    cli("models", base_url=mock.base_url)
    result = cli("ask", "hi", "-m", "opus", base_url=mock.base_url)
    assert result.code == 0
    assert mock.records[-1].body is not None and mock.records[-1].body["model"] == "claude-opus-5-5"
    summary = json.loads(cli("ask", "hi", "-m", "opus", "--json", base_url=mock.base_url).out.splitlines()[-1])
    assert summary["model"] == "claude-opus-5-5"  # the --json summary shows the resolved id
    cli("ask", "hi", base_url=mock.base_url)
    assert mock.records[-1].body is not None and mock.records[-1].body["model"] == "claude-sonnet-5-5"
    cli("ask", "hi", "-m", "claude-whatever-9", base_url=mock.base_url)
    assert mock.records[-1].body is not None and mock.records[-1].body["model"] == "claude-whatever-9"


def test_an_unknown_name_is_refused_before_sending(cli: Cli, mock: MockServer) -> None:
    cli("models", base_url=mock.base_url)
    sent = len(mock.records)
    result = cli("ask", "hi", "-m", "gpt-4", base_url=mock.base_url, env={"CVSTREAM_ALIASES": "cv=claude-sonnet-4-6"})
    assert result.code == 2
    assert len(mock.records) == sent
    assert result.stderr == (
        "error: unknown model 'gpt-4': not a model id (claude-...) nor an alias\n"
        "hint: aliases: fable = claude-fable-5-2, haiku = claude-haiku-5-5, opus = claude-opus-5-5, "
        "sonnet = claude-sonnet-5-5, cv = claude-sonnet-4-6; `cvstream models` lists the models\n"
    )
    bad_env = cli("ask", "hi", base_url=mock.base_url, env={"CVSTREAM_MODEL": "sonet"})
    assert bad_env.code == 2 and "(from CVSTREAM_MODEL in environment)" in bad_env.stderr


def test_user_aliases_from_the_environment_and_config_toml(cli: Cli, mock: MockServer, home: Path) -> None:
    config = home / ".config" / "cvstream"
    config.mkdir(parents=True)
    (config / "config.toml").write_text('[aliases]\ncv = "claude-sonnet-4-6"\nquick = "haiku"\n')
    cli("ask", "hi", "-m", "cv", base_url=mock.base_url)
    assert mock.records[-1].body is not None and mock.records[-1].body["model"] == "claude-sonnet-4-6"
    cli("ask", "hi", "-m", "cv", base_url=mock.base_url, env={"CVSTREAM_ALIASES": "cv=claude-opus-4-6"})
    assert mock.records[-1].body is not None and mock.records[-1].body["model"] == "claude-opus-4-6"
    shown = cli("config", "-m", "quick", base_url=mock.base_url)
    assert "model        claude-haiku-5-5  (flag --model, alias quick)" in shown.out  # the SDK's list: no cache yet
    (config / "config.toml").write_text("[aliases\n")
    broken = cli("ask", "hi", base_url=mock.base_url)
    assert broken.code == 2 and broken.stderr.startswith(f"error: {config / 'config.toml'} is not valid TOML")


def test_the_default_is_the_newest_current_sonnet_of_the_cached_list(
    cli: Cli, mock_server: Callable[..., MockServer]
) -> None:
    catalogue = [
        {**models_api.CATALOGUE[1], "id": "claude-sonnet-7", "created_at": "2027-03-01T00:00:00Z"},
        {
            **models_api.CATALOGUE[1],
            "id": "claude-sonnet-8",
            "created_at": "2027-05-01T00:00:00Z",
            "lifecycle": "deprecated",
            "deprecated_at": "2027-06-01T00:00:00Z",
        },
        models_api.CATALOGUE[2],
    ]
    server = mock_server(models=catalogue)
    cli("models", base_url=server.base_url)
    cli("ask", "hi", base_url=server.base_url)
    assert server.records[-1].body is not None and server.records[-1].body["model"] == "claude-sonnet-7"
    shown = cli("config", base_url=server.base_url)
    assert "model        claude-sonnet-7  (default: the newest sonnet)" in shown.out


def test_help_and_resolution_never_import_the_sdk(home: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import subprocess_env

    env = subprocess_env(HOME=str(home), CVSTREAM_CACHE_DIR=str(home / "cache"))
    for args in (["models", "--help"], ["models", "show", "--help"], ["count", "ask", "--help"], ["config", "prices"]):
        run = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "cvstream", *args], capture_output=True, env=env
        )
        assert run.returncode == 0, run.stderr
        assert b" anthropic\n" not in run.stderr, args
    code = (
        "import sys; from pathlib import Path; from cvstream.config import load_settings; "
        "s = load_settings({'CVSTREAM_CACHE_DIR': sys.argv[1]}, Path(sys.argv[1]), model='haiku'); "
        "print(s.model.value, 'anthropic' in sys.modules)"
    )
    resolved = subprocess.run([sys.executable, "-c", code, str(home)], capture_output=True, text=True, env=env)
    assert resolved.stdout == "claude-haiku-5-5 False\n", resolved.stderr


def test_the_readme_examples_match_the_output(cli: Cli, mock: MockServer) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = cli("models", tty=True, base_url=mock.base_url)
    shown = readme.split("$ cvstream models\n", 1)[1].split("```", 1)[0].splitlines()
    assert shown[:4] == table.out.splitlines()[:4]
    assert shown[5] == table.out.splitlines()[-1]
    assert shown[6] == table.stderr.rstrip("\n")
    refused = cli("ask", "-m", "sonet", "hi", base_url=mock.base_url)
    example = readme.split('$ cvstream ask -m sonet "hi"\n', 1)[1].split("```", 1)[0]
    assert refused.stderr == example
    counted = cli("count", "enhance", "--example", "-m", "haiku", "--offline", key=None)
    example = readme.split("$ cvstream count enhance --example -m haiku --offline\n", 1)[1].split("```", 1)[0]
    assert counted.out == example
