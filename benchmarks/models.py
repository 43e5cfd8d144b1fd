"""Model resolution on the hot path: what resolving `-m sonnet` (and the default model) adds to every run.

Each figure is a fresh interpreter resolving the settings once (median of N runs), side by side with the
cost of `import anthropic` that every request pays anyway. Run by hand: python benchmarks/models.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cvstream.mock import models_api

RUNS = 15
RESOLVE = (  # timed from after cvstream.config is imported (every command imports it): the call, models.py included
    "import sys, time; from pathlib import Path; from cvstream.config import load_settings; "
    "t = time.perf_counter(); "
    "load_settings({'CVSTREAM_CACHE_DIR': sys.argv[1]}, Path(sys.argv[1]), model=sys.argv[2] or None); "
    "print(time.perf_counter() - t)"
)
BASELINE = "import time; t = time.perf_counter(); import anthropic; print(time.perf_counter() - t)"


def median(code: str, *args: str) -> float:
    times = [
        float(subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True).stdout)
        for _ in range(RUNS)
    ]
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as empty, tempfile.TemporaryDirectory() as cached:
        rows = [m for m in models_api.CATALOGUE]
        body = {"version": 1, "endpoint": "api", "fetched_at": time.time(), "models": rows}
        (Path(cached) / "models.json").write_text(json.dumps(body))
        sdk = median(BASELINE)
        cases = [
            ("default model, cached list", median(RESOLVE, cached, "")),
            ("-m sonnet, cached list", median(RESOLVE, cached, "sonnet")),
            ("-m sonnet, no cache (SDK list)", median(RESOLVE, empty, "sonnet")),
            ("-m claude-sonnet-5-5, cached list", median(RESOLVE, cached, "claude-sonnet-5-5")),
        ]
    print(f"{'case':<36} {'ms':>7} {'x import anthropic':>19}")
    for name, seconds in cases:
        print(f"{name:<36} {seconds * 1000:7.1f} {seconds / sdk:19.2f}")
    print(f"{'import anthropic (paid by any run)':<36} {sdk * 1000:7.1f} {1.0:19.2f}")


if __name__ == "__main__":
    main()
