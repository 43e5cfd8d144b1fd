"""Helpers for the benchmark scripts: run commands, measure them, start `cvstream mock` as a process."""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
CVSTREAM = (
    str(Path(PYTHON).parent / "cvstream")
    if (Path(PYTHON).parent / "cvstream").exists()
    else (shutil.which("cvstream") or "cvstream")
)


@dataclass
class Measure:
    wall: float  # seconds
    cpu: float  # user + system seconds of the child
    max_rss_kb: int


def measure(
    args: list[str], env: dict[str, str] | None = None, stdin: bytes | None = None, shell: bool = False
) -> Measure:
    """Run once; wall time, CPU time and peak RSS of the child (via wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args if not shell else args[0],
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        shell=shell,
    )
    if stdin is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{args} exited {proc.returncode}")
    return Measure(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


def median(values: list[float]) -> float:
    return statistics.median(values)


def best_of(n: int, args: list[str], **kwargs: object) -> Measure:
    runs = [measure(args, **kwargs) for _ in range(n)]  # type: ignore[arg-type]
    return Measure(median([r.wall for r in runs]), median([r.cpu for r in runs]), max(r.max_rss_kb for r in runs))


@contextmanager
def mock_process(*args: str) -> Iterator[str]:
    """`cvstream mock --port 0 ARGS` as a separate process; yields its base URL."""
    proc = subprocess.Popen([CVSTREAM, "mock", "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        yield line.split("=", 1)[1]
    finally:
        proc.send_signal(signal.SIGTERM)  # not SIGINT: a script started with `&` ignores it, and so do its children
        proc.wait(10)


_HOME = tempfile.TemporaryDirectory(prefix="cvstream-bench-")  # removed when the script ends


def client_env(base_url: str, home: str | None = None) -> dict[str, str]:
    """The environment of a cvstream run against `base_url`: no key or setting of the caller's, and a
    home of its own (the benchmark's history, caches and settings, never the user's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CVSTREAM_", "XDG_"))}
    home = home or _HOME.name
    env.update(
        ANTHROPIC_BASE_URL=base_url,
        ANTHROPIC_API_KEY="sk-benchmark",
        HOME=home,
        XDG_DATA_HOME=os.path.join(home, "data"),
        XDG_CONFIG_HOME=os.path.join(home, "config"),
        XDG_CACHE_HOME=os.path.join(home, "cache"),
    )
    return env


def row(name: str, value: float, floor: float, target: float, unit: str = "s") -> str:
    ratio = value / floor if floor else float("inf")
    verdict = "ok" if ratio <= target else "OVER"
    figures = f"{value:9.3f} {unit}  floor {floor:9.3f} {unit}  ratio {ratio:5.2f}x"
    return f"{name:<44} {figures}  (target <= {target}x) {verdict}"
