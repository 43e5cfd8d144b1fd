"""A few runs of the installed `cvstream` command as a real process: signals, pipes, startup imports."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cvstream.mock.server import MockServer
from tests.conftest import FAKE_KEY, subprocess_env

LONG = " ".join(f"word{i}" for i in range(400))


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def test_ctrl_c_mid_stream_keeps_partial_output_and_exits_130(
    installed: Path, mock_server: Callable[..., MockServer]
) -> None:
    server = mock_server(text=LONG, tokens_per_second=50.0)
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url)
    proc = _start([str(installed), "ask", "hi", "--raw"], env)
    try:
        assert proc.stdout is not None
        first = proc.stdout.read(12)  # text is flowing: now interrupt it
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130
    output = (first + rest).decode()
    assert output.startswith("word0 word1") and LONG.startswith(output) and output != LONG
    stderr = err.decode()
    assert "Traceback" not in stderr and FAKE_KEY not in stderr
    so_far = re.search(r"^usage so far: \d+ in · ~?([\d,]+) out", stderr, re.M)
    assert so_far and int(so_far.group(1).replace(",", "")) > 1  # the tokens received, not message_start's 1
    assert "error: interrupted" in stderr
    assert server.wait_for(lambda records: records[-1].outcome == "client closed")


def test_closed_stdout_exits_quietly(installed: Path, mock_server: Callable[..., MockServer]) -> None:
    server = mock_server(text=LONG, tokens_per_second=100.0)  # still streaming when the reader leaves
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url)
    proc = _start([str(installed), "ask", "hi"], env)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.read(5) == b"word0"
        proc.stdout.close()  # like `| head -c 5`
        err = proc.stderr.read()
        proc.wait(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 141
    assert b"Traceback" not in err and b"Exception ignored" not in err


def _imported(stderr: bytes) -> set[str]:
    names = set()
    for line in stderr.decode().splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def test_version_help_and_completion_do_not_import_the_sdk() -> None:
    env = subprocess_env()
    for args in (["--version"], ["--help"], ["ask", "--help"], ["config"]):
        run = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "cvstream", *args], capture_output=True, env=env
        )
        assert run.returncode == 0, run.stderr
        modules = _imported(run.stderr)
        assert "anthropic" not in modules and "uvicorn" not in modules and "starlette" not in modules, args
    version = subprocess.run([sys.executable, "-m", "cvstream", "--version"], capture_output=True, env=env, text=True)
    assert re.fullmatch(r"cvstream \d+\.\d+\.\d+ \(anthropic SDK \d+\.\d+\.\d+, Python 3\.\d+\.\d+\)\n", version.stdout)
    completion = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cvstream"],
        capture_output=True,
        env={**env, "_CVSTREAM_COMPLETE": "complete_bash", "COMP_WORDS": "cvstream ask --method ", "COMP_CWORD": "3"},
    )
    assert "anthropic" not in _imported(completion.stderr)


@pytest.mark.parametrize(
    ("args", "loaded"),
    [(["--version"], []), (["--help"], []), (["ask", "--help"], ["ask"]), (["log", "--help"], ["log"])],
)
def test_a_run_imports_only_the_command_it_names(args: list[str], loaded: list[str]) -> None:
    script = (
        "import sys\nfrom cvstream.cli import main\ncode = main(sys.argv[1:])\n"
        "print(sorted(m for m in sys.modules if m.startswith('cvstream.commands.')), file=sys.stderr)"
    )
    run = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=subprocess_env())
    assert run.stderr.splitlines()[-1] == str([f"cvstream.commands.{name}" for name in loaded])


def test_mock_command_prints_its_url_logs_and_stops_on_ctrl_c(installed: Path) -> None:
    env = subprocess_env()
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "cvstream", "mock", "--port", "0", "--tokens-per-second", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert re.fullmatch(r"ANTHROPIC_BASE_URL=http://127\.0\.0\.1:\d+\n", line)
        url = line.split("=", 1)[1].strip()
        ask = subprocess.run(
            [str(installed), "ask", "ping", "--no-usage"],
            capture_output=True,
            env={**env, "ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": FAKE_KEY},
            timeout=30,
        )
        assert ask.returncode == 0 and b"> ping" in ask.stdout
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert "anthropic" not in _imported(err)
    log = [line for line in err.decode().splitlines() if not line.startswith("import time:")]
    assert len(log) == 1 and re.fullmatch(
        r"POST /v1/messages 200 complete deltas=\d+ \d+\.\d+s model=claude-\S+", log[0]
    )
    assert "Traceback" not in err.decode()


def test_mock_warns_on_a_public_bind() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cvstream", "mock", "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(b"ANTHROPIC_BASE_URL=http://0.0.0.0:")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert b"warning: binding 0.0.0.0" in err


def test_ctrl_c_while_waiting_for_the_first_token(installed: Path, mock_server: Callable[..., MockServer]) -> None:
    server = mock_server(fault="slow_headers")  # the API never answers
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url)
    proc = _start([str(installed), "ask", "hi"], env)
    try:
        assert server.wait_for(lambda records: len(records) == 1, timeout=30)  # the request is out
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert out == b""
    assert b"Traceback" not in err and b"error: interrupted" in err


def test_ask_does_not_import_the_server_stack(mock_server: Callable[..., MockServer]) -> None:
    server = mock_server()
    env = subprocess_env(ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url)
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cvstream", "ask", "hi"], capture_output=True, env=env
    )
    assert run.returncode == 0
    modules = _imported(run.stderr)
    assert "anthropic" in modules
    assert "uvicorn" not in modules and "starlette" not in modules


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "args", [["--version"], ["--help"], ["config"], ["models", "--offline"], ["completion", "bash"]]
)
def test_every_command_exits_141_when_its_reader_closed_stdout(args: list[str], tmp_path: Path) -> None:
    """click and rich turn a write to a closed pipe into exit 1; README's table says 141, as for ask."""
    import os

    read, write = os.pipe()
    os.close(read)
    try:
        run = subprocess.run(
            [sys.executable, "-m", "cvstream", *args], stdout=write, stderr=subprocess.PIPE, env=subprocess_env()
        )
    finally:
        os.close(write)
    assert run.returncode == 141, run.stderr
    assert b"Traceback" not in run.stderr
