"""`cvstream batch enhance cv.md`: whole CV documents through the Message Batches API, end to end (the real
entry point and SDK against the mock's batch endpoints): the request `cvstream enhance cv.md` sends, and the
whole document back, rebuilt as the streaming path rebuilds it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cvstream.errors import ExitStatus
from cvstream.mock.batches import BatchConfig
from cvstream.mock.server import MockServer
from tests.conftest import Result

Cli = Callable[..., Result]
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "src" / "cvstream" / "examples"
CVS = Path(__file__).resolve().parent / "fixtures" / "cvs"
CV = "# Jane\n\n## Work\n\nAcme — Engineer\n\n- built the api\n- led a team\n- cut costs\n- wrote docs\n\nThe end.\n"


def _server(mock_server: Callable[..., MockServer], **config: Any) -> MockServer:
    return mock_server(batch=BatchConfig(seconds=0.0), **config)


def _batch_params(server: MockServer) -> dict[str, dict[str, Any]]:
    """What the batches asked, by custom id."""
    assert server.state.batches is not None
    return {cid: params for b in server.state.batches.batches.values() for cid, params in b.requests}


def _paragraphs(path: Path) -> list[str]:
    import docx

    return [p.text for p in docx.Document(str(path)).paragraphs]


@pytest.mark.timeout(90)
def test_the_example_cvs_send_what_enhance_sends_and_come_back_as_enhance_writes_them(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = _server(mock_server)
    names = ["cv.md", "cv.tex", "cv.docx"]
    (home / "cvs").mkdir()
    for name in names:
        shutil.copy(EXAMPLES / name, home / "cvs" / name)  # one stem: no clash, each keeps its own name
    inputs = [f"cvs/{name}" for name in names]
    (home / "bullets.txt").write_text("- led team\n- shipped product\n")
    streamed = {}
    for path in inputs:
        result = bcli("enhance", path, "-o", "streamed", "--no-usage", base_url=server.base_url)
        assert result.code == 0, result.stderr
        body = server.records[-1].body
        assert body is not None
        streamed[Path(path).name] = {k: v for k, v in body.items() if k != "stream"}
    result = bcli("batch", "enhance", *inputs, "bullets.txt", "-o", "out", "--wait", base_url=server.base_url)
    assert result.code == 0, result.stderr
    sent = _batch_params(server)
    assert sent["cv_md"] == streamed["cv.md"]
    assert sent["cv_tex"] == streamed["cv.tex"]
    assert sent["cv_docx"] == streamed["cv.docx"]
    assert sent["bullets"]["system"] != streamed["cv.md"]["system"]  # a bullets file keeps its own request
    assert sorted(p.name for p in (home / "out").iterdir()) == ["bullets.md", "cv.docx", "cv.md", "cv.tex"]
    for name in ("cv.md", "cv.tex"):
        assert (home / "out" / name).read_bytes() == (home / "streamed" / name).read_bytes()
    assert _paragraphs(home / "out" / "cv.docx") == _paragraphs(home / "streamed" / "cv.docx")
    assert "[offline] Built the billing service in Python and Postgres" in _paragraphs(home / "out" / "cv.docx")
    assert "warning" not in result.stderr


@pytest.mark.timeout(90)
def test_every_fixture_cv_comes_back_as_the_streaming_path_writes_it(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = _server(mock_server)
    paths = sorted(p for p in CVS.iterdir() if p.suffix != ".docx")
    (home / "in").mkdir()
    for path in paths:
        shutil.copy(path, home / "in" / path.name)
    names = [f"in/{p.name}" for p in paths]
    streamed = bcli("enhance", *names, "-o", "streamed", "--no-usage", base_url=server.base_url)
    batched = bcli("batch", "enhance", *names, "-o", "out", "--wait", base_url=server.base_url)
    assert streamed.code == 0 and batched.code == 0, streamed.stderr + batched.stderr
    written = sorted(p.name for p in (home / "out").iterdir())
    assert written == sorted(p.name for p in (home / "streamed").iterdir())
    for name in written:
        assert (home / "out" / name).read_bytes() == (home / "streamed" / name).read_bytes(), name


@pytest.mark.timeout(60)
def test_a_broken_answer_keeps_the_missing_bullets_and_says_so(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    answer = "Here is the rewrite:\n\n[1] Built the API\n[1] Built it twice\n[3] Cut costs [4] Wrote docs\n[9] Extra\n"
    server = _server(mock_server, text=answer)
    (home / "cv.md").write_text(CV)
    result = bcli("batch", "enhance", "cv.md", "-o", "out", "--wait", base_url=server.base_url)
    assert result.code == 0, result.stderr
    assert (home / "out" / "cv.md").read_text() == CV.replace("built the api", "Built the API").replace(
        "cut costs", "Cut costs"
    ).replace("wrote docs", "Wrote docs")
    assert "warning: cv.md: 1 of 4 bullets kept as they were (no rewrite came back): 2\n" in result.stderr
    streamed = bcli("enhance", "cv.md", "-o", "streamed", "--no-usage", base_url=server.base_url)
    assert (home / "streamed" / "cv.md").read_bytes() == (home / "out" / "cv.md").read_bytes()
    assert streamed.stderr == "warning: 1 of 4 bullets kept as they were (no rewrite came back): 2\n"


@pytest.mark.timeout(60)
def test_an_answer_with_no_usable_line_gives_the_document_back_as_it_was(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = _server(mock_server, text="Sorry, I cannot help with that.")
    (home / "cv.tex").write_text("\\begin{itemize}\n  \\item built \\textbf{x}\n  \\item led y\n\\end{itemize}\n")
    result = bcli("batch", "enhance", "cv.tex", "-o", "out", "--wait", base_url=server.base_url)
    assert result.code == 0, result.stderr
    assert (home / "out" / "cv.tex").read_bytes() == (home / "cv.tex").read_bytes()
    assert "warning: cv.tex: 2 of 2 bullets kept as they were (no rewrite came back): 1, 2" in result.stderr


@pytest.mark.timeout(60)
def test_the_answer_goes_into_the_document_as_submitted_even_if_the_file_changed(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path, state: Path
) -> None:
    server = _server(mock_server)
    (home / "cv.md").write_text(CV)
    submitted = bcli("batch", "enhance", "cv.md", "-o", "out", base_url=server.base_url)
    assert submitted.code == 0, submitted.stderr
    [copy] = (state / "batches" / "sources").iterdir()
    assert copy.stat().st_mode & 0o777 == 0o600 and copy.read_text() == CV
    (home / "cv.md").write_text("# Someone else\n\n- did other things\n")
    result = bcli("batch", "results", base_url=server.base_url)
    assert result.code == 0, result.stderr
    assert (home / "out" / "cv.md").read_text() == CV.replace("- built", "- [offline] Built").replace(
        "- led", "- [offline] Led"
    ).replace("- cut", "- [offline] Cut").replace("- wrote", "- [offline] Wrote")
    shutil.rmtree(state / "batches" / "sources")  # the copy gone: the answer is kept, the input listed
    again = bcli("batch", "results", "-o", "again", base_url=server.base_url)
    assert again.code == ExitStatus.SOME_FAILED
    assert "errored: cv.md: the copy of cv.md kept with the job is gone" in again.stderr
    kept = json.loads((home / "again" / "cv.md.error.json").read_text())
    assert kept["answer"].startswith("[1] [offline] Built the api")
    deleted = bcli("batch", "delete", submitted.out.strip(), base_url=server.base_url)
    assert deleted.code == 0, deleted.stderr


@pytest.mark.timeout(60)
def test_deleting_the_job_removes_its_document_copies(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path, state: Path
) -> None:
    server = _server(mock_server)
    (home / "cv.md").write_text(CV)
    (home / "other.md").write_text(CV + "\n- one more\n")
    first = bcli("batch", "enhance", "cv.md", "-o", "a", "--wait", base_url=server.base_url)
    second = bcli("batch", "enhance", "cv.md", "other.md", "-o", "b", "--wait", base_url=server.base_url)
    assert first.code == 0 and second.code == 0
    assert len(list((state / "batches" / "sources").iterdir())) == 2
    assert bcli("batch", "delete", second.out.strip(), base_url=server.base_url).code == 0
    assert len(list((state / "batches" / "sources").iterdir())) == 1  # cv.md's copy: the first job needs it


def test_a_long_cv_gets_room_for_all_its_bullets_unless_max_tokens_is_given(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = _server(mock_server)
    (home / "long.md").write_text("".join(f"- bullet {n}\n" for n in range(40)))
    assert bcli("batch", "enhance", "long.md", "-o", "a", base_url=server.base_url).code == 0
    assert bcli("batch", "enhance", "long.md", "-o", "b", "--max-tokens", "900", base_url=server.base_url).code == 0
    sent = [params["max_tokens"] for b in server.state.batches.batches.values() for _, params in b.requests]  # type: ignore[union-attr]
    assert sent == [40 * 80 + 256, 900]


def test_clashing_outputs_are_refused_before_anything_is_sent(
    bcli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = _server(mock_server)
    (home / "a").mkdir()
    (home / "b").mkdir()
    (home / "a" / "cv.md").write_text(CV)
    (home / "b" / "cv.md").write_text(CV)
    (home / "cv.txt").write_text("- led a team\n")
    clash = bcli("batch", "enhance", "a/cv.md", "b/cv.md", base_url=server.base_url)
    assert clash.code == ExitStatus.USAGE
    assert clash.stderr.startswith("error: a/cv.md and b/cv.md would both write cv.md\n")
    bullets = bcli("batch", "enhance", "a/cv.md", "cv.txt", base_url=server.base_url)
    assert bullets.stderr.startswith("error: a/cv.md and cv.txt would both write cv.md\n")
    (home / "out").mkdir()
    (home / "out" / "cv.md").write_text("mine")
    existing = bcli("batch", "enhance", "a/cv.md", "-o", "out", base_url=server.base_url)
    assert existing.code == ExitStatus.USAGE and "out/cv.md already exists" in existing.stderr
    assert server.records == []
