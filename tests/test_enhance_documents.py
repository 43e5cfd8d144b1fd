"""`cvstream enhance cv.md`: the whole CV in, the same CV out with its bullets rewritten in place (end to end,
through the real entry point and SDK against the loopback mock)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from cvstream.documents import fixer, kind_of, load_text
from cvstream.documents.model import Document
from cvstream.documents.scope import select
from cvstream.errors import ExitStatus
from cvstream.mock.replies import offline_bullet
from cvstream.mock.server import MockServer
from tests.conftest import Result
from tests.test_live import screen_lines

CVS = Path(__file__).resolve().parent / "fixtures" / "cvs"
ROOT = Path(__file__).resolve().parents[1]
CV = "# Jane\n\n## Work\n\nAcme — Engineer\n\n- built the api\n- led a team\n- cut costs\n- wrote docs\n\nThe end.\n"
OFFLINE_CV = (  # CV as the mock rewrites it
    "# Jane\n\n## Work\n\nAcme — Engineer\n\n- [offline] Built the api\n- [offline] Led a team\n"
    "- [offline] Cut costs\n- [offline] Wrote docs\n\nThe end.\n"
)


def _load(text: str, name: str) -> Document:
    """The document as `enhance` rewrites it: its achievement bullets only (scope.select)."""
    return select(load_text(kind_of(name, text), text))[0]


def _kept(document: Document) -> list[str]:
    return [p for p in document.parts if isinstance(p, str)]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", sorted(CVS.iterdir()), ids=lambda p: p.name)
def test_every_fixture_comes_back_whole_with_every_bullet_rewritten(
    cli: Callable[..., Result], mock: MockServer, home: Path, path: Path
) -> None:
    shutil.copy(path, home / path.name)
    result = cli("enhance", path.name, "--no-usage", base_url=mock.base_url)
    assert result.code == 0, result.stderr
    source = path.read_bytes()
    assert result.stdout.startswith(b"\xef\xbb\xbf") == source.startswith(b"\xef\xbb\xbf")
    text = source.decode().removeprefix("\ufeff")
    before, after = _load(text, path.name), _load(result.out.removeprefix("\ufeff"), path.name)
    assert _kept(after) == _kept(before)  # every non-bullet byte survives
    mark = "(offline)" if before.kind == "latex" else "[offline]"
    fix = fixer(before.kind)
    assert [b.text for b in after.bullets] == [
        " ".join(fix(offline_bullet(b.text, mark)).split()) for b in before.bullets
    ]
    assert result.stderr == ""  # nothing kept, so no warning


def _broken(mock_server: Callable[..., MockServer], home: Path, answer: str, **config: object) -> MockServer:
    (home / "cv.md").write_text(CV)
    return mock_server(text=answer, **config)


@pytest.mark.timeout(30)
def test_a_broken_answer_loses_nothing_and_says_what_was_kept(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer], home: Path
) -> None:
    answer = "Here is the rewrite:\n\n[1] Built the API\n[1] Built it twice\n[3] Cut costs [4] Wrote docs\n[9] Extra\n"
    server = _broken(mock_server, home, answer)
    result = cli("enhance", "cv.md", "--no-usage", base_url=server.base_url)
    assert result.code == 0, result.stderr
    assert result.out == CV.replace("built the api", "Built the API").replace("cut costs", "Cut costs").replace(
        "wrote docs", "Wrote docs"
    )
    assert result.stderr == "warning: 1 of 4 bullets kept as they were (no rewrite came back): 2\n"
    strict = cli("enhance", "cv.md", "--no-usage", "--strict", base_url=server.base_url)
    assert strict.code == ExitStatus.INCOMPLETE
    assert strict.out == result.out
    assert "error: 1 bullets did not come back rewritten (--strict)" in strict.stderr


@pytest.mark.timeout(30)
def test_a_stream_cut_mid_bullet_still_gives_the_whole_document(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer], home: Path
) -> None:
    answer = "[1] Built the API\n[2] Led a team of four engineers\n[3] Cut costs\n[4] Wrote docs\n"
    server = _broken(mock_server, home, answer, fault="truncate", fault_after=9)
    result = cli("enhance", "cv.md", "--no-usage", base_url=server.base_url)
    assert result.code == ExitStatus.INCOMPLETE
    assert result.out == CV.replace("built the api", "Built the API")  # [2] was cut: its original stays
    assert "3 of 4 bullets kept as they were" in result.stderr
    out_dir = cli("enhance", "cv.md", "--no-usage", "--out-dir", "out", base_url=server.base_url)
    assert out_dir.code == ExitStatus.INCOMPLETE
    assert (home / "out" / "cv.md.partial").read_text() == result.out
    assert not (home / "out" / "cv.md").exists()


@pytest.mark.timeout(30)
def test_in_place_rewrites_the_file_only_after_a_complete_answer(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer], home: Path
) -> None:
    broken = _broken(mock_server, home, "[1] Built the API\n[2] Led\n", fault="reset", fault_after=2)
    os.chmod(home / "cv.md", 0o600)
    failed = cli("enhance", "cv.md", "--in-place", "--no-usage", base_url=broken.base_url)
    assert failed.code == ExitStatus.INCOMPLETE
    assert (home / "cv.md").read_text() == CV
    assert sorted(p.name for p in home.iterdir()) == ["cv.md", "cv.md.partial"]
    assert failed.stdout == b""
    good = mock_server()
    done = cli("enhance", "cv.md", "--in-place", "--no-usage", base_url=good.base_url)
    assert done.code == 0, done.stderr
    assert (home / "cv.md").read_text().count("- [offline] ") == 4
    assert (home / "cv.md.orig").read_text() == CV
    assert stat.S_IMODE((home / "cv.md").stat().st_mode) == 0o600
    (home / "cv.md.orig").unlink()
    again = cli("enhance", "cv.md", "--in-place", "--no-backup", "--no-usage", base_url=good.base_url)
    assert again.code == 0 and not (home / "cv.md.orig").exists()


@pytest.mark.timeout(30)
def test_diff_in_a_pipe_is_a_patch_that_applies(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    tool = shutil.which("patch") or shutil.which("git")
    if tool is None:
        pytest.skip("neither patch nor git is installed")
    (home / "cv.md").write_text(CV)
    result = cli("enhance", "cv.md", "--diff", "--no-usage", base_url=mock.base_url)
    assert result.code == 0, result.stderr
    assert result.out.startswith("--- a/cv.md\n+++ b/cv.md\n@@ ")
    rewritten = cli("enhance", "cv.md", "--no-usage", base_url=mock.base_url).out
    args = [tool, "-p1", "--quiet"] if tool.endswith("patch") else [tool, "apply", "-p1"]
    subprocess.run(args, input=result.stdout, cwd=home, check=True, timeout=20)
    assert (home / "cv.md").read_text() == rewritten


@pytest.mark.timeout(30)
def test_diff_on_a_terminal_shows_each_bullet_before_and_after(
    cli: Callable[..., Result], mock: MockServer, home: Path
) -> None:
    (home / "cv.md").write_text(CV)
    result = cli("enhance", "cv.md", "--diff", "--no-usage", base_url=mock.base_url, tty=True)
    assert result.code == 0, result.stderr
    lines = screen_lines(result.stdout.replace(b"\n", b"\r\n"), 80, 24)
    assert lines[:3] == ["[1] Jane › Work › Acme — Engineer", "- built the api", "+ [offline] Built the api"]


@pytest.mark.timeout(30)
def test_json_has_a_bullet_event_per_bullet(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    (home / "cv.md").write_text(CV)
    result = cli("enhance", "cv.md", "--json", base_url=mock.base_url)
    assert result.code == 0, result.stderr
    lines = [json.loads(line) for line in result.out.splitlines()]
    bullets = [line for line in lines if line["type"] == "cvstream.bullet"]
    assert [b["number"] for b in bullets] == [1, 2, 3, 4]
    assert bullets[1] == {
        "type": "cvstream.bullet",
        "number": 2,
        "context": "Jane › Work › Acme — Engineer",
        "before": "led a team",
        "after": "[offline] Led a team",
        "rewritten": True,
    }
    assert lines[0]["type"] == "message_start" and lines[-1]["type"] == "cvstream.summary"


@pytest.mark.timeout(30)
def test_only_sends_the_bullets_of_matching_sections(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    shutil.copy(CVS / "md-4-crlf.md", home / "cv.md")
    result = cli("enhance", "cv.md", "--only", "LANGUAGES", "--no-usage", base_url=mock.base_url)
    assert result.code == 0, result.stderr
    user = mock.records[-1].body["messages"][0]["content"]  # type: ignore[index]
    assert "[1] German (native)\n[2] English (fluent)\n</bullets>" in user and "[3]" not in user
    assert "- automated deployments with GitLab CI and Ansible\r\n" in result.out
    assert "- [offline] German (native)\r\n" in result.out
    nothing = cli("enhance", "cv.md", "--only", "Hobbies", base_url=mock.base_url)
    assert nothing.code == ExitStatus.USAGE
    assert nothing.stderr.splitlines() == [
        "error: --only Hobbies matches no section with bullets in cv.md",
        "hint: its sections: Tom Becker, Experience, Logistix AG — DevOps Engineer (2018–2024), Languages",
    ]


@pytest.mark.timeout(30)
def test_the_request_numbers_bullets_under_their_context_and_asks_for_enough_tokens(
    cli: Callable[..., Result], mock: MockServer, home: Path
) -> None:
    from cvstream.documents.prompt import DOCUMENT_SYSTEM

    (home / "cv.md").write_text(CV)
    (home / "job.txt").write_text("Staff engineer\n")
    result = cli("enhance", "cv.md", "--job", "job.txt", "--no-usage", base_url=mock.base_url)
    assert result.code == 0, result.stderr
    body = mock.records[-1].body
    assert body is not None and body["system"] == DOCUMENT_SYSTEM
    assert body["messages"][0]["content"] == (
        "Format: Markdown\n<bullets>\n# Jane › Work › Acme — Engineer\n[1] built the api\n[2] led a team\n"
        "[3] cut costs\n[4] wrote docs\n</bullets>\n\n<job_description>\nStaff engineer\n</job_description>"
    )
    assert body["max_tokens"] == 1024  # 4 bullets fit the default
    many = "".join(f"- bullet {n}\n" for n in range(40))
    (home / "long.md").write_text(many)
    cli("enhance", "long.md", "--no-usage", base_url=mock.base_url)
    assert mock.records[-1].body["max_tokens"] == 40 * 80 + 256  # type: ignore[index]
    cli("enhance", "long.md", "--no-usage", "--max-tokens", "900", base_url=mock.base_url)
    assert mock.records[-1].body["max_tokens"] == 900  # type: ignore[index]


@pytest.mark.timeout(30)
def test_latex_rewrites_with_unbalanced_braces_keep_the_original(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer], home: Path
) -> None:
    (home / "cv.tex").write_text("\\begin{itemize}\n  \\item built \\textbf{x}\n  \\item led y\n\\end{itemize}\n")
    server = mock_server(text="[1] Built \\textbf{x\n[2] Led \\emph{y}\n")
    result = cli("enhance", "cv.tex", "--no-usage", base_url=server.base_url)
    assert result.code == 0
    assert result.out == "\\begin{itemize}\n  \\item built \\textbf{x}\n  \\item Led \\emph{y}\n\\end{itemize}\n"
    assert result.stderr == "warning: 1 of 2 bullets kept as they were (unbalanced braces): 1\n"


def test_a_word_file_refused_in_a_pipe_gets_a_hint_for_the_pipe(
    cli: Callable[..., Result], mock: MockServer, home: Path
) -> None:
    shutil.copy(ROOT / "examples" / "cv.docx", home / "cv.docx")
    piped = cli("enhance", "cv.docx", base_url=mock.base_url)  # stdout is a pipe: nothing would show here
    assert piped.code == ExitStatus.USAGE and not mock.records
    assert piped.stderr == (
        "error: cv.docx is a Word file, which is never written to stdout\n"
        "hint: add --out-dir DIR (writes DIR/cv.docx) or --in-place, or --diff for a unified diff of the changes\n"
    )
    shown = cli("enhance", "cv.docx", base_url=mock.base_url, tty=True)  # on a terminal it streams there too
    assert shown.stderr.splitlines()[1] == (
        "hint: add --out-dir DIR (writes DIR/cv.docx) or --in-place; the answer still shows here"
    )
    stdin = cli("enhance", base_url=mock.base_url, stdin=(home / "cv.docx").read_bytes())
    assert stdin.code == ExitStatus.USAGE and not mock.records
    assert stdin.stderr == (
        "error: stdin looks like a Word file (a zip archive); cvstream reads Word files only by their name\n"
        "hint: pass the file name as an argument: cvstream enhance cv.docx --out-dir DIR\n"
    )
    dash = cli("enhance", "-", "--out-dir", "out", base_url=mock.base_url, stdin=(home / "cv.docx").read_bytes())
    assert dash.stderr == stdin.stderr


@pytest.mark.timeout(60)
def test_word_files_go_to_out_dir_or_in_place_never_to_stdout(
    cli: Callable[..., Result], mock: MockServer, home: Path
) -> None:
    import docx

    shutil.copy(ROOT / "examples" / "cv.docx", home / "cv.docx")
    refused = cli("enhance", "cv.docx", base_url=mock.base_url)
    assert refused.code == ExitStatus.USAGE and not mock.records
    assert refused.stderr.splitlines()[0] == "error: cv.docx is a Word file, which is never written to stdout"
    result = cli("enhance", "cv.docx", "--out-dir", "out", base_url=mock.base_url, tty=True)
    assert result.code == 0, result.stderr
    shown = "\n".join(screen_lines(result.stdout.replace(b"\n", b"\r\n"), 80, 24))
    assert "[offline] Built the billing service in Python and Postgres" in shown  # it streamed here too
    paragraphs = [p.text for p in docx.Document(str(home / "out" / "cv.docx")).paragraphs]
    assert "[offline] Built the billing service in Python and Postgres" in paragraphs
    assert "Experience" in paragraphs and "Acme Corp — Backend Engineer (2021–2024)" in paragraphs
    in_place = cli("enhance", "cv.docx", "--in-place", "--no-usage", base_url=mock.base_url, tty=True)
    assert in_place.code == 0, in_place.stderr
    assert "[offline] Mentored two junior developers" in [
        p.text for p in docx.Document(str(home / "cv.docx")).paragraphs
    ]
    assert (home / "cv.docx.orig").read_bytes() == (ROOT / "examples" / "cv.docx").read_bytes()
    screen = "\n".join(screen_lines(in_place.stdout.replace(b"\n", b"\r\n"), 80, 24))
    assert "[offline] Mentored two junior developers" in screen  # it still streamed on the terminal


@pytest.mark.timeout(30)
def test_the_document_renders_live_on_a_terminal(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    (home / "cv.md").write_text(CV)
    result = cli("enhance", "cv.md", "--no-usage", base_url=mock.base_url, tty=True)
    assert result.code == 0, result.stderr
    lines = screen_lines(result.stdout.replace(b"\n", b"\r\n"), 80, 24)
    assert " • [offline] Built the api" in lines and "The end." in lines


@pytest.mark.timeout(30)
def test_raw_on_a_terminal_writes_the_document_unrendered(
    cli: Callable[..., Result], mock: MockServer, home: Path
) -> None:
    (home / "cv.md").write_text(CV)
    result = cli("enhance", "cv.md", "--raw", "--no-usage", base_url=mock.base_url, tty=True)
    assert result.out == OFFLINE_CV


@pytest.mark.timeout(30)
def test_a_plain_bullets_file_keeps_the_flat_flow(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    from cvstream.prompt import ENHANCE_SYSTEM

    shutil.copy(ROOT / "examples" / "bullets.txt", home / "bullets.txt")
    result = cli("enhance", "bullets.txt", "--no-usage", base_url=mock.base_url)
    assert mock.records[-1].body["system"] == ENHANCE_SYSTEM  # type: ignore[index]
    assert result.out.startswith("- [offline] Built the billing service")
    in_place = cli("enhance", "bullets.txt", "--in-place", "--no-usage", base_url=mock.base_url)
    assert in_place.code == 0, in_place.stderr
    assert (home / "bullets.txt").read_text().splitlines()[
        2
    ] == "* [offline] Cut monthly cloud costs by 30% by rightsizing instances"


def test_document_flags_are_checked_before_any_request(
    cli: Callable[..., Result], mock: MockServer, home: Path
) -> None:
    (home / "cv.md").write_text(CV)
    cases = [
        (["cv.md", "--no-backup"], "error: --no-backup only goes with --in-place"),
        (["-", "--in-place"], "error: --in-place cannot rewrite stdin"),
        (["cv.md", "--in-place", "--out-dir", "o"], "error: give --in-place or --out-dir, not both"),
        (["cv.md", "--diff", "--json"], "error: --diff shows the changes, --json the answer's events: choose one"),
        (
            ["cv.md", "--diff", "-o", "o"],
            "error: --out-dir writes the rewritten documents; --diff goes to stdout: choose one",
        ),
        (
            ["cv.md", "--json", "-o", "o"],
            "error: --out-dir writes the rewritten documents; --json goes to stdout: choose one",
        ),
    ]
    for args, first in cases:
        result = cli("enhance", *args, base_url=mock.base_url, stdin=b"# x\n\n- y\n")
        assert result.code == ExitStatus.USAGE, args
        assert result.stderr.splitlines()[0] == first
    assert not mock.records


@pytest.mark.timeout(30)
def test_sse_frames_the_answers_raw_text(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    (home / "cv.md").write_text(CV)
    result = cli("enhance", "cv.md", "--sse", base_url=mock.base_url)
    assert result.code == 0, result.stderr
    frames = [json.loads(line[6:])["text"] for line in result.out.splitlines() if line.startswith('data: {"text"')]
    assert "".join(frames).startswith("[1] [offline] Built the api\n[2] ")
    assert result.out.endswith("data: [DONE]\n\n")


@pytest.mark.timeout(40)
def test_sigterm_during_in_place_leaves_the_file_and_no_temp_file(
    installed: Path, mock_server: Callable[..., MockServer], tmp_path: Path
) -> None:
    import signal

    from tests.conftest import FAKE_KEY, subprocess_env
    from tests.test_signals import _eventually

    (tmp_path / "cv.md").write_text(CV)
    server = mock_server(fault="stall", fault_after=8)  # [1] complete, [2] cut mid-line
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url)
    proc = subprocess.Popen(
        [str(installed), "enhance", "cv.md", "--in-place"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert server.wait_for(lambda rs: len(rs) == 1 and rs[0].deltas_sent == 8, timeout=20)
        written = lambda: any(b"Built the api" in p.read_bytes() for p in tmp_path.glob(".cv.md.*.tmp"))  # noqa: E731
        assert _eventually(written)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == ExitStatus.TERMINATED, err
    assert (tmp_path / "cv.md").read_text() == CV
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cv.md", "cv.md.partial"], err
    assert (tmp_path / "cv.md.partial").read_text() == CV.replace("built the api", "[offline] Built the api")
    assert "Traceback" not in err.decode()


@pytest.mark.timeout(40)
def test_in_a_pipe_the_document_is_written_as_each_line_completes(
    installed: Path, mock_server: Callable[..., MockServer], tmp_path: Path
) -> None:
    from tests.conftest import FAKE_KEY, subprocess_env
    from tests.test_signals import _run_until

    (tmp_path / "cv.md").write_text(CV)
    server = mock_server(fault="stall", fault_after=8)  # [1] complete, then the stream hangs inside [2]
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url)
    code, out, _ = _run_until([str(installed), "enhance", "cv.md"], env, b"- [offline] Built the api\n- ", cwd=tmp_path)
    # Shown while the answer was still streaming; on Ctrl-C the rest comes back as it was.
    assert code == ExitStatus.INTERRUPTED
    assert out.decode() == CV.replace("built the api", "[offline] Built the api")


@pytest.mark.timeout(60)
def test_ctrl_c_on_a_terminal_shows_the_document_once_then_the_warning(
    installed: Path, mock_server: Callable[..., MockServer], tmp_path: Path
) -> None:
    """The kept-bullets warning used to be written under the live region before it was taken down, so the
    region's last lines stayed on screen and were printed again below it."""
    import pty
    import select
    import signal

    from tests.conftest import FAKE_KEY, subprocess_env
    from tests.test_live import read_rest

    (tmp_path / "cv.md").write_text(CV)
    server = mock_server(fault="stall", fault_after=8)  # [1] complete, then the stream hangs inside [2]
    env = subprocess_env(
        ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url, TERM="xterm", COLUMNS="80", LINES="24"
    )
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(installed), "enhance", "cv.md"], stdout=slave, stderr=slave, env=env, cwd=tmp_path)
    os.close(slave)
    data = b""
    try:
        while b"Built the api" not in data:  # [1] is on screen; the live region holds what follows
            assert select.select([master], [], [], 20)[0], data
            data += os.read(master, 65536)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == ExitStatus.INTERRUPTED
        data += read_rest(master)
    finally:
        proc.kill()
        os.close(master)
    lines = [line.strip() for line in screen_lines(data, 80, 24) if line.strip()]
    assert len(lines) == len(set(lines)), lines  # no line of the document shown twice
    assert lines.index("The end.") < lines.index(
        "warning: 3 of 4 bullets kept as they were (no rewrite came back): 2, 3, 4"
    )


