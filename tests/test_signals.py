"""Ctrl-C, SIGTERM and SIGHUP at each moment, with one input and with several: a prompt, clean stop.

These run the installed `cvstream` as a real process. The `communicate` timeouts only keep a broken
build from hanging the suite: a stalled request would otherwise hold cvstream for 180 s.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cvstream.mock.server import MockServer
from tests.conftest import FAKE_KEY, subprocess_env
from tests.test_live import read_rest

LONG = " ".join(f"word{i}" for i in range(400))


def _inputs(tmp: Path, count: int = 3) -> list[str]:
    """Three bullet files in `tmp`, named relative to it (run cvstream with cwd=tmp)."""
    for i in range(count):
        (tmp / f"cv{i}.txt").write_text(f"built the api number {i}\nled a team\n")
    return [f"cv{i}.txt" for i in range(count)]


def _run_until_files(
    args: list[str], env: dict[str, str], out_dir: Path, server: MockServer, sig: signal.Signals, cwd: Path
) -> tuple[int, bytes, str]:
    """Start cvstream, wait until every input's stream stalled with text in its .partial file, send `sig`."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)
    try:
        assert server.wait_for(lambda rs: len(rs) == 3 and all(r.deltas_sent == 2 for r in rs), timeout=20)
        partials = [out_dir / f"{name}.md.partial" for name in ("cv0", "cv1", "cv2")]
        assert _eventually(lambda: all(p.exists() and p.stat().st_size > 0 for p in partials))
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
        proc.wait()
    return proc.returncode, out, err.decode()


