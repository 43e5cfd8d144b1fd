"""Startup, overhead, throughput, memory and many-inputs figures, each beside its floor, in one run.

    python benchmarks/perf.py [--quick] [startup|overhead|throughput|memory|files ...]

Run by hand (never in CI). Prints one line per figure: cvstream, the floor, the ratio and the target.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

from _common import CVSTREAM, PYTHON, best_of, client_env, measure, mock_process, row

HERE = Path(__file__).resolve().parent
QUICK = "--quick" in sys.argv
N = 5 if QUICK else 11


def startup() -> None:
    floor = best_of(N, [PYTHON, "-c", "import typer"]).wall
    print(row("startup: cvstream --version", best_of(N, [CVSTREAM, "--version"]).wall, floor, 2.0))
    helped = best_of(N, [CVSTREAM, "--help"]).wall
    print(row("startup: cvstream --help", helped, floor, 3.0))
    two_commands = best_of(N, [PYTHON, str(HERE / "floor_help.py"), "--help"]).wall
    print(row("  the same, floor a 2-command Typer app's help", helped, two_commands, 1.10))


def overhead() -> None:
    with mock_process("--tokens-per-second", "0", "--first-token-ms", "0") as url:
        env = client_env(url)
        ours = best_of(N, [CVSTREAM, "ask", "hi", "--raw", "--no-usage"], env=env).wall
        floor = best_of(N, [PYTHON, str(HERE / "floor_create.py"), "1024"], env=env).wall
        paused = best_of(N, [PYTHON, str(HERE / "floor_create.py"), "1024", "--pause-gc"], env=env).wall
        print(row("short answer: cvstream ask hi --raw", ours, floor, 1.02))
        print(row("  the same, floor with the GC paused too", ours, paused, 1.10))
        piped = "echo x | " + CVSTREAM + " ask summarise --raw --no-usage"
        fast = best_of(3, [piped], env=env, shell=True).wall
        slow = best_of(3, ["(sleep 1; echo x) | " + CVSTREAM + " ask summarise --raw --no-usage"], env=env, shell=True)
        sdk_import = best_of(3, [PYTHON, "-c", "import anthropic"]).wall
        # The SDK import overlaps the slow producer: ideally the run costs max(1 s, import) + the request.
        ideal = max(1.0, sdk_import) + max(0.0, fast - sdk_import)
        print(row("slow stdin: (sleep 1; echo x) | cvstream ask", slow.wall, ideal, 1.10))
        print(f"{'':44} (ideal = max(1 s, SDK import {sdk_import:.2f} s) + request; without overlap {1 + fast:.2f} s)")


def throughput() -> None:
    deltas = 20_000 if QUICK else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.txt"
        big.write_text(" ".join(f"w{i}" for i in range(deltas)))
        with mock_process("--text", str(big), "--tokens-per-second", "0", "--first-token-ms", "0") as url:
            env = client_env(url)
            max_tokens = str(deltas + 10)
            runs = 3
            for method, floor_script in (("create", "floor_create.py"), ("stream", "floor_stream.py")):
                ours = best_of(
                    runs,
                    [CVSTREAM, "ask", "hi", "--raw", "--no-usage", "--method", method, "--max-tokens", max_tokens],
                    env=env,
                )
                floor = best_of(runs, [PYTHON, str(HERE / floor_script), max_tokens], env=env)
                print(row(f"throughput {deltas:,} deltas CPU, --method {method}", ours.cpu, floor.cpu, 1.15))


def memory() -> None:
    deltas = 20_000 if QUICK else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.txt"
        big.write_text(" ".join(f"w{i}" for i in range(deltas)))
        small = Path(tmp) / "small.txt"
        small.write_text(" ".join(f"w{i}" for i in range(1_000)))
        # Peak memory at 100,000 deltas against 1,000, with the history on (the default) and off. Prose has a
        # vocabulary of a few thousand words; the w0 w1 ... text above is the worst case for the history's
        # full-text index, which holds one entry per distinct word while it indexes the answer at its end.
        prose = Path(tmp) / "prose.txt"
        vocabulary = [f"{stem}{i}" for i, stem in enumerate(["skill", "team", "led", "data", "the", "and"] * 500)]
        pick = random.Random(0).choice
        prose.write_text(" ".join(pick(vocabulary) for _ in range(deltas)))
        base = [CVSTREAM, "ask", "hi", "--raw", "--no-usage", "--max-tokens", str(deltas + 10)]
        peaks: dict[tuple[str, bool], float] = {}
        for name, text in (("prose", prose), ("distinct", big), ("small", small)):
            with mock_process("--text", str(text), "--tokens-per-second", "0", "--first-token-ms", "0") as url:
                for log in (True, False):
                    run = best_of(3, base + ([] if log else ["--no-log"]), env=client_env(url))
                    peaks[name, log] = run.max_rss_kb / 1024
        for name, label in (("prose", "prose (3,000 words)"), ("distinct", "100,000 distinct words")):
            for log in (True, False):
                grown = peaks[name, log] - peaks["small", log]
                print(
                    f"{'memory: peak RSS, create --raw':31} {label:23} {'history on ' if log else '--no-log   '}"
                    f"{peaks[name, log]:6.1f} MB at {deltas:,} deltas, {peaks['small', log]:.1f} MB at 1,000: "
                    f"{grown:+.1f} MB (target <= 5 MB) {'ok' if grown <= 5 else 'OVER'}"
                )


def many_files() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i in range(10):
            path = Path(tmp) / f"cv{i}.txt"
            path.write_text("\n".join(f"- did thing {i}.{j} with a team" for j in range(8)) + "\n")
            files.append(str(path))
        with mock_process() as url:  # a realistic pace: 80 tokens/s, 300 ms to the first token
            env = client_env(url)
            one_run = measure([CVSTREAM, "enhance", *files, "--raw", "--no-usage", "--jobs", "10"], env=env).wall
            loop = " ; ".join(f"{CVSTREAM} enhance {f} --raw --no-usage" for f in files)
            start = time.perf_counter()
            measure([loop], env=env, shell=True)
            shell_loop = time.perf_counter() - start
            print(row("10 files: enhance a..j --jobs 10 vs a shell loop", one_run, shell_loop, 0.30))


PARTS = {"startup": startup, "overhead": overhead, "throughput": throughput, "memory": memory, "files": many_files}

if __name__ == "__main__":
    chosen = [a for a in sys.argv[1:] if a in PARTS] or list(PARTS)  # e.g. `perf.py memory` runs one part
    print(f"cvstream {CVSTREAM}; Python {sys.version.split()[0]}; {N} runs per figure (median)")
    for name in chosen:
        PARTS[name]()
