"""The history under real processes: Ctrl-C, SIGTERM, SIGHUP and SIGKILL mid-answer keep what arrived;
eight processes recording at once lose nothing and never see "database is locked"."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cvstream.mock.server import MockServer
from tests.conftest import FAKE_KEY, subprocess_env

LONG = " ".join(f"word{i}" for i in range(400))


def read_rows(db: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM answers ORDER BY id")]
    finally:
        conn.close()


@pytest.fixture
def streaming(
    installed: Path, mock_server: Callable[..., MockServer], tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], Path, MockServer]]:
    """`cvstream ask` streaming a long answer (about 8 s) into a pipe; killed after the test if still alive."""
    server = mock_server(text=LONG, tokens_per_second=50.0)
    data = tmp_path / "data"
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url, CVSTREAM_HOME=str(data))
    proc = subprocess.Popen(
        [str(installed), "ask", "count", "--raw"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        yield proc, data / "history.db", server
    finally:
        proc.kill()
        proc.communicate()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("sig", "code", "kind"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "interrupted"), (signal.SIGHUP, 129, "interrupted")],
    ids=["ctrl-c", "sigterm", "sighup"],
)
def test_signal_mid_answer_keeps_everything_shown_as_partial(
    streaming: tuple[subprocess.Popen[bytes], Path, MockServer], sig: signal.Signals, code: int, kind: str
) -> None:
    proc, db, _ = streaming
    assert proc.stdout is not None
    first = proc.stdout.read(12)  # text is flowing
    proc.send_signal(sig)
    rest, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    shown = (first + rest).decode()
    [row] = read_rows(db)
    assert row["status"] == "partial" and row["error_kind"] == kind
    # Everything that arrived is kept: what was shown, and what had arrived but not yet been shown.
    assert row["answer"].startswith(shown)
    assert LONG.startswith(row["answer"]) and row["answer"] != LONG
    assert b"Traceback" not in err


@pytest.mark.timeout(60)
def test_sigkill_mid_answer_leaves_the_text_up_to_the_last_progress_write(
    streaming: tuple[subprocess.Popen[bytes], Path, MockServer],
) -> None:
    proc, db, _ = streaming
    deadline = time.monotonic() + 30
    recorded = ""
    while time.monotonic() < deadline:  # wait for the first progress write (2 s after the answer began)
        try:
            found = read_rows(db)
        except sqlite3.Error:  # not created, or not migrated yet
            found = []
        if found and found[0]["answer"]:
            recorded = found[0]["answer"]
            break
        time.sleep(0.05)
    assert recorded, "no progress write within 30 s"
    proc.kill()
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    [row] = read_rows(db)
    assert row["status"] == "partial" and row["error_kind"] is None
    assert row["answer"].startswith(recorded) and out.decode().startswith(row["answer"])
    assert LONG.startswith(row["answer"]) and row["answer"] != LONG
    # Never ended, it stays found by its message only, and the index is sound.
    conn = sqlite3.connect(db)
    try:
        match = "SELECT rowid FROM answers_fts WHERE answers_fts MATCH ?"
        assert conn.execute(match, ("count",)).fetchall() and conn.execute(match, ("word0",)).fetchall() == []
        assert conn.execute("SELECT id FROM answers_unindexed").fetchall() == [(row["id"],)]
        conn.execute("INSERT INTO answers_fts (answers_fts) VALUES ('integrity-check')")
    finally:
        conn.close()


@pytest.mark.timeout(240)
def test_eight_processes_of_25_answers_all_recorded_without_locking(
    installed: Path, mock_server: Callable[..., MockServer], tmp_path: Path
) -> None:
    server = mock_server()
    data = tmp_path / "data"
    inputs = []
    for i in range(25):
        path = tmp_path / f"cv{i:02}.txt"
        path.write_text(f"- shipped release {i}\n- mentored {i} engineers\n")
        inputs.append(str(path))
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url, CVSTREAM_HOME=str(data))
    procs = [
        subprocess.Popen(
            [str(installed), "enhance", *inputs, "--jobs", "8", "--raw"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        for _ in range(8)
    ]
    errors = []
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=200)
            errors.append(err.decode())
    finally:
        for proc in procs:
            proc.kill()
    assert [p.returncode for p in procs] == [0] * 8, errors
    assert not any("locked" in e or "warning" in e for e in errors), errors
    recorded = read_rows(data / "history.db")
    assert len(recorded) == 200 and {r["status"] for r in recorded} == {"complete"}
    assert len({r["id"] for r in recorded}) == 200
    assert sorted({r["label"] for r in recorded}) == sorted(inputs)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("out_dir", [False, True], ids=["stdout", "out-dir"])
def test_sigterm_with_several_inputs_records_every_answer(
    installed: Path, mock_server: Callable[..., MockServer], tmp_path: Path, out_dir: bool
) -> None:
    server = mock_server(text=LONG, tokens_per_second=50.0)
    data = tmp_path / "data"
    names = []
    for i in range(3):
        path = tmp_path / f"cv{i}.txt"
        path.write_text(f"- bullet {i}\n")
        names.append(str(path))
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url, CVSTREAM_HOME=str(data))
    extra = ["--out-dir", str(tmp_path / "out")] if out_dir else ["--raw"]
    proc = subprocess.Popen(
        [str(installed), "enhance", *names, "--jobs", "3", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        # All three answers are streaming (each has sent text) before the signal: poll the mock's records.
        deadline = time.monotonic() + 60
        while not (len(server.records) == 3 and all(r.deltas_sent > 2 for r in server.records)):
            assert time.monotonic() < deadline, "the three answers did not start within 60 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    recorded = read_rows(data / "history.db")
    assert sorted(r["label"] for r in recorded) == sorted(names)
    for row in recorded:
        assert row["status"] == "partial" and row["error_kind"] == "interrupted" and row["answer"]
        assert LONG.startswith(row["answer"]) and row["command"] == "enhance"


def _imported(stderr: bytes) -> set[str]:
    names = set()
    for line in stderr.decode().splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


@pytest.mark.timeout(60)
def test_help_and_version_import_neither_sqlite_nor_the_history() -> None:
    for args in (["--version"], ["--help"], ["ask", "--help"], ["log", "--help"], ["log", "search", "--help"]):
        run = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "cvstream", *args], capture_output=True, env=subprocess_env()
        )
        assert run.returncode == 0, run.stderr
        modules = _imported(run.stderr)
        assert "sqlite3" not in modules and "cvstream.history" not in modules and "platformdirs" not in modules, args


@pytest.mark.timeout(60)
def test_closed_stdout_keeps_what_arrived_as_partial(
    streaming: tuple[subprocess.Popen[bytes], Path, MockServer],
) -> None:
    proc, db, _ = streaming
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(5) == b"word0"
    proc.stdout.close()  # like `| head -c 5`
    proc.stderr.read()
    assert proc.wait(timeout=30) == 141
    [row] = read_rows(db)
    assert row["status"] == "partial" and row["error_kind"] == "output" and row["answer"].startswith("word0")
    assert LONG.startswith(row["answer"])
