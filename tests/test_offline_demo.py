"""The offline demo looks like the product: the mock answers enhance requests with rewritten-looking bullets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cvstream.documents.prompt import DOCUMENT_SYSTEM
from cvstream.mock.replies import enhance_reply, offline_bullet, reply_text
from cvstream.mock.server import MockServer
from cvstream.prompt import ENHANCE_SYSTEM
from tests.conftest import Result
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
