"""`enhance a.txt b.txt ...`: several inputs in one process, --jobs at a time, in order or to files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cvstream.errors import ExitStatus
from cvstream.mock.replies import reply_text
from cvstream.mock.server import MockServer
from tests.conftest import Result


def _inputs(home: Path, count: int) -> list[str]:
    names = []
    for i in range(count):
        name = f"cv{i}.txt"
        (home / name).write_text(f"- did thing {i}\n- and another {i}\n")
        names.append(name)
    return names


def _reply(mock: MockServer, bullets: str) -> str:
    body = next(r.body for r in mock.records if r.body and r.body["messages"][0]["content"] == bullets)
    return reply_text(body)


def test_results_in_input_order_under_headers(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = mock_server(tokens_per_second=2000.0)
    names = _inputs(home, 5)
    result = cli("enhance", *names, "--jobs", "3", "--no-usage", base_url=server.base_url)
    assert result.code == 0, result.stderr
    expected = "\n".join(
        f"==> {name} <==\n" + _reply(server, f"did thing {i}\nand another {i}") for i, name in enumerate(names)
    )
    assert result.out == expected
    assert len(server.records) == 5


def test_out_dir_writes_one_file_per_input_and_a_usage_table(
    cli: Callable[..., Result], mock: MockServer, home: Path
) -> None:
    names = _inputs(home, 3)
    result = cli("enhance", *names, "--out-dir", "out", base_url=mock.base_url)
    assert result.code == 0, result.stderr
    assert result.stdout == b""
    written = sorted(p.name for p in (home / "out").iterdir())
    assert written == ["cv0.md", "cv1.md", "cv2.md"]  # no temporary files left behind
    for i in range(3):
        assert (home / "out" / f"cv{i}.md").read_text() == _reply(mock, f"did thing {i}\nand another {i}")
    table = result.stderr.splitlines()
    assert table[0].split() == [
        "input",
        "output",
        "status",
        "in",
        "out",
        "cache",
        "read",
        "cache",
        "write",
        "stop",
        "time",
    ]
    assert [line.split()[:3] for line in table[1:]] == [[f"cv{i}.txt", f"cv{i}.md", "ok"] for i in range(3)]


def test_one_failure_does_not_stop_the_others(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = mock_server(fault="http400", fault_times=1)
    names = _inputs(home, 3)
    result = cli("enhance", *names, "--jobs", "1", "--out-dir", "out", base_url=server.base_url)
    assert result.code == ExitStatus.API_ERROR  # the first failure's code
    assert sorted(p.name for p in (home / "out").iterdir()) == ["cv0.md.partial", "cv1.md", "cv2.md"]
    assert "cv0.txt: the API refused the request (HTTP 400" in result.stderr
    assert "failed (1)" in result.stderr

    in_order = cli("enhance", *names, "--jobs", "1", base_url=mock_server(fault="truncate", fault_times=1).base_url)
    assert in_order.code == ExitStatus.INCOMPLETE
    assert in_order.out.count("==> ") == 3
    assert in_order.stderr.count("error: cv0.txt: incomplete response") == 1  # every per-input line names it


def test_same_output_name_is_refused(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    (home / "a").mkdir()
    (home / "a" / "cv.txt").write_text("- x\n")
    (home / "cv.txt").write_text("- y\n")
    result = cli("enhance", "cv.txt", "a/cv.txt", "--out-dir", "out", base_url=mock.base_url)
    assert result.code == ExitStatus.USAGE and "would write the same file" in result.stderr
    assert mock.records == []


def test_an_answer_file_taken_by_a_directory_is_refused_before_anything_is_sent(
    cli: Callable[..., Result], mock: MockServer, home: Path
) -> None:
    names = _inputs(home, 2)
    (home / "out" / "cv1.md").mkdir(parents=True)
    result = cli("enhance", *names, "--out-dir", "out", base_url=mock.base_url)
    assert result.code == ExitStatus.OUTPUT and mock.records == []
    assert f"cannot write {home / 'out' / 'cv1.md'}: a directory has that name, so nothing was sent" in result.stderr
    assert sorted(p.name for p in (home / "out").iterdir()) == ["cv1.md"]


def test_offline_usage_errors_come_before_the_mock_starts(cli: Callable[..., Result], home: Path) -> None:
    (home / "cv.md").write_text("# Jane Doe\n\n## Experience\n\nNothing listed yet.\n")  # a CV with no bullets
    (home / "cv.txt").write_text("- did a thing\n")
    (home / "out").mkdir()
    (home / "out" / "cv.md").mkdir()
    for args in (["enhance", "cv.md", "--offline"], ["enhance", "cv.txt", "--offline", "--out-dir", "out"]):
        result = cli(*args)
        assert result.code in (ExitStatus.USAGE, ExitStatus.OUTPUT), result.stderr
        assert "offline:" not in result.stderr, args


def test_out_dir_formats(cli: Callable[..., Result], mock: MockServer, home: Path) -> None:
    names = _inputs(home, 2)
    assert cli("enhance", *names, "--out-dir", "o", "--sse", base_url=mock.base_url).code == 0
    assert (home / "o" / "cv0.sse").read_bytes().endswith(b"data: [DONE]\n\n")
    assert cli("enhance", *names, "--out-dir", "j", "--json", base_url=mock.base_url).code == 0
    assert '"cvstream.summary"' in (home / "j" / "cv1.ndjson").read_text().splitlines()[-1]
