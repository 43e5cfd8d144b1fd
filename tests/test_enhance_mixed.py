"""One `enhance` run holding bullets files and whole CVs: each input read and sent by its own kind, and the
shipped examples (`--example NAME`) reachable without a checkout (end to end through the real entry point
and SDK against the loopback mock)."""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Callable
from glob import glob
from pathlib import Path
from typing import Any

import pytest

from cvstream.documents.prompt import DOCUMENT_SYSTEM
from cvstream.errors import ExitStatus
from cvstream.mock.server import MockServer
from cvstream.prompt import ENHANCE_SYSTEM
from cvstream.shipped import EXAMPLES, directory
from tests.conftest import Result

Cli = Callable[..., Result]
ROOT = Path(__file__).resolve().parents[1]
CV = "# Jane\n\n## Work\n\n- built the api\n- led a team\n"
OFFLINE_CV = "# Jane\n\n## Work\n\n- [offline] Built the api\n- [offline] Led a team\n"
BULLETS = "- built x\n- led y\n"


def _bodies(mock: MockServer) -> dict[str, dict[str, Any]]:
    """Each request by its first user line."""
    out = {}
    for record in mock.records:
        if record.body is not None and record.path.endswith("/messages"):
            out[record.body["messages"][0]["content"].split("\n", 1)[0]] = record.body
    return out


@pytest.mark.timeout(30)
def test_a_bullets_file_and_a_cv_in_one_run_each_by_its_own_kind(cli: Cli, mock: MockServer, home: Path) -> None:
    (home / "a.txt").write_text(BULLETS)
    (home / "cv.md").write_text(CV)
    result = cli("enhance", "a.txt", "cv.md", "--out-dir", "out", "--no-usage", base_url=mock.base_url)
    assert result.code == 0, result.stderr
    assert sorted(p.name for p in (home / "out").iterdir()) == ["a.md", "cv.md"]
    assert (home / "out" / "a.md").read_text().startswith("- [offline] Built x\n")
    assert (home / "out" / "cv.md").read_text() == OFFLINE_CV
    bodies = _bodies(mock)
    bullets, document = bodies["built x"], bodies["Format: Markdown"]
    assert bullets["system"] == ENHANCE_SYSTEM and bullets["messages"][0]["content"] == "built x\nled y"
    assert document["system"] == DOCUMENT_SYSTEM and "[1] built the api" in document["messages"][0]["content"]
    assert bullets["max_tokens"] == document["max_tokens"] == 1024


@pytest.mark.timeout(30)
def test_mixed_inputs_on_stdout_and_with_a_system_of_ones_own(cli: Cli, mock: MockServer, home: Path) -> None:
    (home / "a.txt").write_text(BULLETS)
    (home / "cv.md").write_text(CV)
    result = cli("enhance", "cv.md", "a.txt", "--no-usage", base_url=mock.base_url)
    assert result.code == 0, result.stderr
    first, second = result.out.split("\n==> a.txt <==\n")
    assert first == "==> cv.md <==\n" + OFFLINE_CV and second.startswith("- [offline] Built x\n")
    mock.records.clear()
    mine = cli("enhance", "cv.md", "a.txt", "--system", "Be brief.", "--no-usage", base_url=mock.base_url)
    assert mine.code == 0, mine.stderr
    assert {body["system"] for body in _bodies(mock).values()} == {"Be brief."}
    (home / "a.md").write_text(CV)
    clash = cli("enhance", "a.txt", "a.md", "-o", "out", base_url=mock.base_url)
    assert clash.code == ExitStatus.USAGE
    assert clash.stderr.startswith("error: two inputs would write the same file in --out-dir")


@pytest.mark.timeout(30)
def test_count_enhance_counts_each_input_by_its_kind(cli: Cli, mock: MockServer, home: Path) -> None:
    (home / "a.txt").write_text(BULLETS)
    (home / "cv.md").write_text(CV)

    def counted(*names: str) -> list[tuple[str, int]]:
        result = cli("count", "enhance", *names, "--json", base_url=mock.base_url)
        assert result.code == 0, result.stderr
        return [(line["input"], line["input_tokens"]) for line in map(json.loads, result.out.splitlines())]

    assert counted("a.txt", "cv.md") == counted("a.txt") + counted("cv.md")  # each with its own system text


def test_every_listed_example_ships_inside_the_package() -> None:
    assert sorted(EXAMPLES) == sorted(p.name for p in directory().iterdir())
    assert (ROOT / "examples").resolve() == directory()


@pytest.mark.timeout(30)
def test_example_names_the_shipped_files(cli: Cli, mock: MockServer, home: Path) -> None:
    listed = cli("enhance", "--example", "list", base_url=mock.base_url)
    assert listed.code == 0 and not mock.records
    assert listed.out.splitlines()[0] == f"The examples shipped with cvstream (in {directory()}):"
    assert "  cv.txt: the same CV in plain text" in listed.out.splitlines()
    cv = cli("enhance", "--example", "cv", "--job", "job", "--no-usage", base_url=mock.base_url)
    assert cv.code == 0, cv.stderr
    assert cv.out.startswith("# Alex Morgan\n") and "- [offline] Built the **billing service**" in cv.out
    user = mock.records[-1].body["messages"][0]["content"]  # type: ignore[index]
    assert user.startswith("Format: Markdown\n") and "Senior Backend Engineer." in user
    text = cli("enhance", "--example", "cv.txt", "--no-usage", base_url=mock.base_url)
    assert "- [offline] Built the billing service" in text.out
    assert text.out.endswith(
        "Skills: Python, Go, SQL, PostgreSQL, Kafka, Kubernetes, AWS\nLanguages: English, German\n"
    )
    several = cli(
        "enhance", "--example", "bullets", "cv.md", "cv.docx", "-o", "out", "--no-usage", base_url=mock.base_url
    )
    assert several.code == 0, several.stderr
    assert sorted(p.name for p in (home / "out").iterdir()) == ["bullets.md", "cv.docx", "cv.md"]
    unknown = cli("enhance", "--example", "resume.md", base_url=mock.base_url)
    assert unknown.code == ExitStatus.USAGE
    assert unknown.stderr.splitlines()[1].startswith("hint: the examples: bullets.txt, cv.md, cv.txt, cv.tex, cv.docx")


def _readme_block(section: str) -> str:
    text = (ROOT / "README.md").read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return body.split("```sh\n", 1)[1].split("```", 1)[0]


@pytest.mark.timeout(120)
def test_the_readme_batch_examples_run_as_written(bcli: Cli, home: Path) -> None:
    """Every --offline command of "Thousands of inputs", as written, in a directory holding examples/ as a
    checkout does (a wheel's user gets the same files with --example)."""
    shutil.copytree(directory(), home / "examples")
    commands = [line.split("  #", 1)[0] for line in _readme_block("Thousands of inputs").splitlines()]
    offline = [shlex.split(c) for c in commands if "--offline" in c]
    assert len(offline) == 2
    for argv in offline:
        assert argv[:3] == ["cvstream", "batch", "enhance"]
        expanded = [name for arg in argv[1:] for name in (sorted(glob(arg, root_dir=home)) if "*" in arg else [arg])]
        out = home / expanded[expanded.index("--out-dir") + 1]
        shutil.rmtree(out, ignore_errors=True)
        result = bcli(*expanded)
        assert result.code == 0, result.stderr
        assert sorted(p.name for p in out.iterdir()) == ["bullets.md", "cv.docx", "cv.md", "cv.tex", "cv.txt"]
        assert "job" not in result.stderr
