"""CPU time of live terminal rendering against --raw on the same stream, at 100 and 60 columns.

    python benchmarks/live.py [--quick] [--before SRC]

cvstream runs on a pseudo-terminal (as in real use) against `cvstream mock` streaming a long Markdown
answer paced like a fast model; the child's CPU time (user + system) comes from wait4. Run by hand.
`--before SRC` measures another source tree too, in the same run (for example a checkout of an older
commit: `git worktree add /tmp/before <commit>`; then `--before /tmp/before/src`).
"""

from __future__ import annotations

import os
import pty
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from _common import PYTHON, client_env, mock_process

QUICK = "--quick" in sys.argv
BEFORE = sys.argv[sys.argv.index("--before") + 1] if "--before" in sys.argv else None
TARGET = 1.25


def answer(target_bytes: int = 16_000) -> str:
    blocks, size, i = [], 0, 0
    while size < target_bytes:
        block = (
            f"## Part {i}\n\nA paragraph about part {i} with **bold** words, `code`, and enough text to wrap "
            f"over a couple of lines on a narrow terminal.\n\n- point one of {i}\n- point two\n- point three\n\n"
            f"```python\ndef part_{i}():\n    return {i}\n```\n\n| a | b |\n|---|---|\n| {i} | {i * 2} |\n\n"
        )
        blocks.append(block)
        size += len(block)
        i += 1
    return "".join(blocks)


def cpu_on_pty(args: list[str], env: dict[str, str], columns: int) -> float:
    master, slave = pty.openpty()
    env = {**env, "COLUMNS": str(columns), "LINES": "40", "TERM": "xterm-256color"}
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.DEVNULL, env=env)
    os.close(slave)

    def drain() -> None:
        while True:
            try:
                if not os.read(master, 65536):
                    break
            except OSError:
                break

    reader = threading.Thread(target=drain)
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    reader.join(5)
    os.close(master)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args} failed")
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    text = answer()
    tps = "400"
    runs = 1 if QUICK else 5
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "answer.md"
        path.write_text(text)
        with mock_process("--text", str(path), "--tokens-per-second", tps, "--first-token-ms", "0") as url:
            env = client_env(url)
            # `python -m cvstream`, not the console script: it runs the --before tree too, whatever its entry point
            base = [PYTHON, "-m", "cvstream", "ask", "x", "--no-usage", "--max-tokens", "100000"]
            print(
                f"{len(text):,} bytes of Markdown at {tps} deltas/s; {runs} run(s) of each, live and --raw "
                "alternating (this machine drifts between runs); medians; CPU seconds of the child"
            )
            trees = [("this checkout", env)]
            if BEFORE:
                trees.append(("--before", {**env, "PYTHONPATH": BEFORE}))
            for columns in (100, 60):
                for name, tree_env in trees:
                    pairs = [
                        (cpu_on_pty(base, tree_env, columns), cpu_on_pty([*base, "--raw"], tree_env, columns))
                        for _ in range(runs)
                    ]
                    live = statistics.median(p[0] for p in pairs)
                    raw = statistics.median(p[1] for p in pairs)
                    added = statistics.median(p[0] - p[1] for p in pairs)
                    ratio = live / raw
                    verdict = "ok" if ratio <= TARGET else "OVER"
                    print(
                        f"{columns:>3} columns, {name:13}: live {live:.3f} s  raw {raw:.3f} s  "
                        f"live adds {added:.3f} s  ratio {ratio:.2f}x (target <= {TARGET}x) {verdict}"
                    )


if __name__ == "__main__":
    main()
