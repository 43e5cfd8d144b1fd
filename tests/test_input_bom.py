"""Issue 13 item 16: a leading UTF-8 byte order mark is stripped from every text input; `+ ` is a bullet marker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cvstream.mock.server import MockServer
from tests.conftest import Result

BOM = b"\xef\xbb\xbf"


@pytest.mark.timeout(30)
def test_a_bullets_file_with_a_bom_and_plus_markers_sends_clean_bullets(
    cli: Callable[..., Result], mock: MockServer, home: Path
) -> None:
    (home / "b.txt").write_bytes(BOM + b"- built the api\n+ led a team\n")
    (home / "job.txt").write_bytes(BOM + b"Backend role\n")
    result = cli("enhance", "b.txt", "--job", "job.txt", "--no-usage", base_url=mock.base_url)
    assert result.code == 0, result.stderr
    content = mock.records[-1].body["messages"][0]["content"]  # type: ignore[index]
    assert content == "built the api\nled a team\n\n<job_description>\nBackend role\n</job_description>"


@pytest.mark.timeout(30)
def test_stdin_and_system_files_lose_their_bom(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    (home / "system.txt").write_bytes(BOM + b"Be brief.")
    result = cli("ask", "--system-file", "system.txt", stdin=BOM + b"hello", base_url=mock.base_url)
    assert result.code == 0, result.stderr
    body = mock.records[-1].body
    assert body is not None and body["system"] == "Be brief."
    assert body["messages"][0]["content"] == "hello"


@pytest.mark.timeout(30)
def test_a_document_keeps_its_bom_in_the_output(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    (home / "cv.md").write_bytes(BOM + b"# CV\n\n- built x\n")
    result = cli("enhance", "cv.md", "--no-usage", base_url=mock.base_url)
    assert result.stdout == BOM + b"# CV\n\n- [offline] Built x\n"
    assert "\ufeff" not in mock.records[-1].body["messages"][0]["content"]  # type: ignore[index]


@pytest.mark.timeout(30)
def test_a_dotenv_file_with_a_bom_still_sets_its_first_variable(
    cli: Callable[..., Result], mock: MockServer, home: Path
) -> None:
    (home / ".env").write_bytes(BOM + b"CVSTREAM_MODEL=claude-from-bom-env\n")
    result = cli("ask", "hi", "--no-usage", base_url=mock.base_url)
    assert result.code == 0, result.stderr
    assert mock.records[-1].body["model"] == "claude-from-bom-env"  # type: ignore[index]