def test_in_place_in_a_read_only_directory_is_refused_before_any_request(
    cli: Callable[..., Result], mock: MockServer, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "ro").mkdir()
    (home / "ro" / "cv.md").write_text(CV)
    # A read-only directory, as a non-root user sees it (the suite may run as root, who can write anywhere).
    monkeypatch.setattr("cvstream.rewrite.os.access", lambda path, mode: Path(path).name != "ro")
    result = cli("enhance", "ro/cv.md", "--in-place", base_url=mock.base_url)
    assert result.code == ExitStatus.USAGE and not mock.records
    assert result.stderr.startswith("error: --in-place cannot write next to ro/cv.md (permission denied on ")


@pytest.mark.timeout(30)
def test_several_documents_on_stdout_and_as_ndjson(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    (home / "a.md").write_text(CV)
    shutil.copy(CVS / "tex-4-crlf.tex", home / "b.tex")
    result = cli("enhance", "a.md", "b.tex", "--no-usage", base_url=mock.base_url)
    assert result.code == 0, result.stderr
    first, second = result.out.split("\n==> b.tex <==\n")
    assert first == "==> a.md <==\n" + OFFLINE_CV
    assert "\\item (offline) Automated deployments with GitLab CI and Ansible\r\n" in second
    lines = [
        json.loads(line) for line in cli("enhance", "a.md", "b.tex", "--json", base_url=mock.base_url).out.splitlines()
    ]
    bullets = [(line["input"], line["number"]) for line in lines if line["type"] == "cvstream.bullet"]
    assert bullets == [("a.md", 1), ("a.md", 2), ("a.md", 3), ("a.md", 4), ("b.tex", 1), ("b.tex", 2)]
    assert all("input" in line for line in lines)


@pytest.mark.timeout(60)
def test_with_out_dir_and_several_inputs_the_kept_bullets_warning_names_its_input(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = mock_server(fault="truncate", fault_after=8)  # [1] complete, then the stream ends early
    (home / "a.md").write_text(CV)
    (home / "b.md").write_text(CV)
    result = cli("enhance", "a.md", "b.md", "--out-dir", "out", base_url=server.base_url)
    assert result.code == ExitStatus.INCOMPLETE
    for name in ("a.md", "b.md"):
        assert f"warning: {name}: 3 of 4 bullets kept as they were" in result.stderr, result.stderr
