"""The history's cost: recording a short answer, the per-delta path, and `cvstream log` on a big database.

    python benchmarks/history.py [--quick] [cost] [short] [deltas] [big]

Run by hand (never in CI). Each line prints cvstream with recording beside cvstream with --no-log (the
floor), or a `cvstream log` command on a generated database of 100,000 answers beside the floor of any
cvstream command (`cvstream --version`), with the target from issue 15.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _common import CVSTREAM, best_of, client_env, median, row

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cvstream.history.db import connect
from cvstream.history.store import new_id

# An installed package has its .pyc files; without them every run would time the compiler, not cvstream.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
QUICK = "--quick" in sys.argv
N = 7 if QUICK else 21
ANSWERS = 100_000
# Text with a natural (Zipf) word distribution: a few very common words, a long tail; the named words sit
# at ranks 200-230, so each is in a few percent of the answers, like a topic word in a real log.
_TOPICS = [
    "streaming",
    "tokens",
    "answer",
    "model",
    "cache",
    "prompt",
    "latency",
    "python",
    "sqlite",
    "index",
    "search",
    "terminal",
    "markdown",
    "bullet",
    "resume",
    "project",
    "team",
    "led",
    "shipped",
    "reduced",
    "improved",
    "customers",
    "revenue",
    "platform",
    "migration",
    "kubernetes",
    "postgres",
    "incident",
]
_COMMON = [
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "for",
    "that",
    "with",
    "it",
    "on",
    "as",
    "be",
    "this",
    "are",
    "by",
    "or",
    "from",
    "at",
]
VOCABULARY = _COMMON + [f"w{i}" for i in range(180)] + _TOPICS + [f"x{i}" for i in range(5000)]
CUMULATIVE = list(itertools.accumulate(1 / rank for rank in range(1, len(VOCABULARY) + 1)))


@contextmanager
def mock_process(*args: str) -> Iterator[str]:
    """`cvstream mock --port 0 ARGS` as its own process; stopped with SIGINT, else SIGKILL after 10 s."""
    proc = subprocess.Popen([CVSTREAM, "mock", "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().decode().strip().split("=", 1)[1]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def short_answer(data: Path) -> None:
    with mock_process("--tokens-per-second", "0", "--first-token-ms", "0") as url:
        env = client_env(url)
        env["CVSTREAM_HOME"] = str(data)
        args = [CVSTREAM, "ask", "hi", "--raw", "--no-usage"]
        best_of(2, args, env=env)  # the database exists before the measured runs
        # Interleave the two so drift on a shared machine hits both alike.
        logged, unlogged = [], []
        for _ in range(N):
            logged.append(best_of(1, args, env=env).wall)
            unlogged.append(best_of(1, [*args, "--no-log"], env=env).wall)
        ours, floor = median(logged), median(unlogged)
        print(row("short answer, recorded (floor: --no-log)", ours, floor, 1.01))
        print(f"{'':44} difference {1000 * (ours - floor):+.1f} ms (target <= +5 ms)")


def recording_cost(data: Path) -> None:
    """What recording adds to one answer, measured in-process (wall-clock noise of whole runs hides ms)."""
    from cvstream.events import MessageDelta, MessageStarted, MessageStopped, TextDelta, UsageUpdate
    from cvstream.history.store import AnswerMeta, Recorder
    from cvstream.usage import Summary

    code = (  # what `ask` imports anyway comes first: the figure is what the history adds
        "import time, json, cvstream.launch, cvstream.run, cvstream.config; t = time.perf_counter(); "
        "import cvstream.history.store; print(time.perf_counter() - t)"
    )
    imports = median([float(subprocess.check_output([sys.executable, "-c", code])) for _ in range(N)])
    path = data / "history.db"
    Recorder(path, print).close()
    runs, closes = [], []
    for _ in range(50):
        started = time.perf_counter()
        recorder = Recorder(path, print)
        recording = recorder.recording(AnswerMeta(None, "ask", None, "claude-x", "create", None, "hi"))
        summary = Summary(started_at=time.monotonic())
        for event in (MessageStarted("claude-x", "msg", UsageUpdate(3)), TextDelta("Hello"), TextDelta(" there")):
            now = time.monotonic()
            summary.fold(event, now)
            recording.event(event, now)
        for event in (MessageDelta("end_turn", None, UsageUpdate(output_tokens=2)), MessageStopped()):
            summary.fold(event, time.monotonic())
        summary.ended_at = time.monotonic()
        recording.end(summary, None)
        runs.append(time.perf_counter() - started)
        started = time.perf_counter()
        recorder.close()
        closes.append(time.perf_counter() - started)
    work, close = median(runs), median(closes)
    print(f"{'recording one short answer, in-process':<44} {1000 * (imports + work + close):9.1f} ms", end="")
    print(
        f"  (imports {1000 * imports:.1f} ms + open, begin, end {1000 * work:.1f} ms"
        f" + close {1000 * close:.1f} ms; target <= 5 ms)"
    )
    if close > 0.002:
        print(f"{'':44} (close = the WAL checkpoint's fsync; Python 3.12+ skips it, this is {sys.version.split()[0]})")


def per_delta(data: Path) -> None:
    deltas = 20_000 if QUICK else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.txt"
        big.write_text(" ".join(f"w{i}" for i in range(deltas)))
        with mock_process("--text", str(big), "--tokens-per-second", "0", "--first-token-ms", "0") as url:
            env = client_env(url)
            env["CVSTREAM_HOME"] = str(data)
            args = [CVSTREAM, "ask", "hi", "--raw", "--no-usage", "--max-tokens", str(deltas + 10)]
            ours = best_of(3, args, env=env).cpu
            floor = best_of(3, [*args, "--no-log"], env=env).cpu
            print(row(f"{deltas:,}-delta answer, CPU, recorded", ours, floor, 1.02))


def generate(path: Path) -> None:
    """100,000 answers over 90 days: 4 models, a few statuses, ~100-character messages, ~800-character answers."""
    rng = random.Random(15)
    conn = connect(path)
    now = time.time()
    models = ["claude-sonnet-5-5", "claude-haiku-4-5", "claude-opus-4-6", "claude-sonnet-4-5"]
    rows = []
    for i in range(ANSWERS):
        created = now - (ANSWERS - i) * (90 * 86400 / ANSWERS)
        answer_id = new_id(created)
        message = " ".join(rng.choices(VOCABULARY, cum_weights=CUMULATIVE, k=14))
        answer = " ".join(rng.choices(VOCABULARY, cum_weights=CUMULATIVE, k=110))
        status = rng.choices(["complete", "partial", "failed"], [96, 3, 1])[0]
        rows.append(
            (
                answer_id,
                answer_id,
                created,
                "ask",
                rng.choice(models),
                "create",
                message,
                answer,
                status,
                rng.randint(5, 3000),
                rng.randint(20, 900),
                0.4,
                3.2,
            )
        )
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO answers (id, conversation_id, created, command, model, method, message, answer, status,"
        " input_tokens, output_tokens, ttft, duration, indexed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
        rows,
    )
    conn.execute(
        "INSERT INTO answers (id, conversation_id, created, command, model, method, message, answer,"
        " status, indexed) VALUES (?, ?, ?, 'ask', 'claude-sonnet-5-5', 'create', 'the rare word', ?, 'complete', 1)",
        (new_id(), new_id(), now, "a needle: zanzibar"),
    )
    conn.execute("COMMIT")
    conn.close()


def big_database(data: Path) -> None:
    path = data / "history.db"
    started = time.perf_counter()
    generate(path)
    size = os.path.getsize(path) / 1e6
    print(f"generated {ANSWERS:,} answers ({size:.0f} MB) in {time.perf_counter() - started:.1f} s")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CVSTREAM_"))}
    env["CVSTREAM_HOME"] = str(data)
    floor = best_of(N, [CVSTREAM, "--version"], env=env).wall
    for name, args in (
        ("cvstream log (latest 20, NDJSON)", ["log"]),
        ("cvstream log --model claude-opus-4-6 --since 3d", ["log", "--model", "claude-opus-4-6", "--since", "3d"]),
        ("cvstream log search zanzibar", ["log", "search", "zanzibar"]),
        ("cvstream log search kubernetes (~5% match)", ["log", "search", "kubernetes"]),
        ("cvstream log search 'kubernetes incident'", ["log", "search", "kubernetes incident"]),
        ("cvstream log search the (~all match: worst case)", ["log", "search", "the"]),
        ("cvstream log stats", ["log", "stats"]),
    ):
        wall = best_of(N, [CVSTREAM, *args], env=env).wall
        print(row(name, wall, floor, 3.0) + f"  [{'ok' if wall <= 0.3 else 'OVER'} vs 0.3 s]")


def main() -> None:
    parts = [a for a in sys.argv[1:] if not a.startswith("--")] or ["cost", "short", "deltas", "big"]
    steps = {"cost": recording_cost, "short": short_answer, "deltas": per_delta, "big": big_database}
    with tempfile.TemporaryDirectory() as tmp:
        for name in parts:
            steps[name](Path(tmp) / name)


if __name__ == "__main__":
    main()
