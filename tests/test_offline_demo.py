"""The offline demo looks like the product: the mock answers enhance requests with rewritten-looking bullets."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cvstream.documents.prompt import DOCUMENT_SYSTEM
from cvstream.mock.replies import enhance_reply, offline_bullet, reply_text
from cvstream.mock.server import MockServer
from cvstream.prompt import ENHANCE_SYSTEM
from tests.conftest import Result, subprocess_env
from tests.test_live import screen_lines

ROOT = Path(__file__).resolve().parents[1]


def test_offline_bullets_look_rewritten_and_say_where_they_come_from() -> None:
    assert offline_bullet("built the  billing service") == "[offline] Built the billing service"
    assert offline_bullet("worked on the API") == "[offline] Delivered the API"
    assert offline_bullet("\\textbf{Led} a team") == "[offline] \\textbf{Led} a team"


def test_the_mock_answers_each_request_shape_like_the_real_model() -> None:
    classic = {
        "system": ENHANCE_SYSTEM,
        "messages": [{"role": "user", "content": "built x\nled y\n\n<job_description>\nDev\n</job_description>"}],
    }
    assert enhance_reply(classic) == "- [offline] Built x\n- [offline] Led y\n"
    numbered = {
        "system": DOCUMENT_SYSTEM,
        "messages": [
            {
                "role": "user",
                "content": "Format: Markdown\n<bullets>\n# Work\n[1] built x\n\n# Skills\n[2] go\n</bullets>",
            }
        ],
    }
    assert enhance_reply(numbered) == "[1] [offline] Built x\n[2] [offline] Go\n"
    own_system = {**numbered, "system": "Rewrite my bullets."}  # --system-file, or -c's conversation
    assert enhance_reply(own_system) == enhance_reply({"messages": numbered["messages"]}) == enhance_reply(numbered)
    flat = {"system": "Be terse.", "messages": classic["messages"]}
    assert enhance_reply(flat) is None  # plain lines: an enhance only by its system text, or when told
    assert enhance_reply(flat, enhance=True) == enhance_reply({"messages": flat["messages"]}, enhance=True)
    assert enhance_reply(flat, enhance=True) == "- [offline] Built x\n- [offline] Led y\n"
    other = {"messages": [{"role": "user", "content": "hi"}]}
    assert enhance_reply(other) is None
    assert reply_text(other).startswith("**cvstream mock** received this request:")
    assert reply_text(classic, echo=True).startswith("**cvstream mock** received this request:")


@pytest.mark.timeout(60)
def test_the_first_command_shows_rewritten_bullets_not_the_request(cli: Callable[..., Result]) -> None:
    result = cli("enhance", str(ROOT / "examples" / "bullets.txt"), "--offline", key=None)
    assert result.code == 0, result.stderr
    assert result.out == (
        "- [offline] Built the billing service in Python and Postgres\n"
        "- [offline] Led a team of 4 engineers through the migration to Kubernetes\n"
        "- [offline] Cut monthly cloud costs by 30% by rightsizing instances\n"
        "- [offline] Wrote the on-call runbook used by 3 teams\n"
        "- [offline] Mentored two junior developers\n"
    )
    assert "You are an expert" not in result.out + result.stderr
    assert "in ·" in result.stderr or "tok" in result.stderr  # the usage line


@pytest.mark.timeout(60)
def test_the_offline_demo_renders_one_list_item_per_bullet_on_a_terminal(cli: Callable[..., Result]) -> None:
    result = cli("enhance", str(ROOT / "examples" / "bullets.txt"), "--offline", key=None, tty=True)
    assert result.code == 0, result.stderr
    lines = [line for line in screen_lines(result.stdout.replace(b"\n", b"\r\n"), 80, 24) if "[offline]" in line]
    assert lines == [
        " • [offline] Built the billing service in Python and Postgres",
        " • [offline] Led a team of 4 engineers through the migration to Kubernetes",
        " • [offline] Cut monthly cloud costs by 30% by rightsizing instances",
        " • [offline] Wrote the on-call runbook used by 3 teams",
        " • [offline] Mentored two junior developers",
    ]


@pytest.mark.timeout(30)
def test_mock_echo_keeps_the_full_request_echo(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = mock_server(echo=True)
    (home / "b.txt").write_text("built x\n")
    result = cli("enhance", "b.txt", "--no-usage", base_url=server.base_url)
    assert result.code == 0, result.stderr
    assert result.out.startswith("**cvstream mock** received this request:")
    assert "> You are an expert CV" in result.out


BULLETS_REPLY = "- [offline] Built x\n- [offline] Led y\n"


@pytest.mark.timeout(60)
def test_enhance_with_its_own_system_text_gets_rewritten_bullets_offline(
    cli: Callable[..., Result], home: Path
) -> None:
    (home / "b.txt").write_text("- built x\n- led y\n")
    (home / "sys.txt").write_text("You are a terse CV editor. Rewrite each bullet.\n")
    result = cli("enhance", "b.txt", "--system-file", "sys.txt", "--offline", "--no-usage", key=None)
    assert result.code == 0, result.stderr
    assert result.out == BULLETS_REPLY
    assert "You are a terse" not in result.out


@pytest.mark.timeout(60)
def test_enhance_continuing_a_conversation_gets_rewritten_bullets_offline(
    cli: Callable[..., Result], home: Path
) -> None:
    (home / "b.txt").write_text("- built x\n- led y\n")
    assert cli("ask", "name three rivers", "--offline", key=None).code == 0  # a conversation without system text
    result = cli("enhance", "-c", "b.txt", "--offline", "--no-usage", key=None)
    assert result.code == 0, result.stderr
    assert result.out == BULLETS_REPLY
    assert cli("enhance", "-c", "b.txt", "--offline", "--no-usage", key=None).out == BULLETS_REPLY  # an enhance's


@pytest.mark.timeout(60)
def test_a_whole_cv_with_its_own_system_text_or_continued_is_rewritten(
    cli: Callable[..., Result], mock: MockServer, home: Path
) -> None:
    (home / "cv.md").write_text("# Jane\n\n## Experience\n\n- led a team of 4\n- built a billing system\n")
    (home / "sys.txt").write_text("Rewrite my bullets.\n")
    (home / "b.txt").write_text("- built x\n")
    rewritten = "# Jane\n\n## Experience\n\n- [offline] Led a team of 4\n- [offline] Built a billing system\n"
    own = cli("enhance", "cv.md", "--system-file", "sys.txt", "--no-usage", base_url=mock.base_url)
    assert (own.code, own.out) == (0, rewritten)  # the standalone mock too: the numbered-bullets prompt says it
    assert cli("enhance", "b.txt", "--offline", key=None).code == 0  # then a CV continues a bullets conversation
    continued = cli("enhance", "-c", "cv.md", "--offline", "--no-usage", key=None)
    assert (continued.code, continued.out) == (0, rewritten)


@pytest.mark.timeout(60)
def test_mock_help_shows_the_offline_mark() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "cvstream", "mock", "--help"],
        capture_output=True,
        text=True,
        env={**subprocess_env(), "COLUMNS": "120"},
    )
    assert run.returncode == 0, run.stderr
    assert "each marked [offline], in the shape" in " ".join(run.stdout.split())  # not taken for rich markup
