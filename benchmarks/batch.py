"""`cvstream batch` at 10,000 inputs: submitting, and downloading results, beside their floors.

    python benchmarks/batch.py [--quick]

Run by hand (never in CI), against `cvstream mock --batch-seconds 0` as a separate process. Prints:
- submit: `cvstream batch enhance` of 10,000 files (reading, building, submitting, recording the job),
  wall and peak RSS, beside an SDK-only script that reads the same files and creates the same batch;
- results: `cvstream batch results` of 10,000 results, wall and peak RSS, beside the same for 1,000
  (memory flat: the ratio of the peaks stays near 1 while the work grows tenfold), and beside the same
  download with `--no-log` (what recording every result in the history costs).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import CVSTREAM, PYTHON, Measure, client_env, measure, mock_process

QUICK = "--quick" in sys.argv
BULLETS = "- Led a team of {n} engineers building a billing platform\n- Cut cloud costs by {n}% in a year\n" * 3

FLOOR = """
import sys, anthropic
from pathlib import Path
from cvstream.prompt import ENHANCE_SYSTEM, enhance_message, parse_bullets
files = sorted(Path(sys.argv[1]).glob("*.txt"))
requests = [
    {"custom_id": f.stem, "params": {"model": "claude-sonnet-5-5", "max_tokens": 1024, "system": ENHANCE_SYSTEM,
     "messages": [{"role": "user", "content": enhance_message(parse_bullets(f.read_text()))}]}}
    for f in files
]
anthropic.Anthropic().messages.batches.create(requests=requests)
"""


def _inputs(root: Path, count: int) -> list[str]:
    folder = root / f"in{count}"
    folder.mkdir()
    for n in range(count):
        (folder / f"cv{n:05d}.txt").write_text(BULLETS.format(n=n))
    return sorted(str(p) for p in folder.glob("*.txt"))


def _mb(m: Measure) -> float:
    return m.max_rss_kb / 1024


def _line(name: str, value: str, beside: str, verdict: str) -> None:
    print(f"{name:<48} {value:<22} {beside:<34} {verdict}")


def main() -> None:
    count = 2_000 if QUICK else 10_000
    with tempfile.TemporaryDirectory() as tmp, mock_process("--batch-seconds", "0") as url:
        root = Path(tmp)
        env = {**client_env(url), "CVSTREAM_HOME": str(root / "state")}
        files = _inputs(root, count)
        small = _inputs(root, count // 10)

        submit = measure([CVSTREAM, "batch", "enhance", *files, "-o", str(root / "out"), "-q"], env=env)
        floor = measure([PYTHON, "-c", FLOOR, str(root / f"in{count}")], env=env)
        _line(
            f"submit {count:,} inputs: wall",
            f"{submit.wall:.2f} s",
            f"SDK-only {floor.wall:.2f} s ({submit.wall / floor.wall:.2f}x)",
            "ok" if submit.wall <= 5.0 else "OVER (target <= 5 s)",
        )
        _line(
            f"submit {count:,} inputs: CPU (user+sys)",
            f"{submit.cpu:.2f} s",
            f"SDK-only {floor.cpu:.2f} s ({submit.cpu / floor.cpu:.2f}x)",
            "",
        )
        _line(
            f"submit {count:,} inputs: peak RSS",
            f"{_mb(submit):.0f} MB",
            f"SDK-only {_mb(floor):.0f} MB ({submit.max_rss_kb / floor.max_rss_kb:.2f}x)",
            "ok" if _mb(submit) <= 200 else "OVER (target <= 200 MB)",
        )

        ids = {}
        for label, inputs in (("small", small), ("large", files)):
            out = subprocess.run(
                [CVSTREAM, "batch", "enhance", *inputs, "-o", str(root / f"res-{label}"), "-q"],
                env=env,
                capture_output=True,
                check=True,
            )
            ids[label] = out.stdout.decode().strip()
        few = measure([CVSTREAM, "batch", "results", ids["small"], "-q"], env=env)
        many = measure([CVSTREAM, "batch", "results", ids["large"], "-q"], env=env)
        unlogged = measure(
            [CVSTREAM, "batch", "results", ids["large"], "-q", "--no-log", "-o", str(root / "res-nolog")], env=env
        )
        written = len(os.listdir(root / "res-large"))
        _line(
            f"results {count:,} -> {written:,} files: wall",
            f"{many.wall:.2f} s",
            f"{count // 10:,} results {few.wall:.2f} s",
            "ok" if many.wall <= 10.0 else "OVER (target <= 10 s)",
        )
        _line(
            f"results {count:,}: wall, history recorded vs --no-log",
            f"{many.wall:.2f} s",
            f"--no-log {unlogged.wall:.2f} s ({many.wall / unlogged.wall:.2f}x)",
            "",
        )
        _line(
            f"results {count:,}: CPU (user+sys)",
            f"{many.cpu:.2f} s",
            f"{count // 10:,} results {few.cpu:.2f} s",
            "",
        )
        _line(
            f"results {count:,}: peak RSS",
            f"{_mb(many):.0f} MB",
            f"{count // 10:,} results {_mb(few):.0f} MB ({many.max_rss_kb / few.max_rss_kb:.2f}x)",
            "ok (flat)" if many.max_rss_kb <= few.max_rss_kb * 1.25 else "GROWS",
        )


if __name__ == "__main__":
    main()
