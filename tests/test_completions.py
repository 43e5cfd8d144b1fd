"""Shell completions (generated, kept current), --version, help texts and colour rules."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cvstream.mock.server import MockServer
from tests.conftest import Result, subprocess_env

ROOT = Path(__file__).resolve().parents[1]


def test_committed_completions_are_current(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_completions.py"), str(tmp_path)], capture_output=True
    )
    assert run.returncode == 0, run.stderr
    for name in ("cvstream.bash", "_cvstream", "cvstream.fish"):
        assert (tmp_path / name).read_text() == (ROOT / "completions" / name).read_text(), (
            f"completions/{name} is stale: run python scripts/gen_completions.py"
        )


def _complete(words: str, cword: int) -> list[str]:
    env = subprocess_env(_CVSTREAM_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(cword))
    run = subprocess.run([sys.executable, "-m", "cvstream"], capture_output=True, text=True, env=env)
    return run.stdout.split()


def test_dynamic_completion_candidates() -> None:
    assert set(_complete("cvstream ", 1)) >= {"enhance", "ask", "mock", "config", "serve"}
    assert _complete("cvstream ask --method ", 3) == ["create", "stream"]
    assert _complete("cvstream enhance --effort ", 3) == ["low", "medium", "high", "xhigh", "max"]
    models = _complete("cvstream ask --model claude-sonnet", 3)
    assert "claude-sonnet-5-5" in models and "claude-sonnet-4-5" not in models  # deprecated ids are left out
    assert set(_complete("cvstream ask --max-", 2)) == {
        "--max-tokens",
        "--max-retries",
        "--max-retry-wait",
        "--max-cost",
    }
    assert _complete("cvstream enhance ", 2) == []  # FILE: the shell falls back to path completion


def test_bash_script_completes_in_a_real_bash(tmp_path: Path) -> None:
    bash = shutil.which("bash")
    assert bash
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "cvstream").symlink_to(Path(sys.executable).parent / "cvstream")
    script = (
        f"source {ROOT / 'completions' / 'cvstream.bash'}; "
        "COMP_WORDS=(cvstream ask --method ''); COMP_CWORD=3; _cvstream_completion cvstream; "
        'echo "${COMPREPLY[@]}"; complete -p cvstream'
    )
    env = {**subprocess_env(), "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run([bash, "-c", script], capture_output=True, text=True, env=env)
    assert run.stdout.splitlines() == ["create stream", "complete -o default -F _cvstream_completion cvstream"]


@pytest.mark.parametrize("command", ["enhance", "ask", "mock", "serve", "config"])
def test_every_command_has_summary_description_and_examples(command: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "cvstream", command, "--help"], capture_output=True, text=True, env=subprocess_env()
    )
    assert run.returncode == 0
    assert run.stdout.count("Examples:") == 1
    examples = run.stdout.split("Examples:")[1].splitlines()
    assert sum("cvstream " in line for line in examples) >= 2
    assert "Usage: cvstream " + command in run.stdout


def test_stderr_colour_rules(cli: Callable[..., Result], mock_server: Callable[..., MockServer]) -> None:
    server = mock_server(fault="http401")
    plain = cli("ask", "hi", base_url=server.base_url)
    assert "\x1b[" not in plain.stderr and plain.stderr.startswith("error: ")
    forced = cli("ask", "hi", base_url=server.base_url, env={"FORCE_COLOR": "1", "TERM": "xterm"})
    assert "\x1b[1;31merror:" in forced.stderr
    no_color = cli("ask", "hi", base_url=server.base_url, env={"FORCE_COLOR": "1", "NO_COLOR": "1", "TERM": "xterm"})
    assert "\x1b[31" not in no_color.stderr and "\x1b[1;31" not in no_color.stderr
    dumb = cli("ask", "hi", base_url=server.base_url, env={"FORCE_COLOR": "1", "TERM": "dumb"})
    assert "\x1b[31" not in dumb.stderr and "\x1b[1;31" not in dumb.stderr


def test_install_completion_keeps_working(tmp_path: Path) -> None:
    env = {**subprocess_env(), "HOME": str(tmp_path), "SHELL": "/bin/bash"}
    # Typer detects the shell from the process's ancestors: run it from a bash (not exec'd), as a user would.
    script = '"$0" -m cvstream --install-completion; exit $?'
    run = subprocess.run(["bash", "-c", script, sys.executable], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert "completion installed" in run.stdout
    assert "_CVSTREAM_COMPLETE" in "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())


def _commands() -> list[tuple[str, Any]]:
    import typer

    from cvstream.cli import build_app

    group = typer.main.get_command(build_app())
    return sorted(group.commands.items())  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", [name for name, _ in _commands()])
def test_help_keeps_every_default_and_loses_no_text(name: str) -> None:
    command = dict(_commands())[name]
    run = subprocess.run(
        [sys.executable, "-m", "cvstream", name, "--help"],
        capture_output=True,
        text=True,
        env={**subprocess_env(), "COLUMNS": "250"},
    )
    assert run.returncode == 0
    text = run.stdout
    assert not re.search(r"\w \.(\s|$)", text), "help text lost words to markup"  # e.g. "Model id ."
    assert all("--help" in line for line in text.splitlines() if "<bool>" in line)  # flags take no value
    with_default = [
        p
        for p in command.params
        if getattr(p, "param_type_name", "") == "option"
        and not getattr(p, "is_flag", False)
        and (isinstance(p.show_default, str) or (p.default is not None and p.show_default is not False))
    ]
    assert text.count("[default:") >= len(with_default), [p.name for p in with_default]
    for param in with_default:  # each such option's line shows its default
        assert param.opts[0] in text


def test_completion_command_prints_the_shipped_script(cli: Callable[..., Result]) -> None:
    result = cli("completion", "bash")
    assert result.code == 0
    assert result.stdout == (ROOT / "completions" / "cvstream.bash").read_bytes()
    assert cli("completion", "tcsh").code == 2


def test_the_shipped_example_runs_offline(cli: Callable[..., Result]) -> None:
    result = cli("enhance", "--example", "--offline", "--no-usage", "--quiet", key=None)
    assert result.code == 0, result.stderr
    assert result.out.strip()


def test_the_top_level_help_lists_every_command_as_the_full_app_does(capsys: pytest.CaptureFixture[str]) -> None:
    """`cvstream --help` is built from cli.COMMANDS without importing the commands: the listing must not drift."""
    import typer

    from cvstream.cli import build_app
    from cvstream.commands import LISTING

    shown = []
    for app in (build_app(), build_app(LISTING)):
        with pytest.raises(SystemExit):
            typer.main.get_command(app).main(["--help"], prog_name="cvstream")
        shown.append(capsys.readouterr().out)
    assert "log" in shown[0] and shown[0] == shown[1]
