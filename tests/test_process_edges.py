"""The process's own edges, run as a real process: closed or full stdout, closed stdin, a vanished
working directory, arguments that are not UTF-8, a file-size limit standing in for a full disk."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from cvstream.mock.server import MockServer
from tests.conftest import FAKE_KEY, subprocess_env


def _sh(script: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["sh", "-c", script], capture_output=True, env=env, cwd=cwd, timeout=30)


def _one_clear_error(stderr: bytes) -> str:
    text = stderr.decode()
    assert "Traceback" not in text and "Exception ignored" not in text, text
    assert text.startswith("error: ") and len(text.strip().splitlines()) <= 2, text
    return text


def test_version_to_a_full_or_closed_stdout(installed: Path) -> None:
    env = subprocess_env()
    full = _sh(f"'{installed}' --version > /dev/full", env)
    assert full.returncode == 7 and "No space left" in _one_clear_error(full.stderr)
    closed = _sh(f"'{installed}' --version >&-", env)
    assert closed.returncode == 7 and "stdout is closed" in _one_clear_error(closed.stderr)


def test_an_answer_to_a_full_stdout(installed: Path, mock_server: Callable[..., MockServer]) -> None:
    server = mock_server()
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url)
    full = _sh(f"'{installed}' ask hi --no-usage > /dev/full", env)
    assert full.returncode == 7 and "cannot write to stdout" in _one_clear_error(full.stderr)


def test_a_closed_stdin_reads_as_empty(installed: Path, mock_server: Callable[..., MockServer]) -> None:
    server = mock_server()
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url)
    run = _sh(f"'{installed}' ask hi --no-usage <&-", env)
    assert run.returncode == 0 and b"> hi" in run.stdout
    none = _sh(f"'{installed}' enhance <&-", env)
    assert none.returncode == 2 and "no bullets" in _one_clear_error(none.stderr)


def test_a_deleted_working_directory(installed: Path, tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    run = _sh(f"cd '{gone}' && rmdir '{gone}' && '{installed}' --version", subprocess_env())
    assert run.returncode == 2 and "working directory no longer exists" in _one_clear_error(run.stderr)


def test_arguments_that_are_not_utf8_are_refused_before_any_request(
    installed: Path, mock_server: Callable[..., MockServer]
) -> None:
    server = mock_server()
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url)
    run = subprocess.run([os.fsencode(installed), b"ask", b"caf\xe9"], capture_output=True, env=env, timeout=30)
    assert run.returncode == 2
    assert "argument 2 is not valid UTF-8: caf\\xe9" in _one_clear_error(run.stderr)
    assert server.records == []


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))  # a disk that fills after 64 bytes a file
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_a_full_disk_under_out_dir(installed: Path, mock_server: Callable[..., MockServer], tmp_path: Path) -> None:
    server = mock_server(echo=True)  # a reply longer than the file size limit
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url)
    (tmp_path / "a.txt").write_text("built the api\n")
    run = subprocess.run(
        [str(installed), "enhance", "a.txt", "--out-dir", "out"],
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=30,
        preexec_fn=_limit_file_size,
    )
    err = run.stderr.decode()
    assert run.returncode == 7
    assert "error: cannot write" in err and "a.md.partial" in err and "Traceback" not in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.md.partial"]  # what fit is kept, no temp file


_ENDING = """
import atexit, sys, threading
from cvstream.cli import main
atexit.register(lambda: sys.stderr.write("finalized\\n"))
if sys.argv[1] == "thread":
    threading.Thread(target=threading.Event().wait, daemon=True).start()
sys.argv = ["cvstream", "--version"]
sys.exit(main())
"""


def test_a_process_with_a_daemon_thread_still_running_ends_without_finalizing() -> None:
    """Finalizing the interpreter under a running daemon thread (the SDK still importing after an early
    error, a response being closed after Ctrl-C) crashed cvstream (SIGSEGV) or hung it, under load: then
    it ends at once, its output flushed; with no such thread it ends as Python does."""
    import sys

    for case, finalized in (("thread", False), ("none", True)):
        run = subprocess.run(
            [sys.executable, "-c", _ENDING, case], capture_output=True, env=subprocess_env(), timeout=30
        )
        assert run.returncode == 0 and run.stdout.startswith(b"cvstream "), run
        assert (b"finalized" in run.stderr) is finalized, run