def _run_until(
    args: list[str],
    env: dict[str, str],
    marker: bytes,
    sig: signal.Signals = signal.SIGINT,
    *,
    on: str = "stdout",
    cwd: Path | None = None,
) -> tuple[int, bytes, str]:
    """Start cvstream, wait until `marker` shows on stdout or stderr, send `sig`; (status, stdout, stderr)."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)
    assert proc.stdout is not None and proc.stderr is not None
    watched = proc.stdout if on == "stdout" else proc.stderr
    seen = b""
    try:
        while marker not in seen:
            ready, _, _ = select.select([watched], [], [], 20)
            assert ready, f"{marker!r} never showed; got {seen!r}"
            chunk = os.read(watched.fileno(), 65536)
            assert chunk, f"{marker!r} never showed; got {seen!r}"
            seen += chunk
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
        proc.wait()
    if on == "stdout":
        out = seen + out
    else:
        err = seen + err
    return proc.returncode, out, err.decode()


def _eventually(check: Callable[[], bool], limit: float = 20.0) -> bool:
    """Re-check a file-system condition (nothing can notify us of it) until it holds, for at most `limit` s."""
    deadline = time.monotonic() + limit
    pause = threading.Event()
    while not check():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.02)
    return True


def _all_closed(server: MockServer) -> bool:
    """Every connection to the mock was closed by cvstream (or by its exit)."""
    return server.wait_for(lambda _records: not server.state.connections, timeout=10)


def test_ctrl_c_stops_several_stalled_inputs_at_once(
    installed: Path, mock_server: Callable[..., MockServer], tmp_path: Path
) -> None:
    server = mock_server(fault="stall", fault_after=2, echo=True)  # the echo marks the text
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url)
    code, out, err = _run_until(
        [str(installed), "enhance", *_inputs(tmp_path), "--raw"], env, b"**cvstream mock**", cwd=tmp_path
    )
    assert code == 130
    assert "Traceback" not in err
    assert out.startswith(b"==> ") and b"**cvstream mock**" in out  # the first answer's text, as printed
    assert "error: interrupted" in err
    assert "not finished: " in err and all(f"cv{i}.txt" in err.split("not finished: ")[1] for i in range(3))
    assert _all_closed(server)


def test_ctrl_c_with_out_dir_keeps_partial_files_and_no_temp_files(
    installed: Path, mock_server: Callable[..., MockServer], tmp_path: Path
) -> None:
    server = mock_server(fault="stall", fault_after=2, echo=True)  # the echo marks the text
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url)
    out_dir = tmp_path / "out"
    proc_args = [str(installed), "enhance", *_inputs(tmp_path), "--out-dir", str(out_dir), "--jobs", "3"]
    code, out, err = _run_until_files(proc_args, env, out_dir, server, signal.SIGTERM, cwd=tmp_path)
    assert code == 143
    assert out == b""
    assert sorted(p.name for p in out_dir.iterdir()) == ["cv0.md.partial", "cv1.md.partial", "cv2.md.partial"]
    assert all(p.read_bytes().startswith(b"**cvstream mock**") for p in out_dir.iterdir())
    assert "error: terminated (SIGTERM)" in err and "not finished: cv0.txt, cv1.txt, cv2.txt" in err
    assert "input" in err.splitlines()[0]  # the usage table so far
    assert "Traceback" not in err


def test_ctrl_c_during_a_long_retry_wait_sends_nothing_more(
    installed: Path, mock_server: Callable[..., MockServer], tmp_path: Path
) -> None:
    server = mock_server(fault="http529", retry_after=30.0)
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url)
    code, _, err = _run_until(
        [str(installed), "enhance", *_inputs(tmp_path), "--raw"], env, b"retry 1:", on="stderr", cwd=tmp_path
    )
    assert code == 130
    assert len(server.records) == 3  # no retry was sent after Ctrl-C
    assert "retry 1:" in err and "error: interrupted" in err and "Traceback" not in err


def test_sigterm_while_waiting_restores_the_cursor(installed: Path, mock_server: Callable[..., MockServer]) -> None:
    server = mock_server(fault="slow_headers")
    master, slave = pty.openpty()
    env = subprocess_env(
        ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url, TERM="xterm", COLUMNS="80", LINES="24"
    )
    proc = subprocess.Popen([str(installed), "ask", "x"], stdout=slave, stderr=slave, env=env)
    os.close(slave)
    data = b""
    try:
        while b"waiting for" not in data:
            ready, _, _ = select.select([master], [], [], 20)
            assert ready, "no spinner"
            data += os.read(master, 65536)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 143
        data += read_rest(master)
    finally:
        proc.kill()
        os.close(master)
    assert data.rfind(b"\x1b[?25h") > data.rfind(b"\x1b[?25l")
    assert b"error: terminated (SIGTERM)" in data and b"Traceback" not in data
    assert b"hint: no text had come" in data and b"so far was kept" not in data  # nothing had arrived


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_one_stalled_input_stops_at_once(
    installed: Path, mock_server: Callable[..., MockServer], sig: signal.Signals
) -> None:
    server = mock_server(text=LONG, fault="stall", fault_after=5)
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url)
    code, out, err = _run_until([str(installed), "ask", "hi", "--raw"], env, b"word4", sig)
    assert code == (130 if sig == signal.SIGINT else 143)
    assert LONG.startswith(out.decode()) and out
    assert "usage so far:" in err and "Traceback" not in err


def test_sigterm_before_the_run_starts_is_a_clean_stop(installed: Path, mock_server: Callable[..., MockServer]) -> None:
    server = mock_server()
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url)
    # --debug makes any traceback visible; stdin stays open, so cvstream is still reading it.
    proc = subprocess.Popen(
        [str(installed), "ask", "summarise", "--debug"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"some text, and more to come\n")
        proc.stdin.flush()
        assert _eventually(lambda: _reading_stdin(proc.pid))
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 143
    assert b"Traceback" not in err
    assert server.records == []


def _reading_stdin(pid: int) -> bool:
    """Is the process's main thread blocked reading a pipe (its stdin), i.e. past its start-up?"""
    try:
        return "pipe_read" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False


# Python raises a Ctrl-C's KeyboardInterrupt wherever the main thread is, here in cvstream's own imports (the
# first tenth of a second of every run); a finder that raises it when `typer` is imported puts it there at once.
_CTRL_C_WHILE_IMPORTING = """
import sys
class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == "typer":
            raise KeyboardInterrupt
sys.meta_path.insert(0, CtrlC())
from cvstream.entry import run
sys.exit(run())
"""


@pytest.mark.timeout(60)
def test_ctrl_c_while_cvstream_still_imports_exits_130_without_a_traceback(installed: Path) -> None:
    import sys

    run = subprocess.run(
        [sys.executable, "-c", _CTRL_C_WHILE_IMPORTING, "ask", "hi"], capture_output=True, env=subprocess_env()
    )
    assert (run.returncode, run.stdout, run.stderr) == (130, b"", b"")
    # The console script and `python -m cvstream` both start there.
    script = installed.read_text()
    assert "from cvstream.entry import run" in script, script
    assert "cvstream.entry" in (Path(__file__).parents[1] / "src" / "cvstream" / "__main__.py").read_text()
