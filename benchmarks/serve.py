"""`cvstream serve` under load, beside the same clients talking to the mock directly.

    python benchmarks/serve.py [--quick] [--before SRC]

Prints, each measured side by side in one run:

1. kept-alive requests against new connections: ten `GET /healthz` on one kept-alive connection beside ten
   on new connections (medians), and a streamed answer's time to first byte on a kept-alive connection;
2. concurrency: one stream's total time, then 100 and 300 concurrent clients (median total and its ratio
   to the one stream's), with the mock at 80 tokens/s and 300 ms to the first token, ~40 tokens an answer;
   beside the same clients talking to the mock directly (the floor on this machine);
3. serve's CPU per streamed event: 100 streams of 305 text deltas from a mock at full speed, CPU time of
   the serve process divided by the deltas.

`--before SRC` runs serve from another source tree (for example a checkout of an older commit:
`git worktree add /tmp/before <commit>`; then `--before /tmp/before/src`), beside the current one.
Run by hand, never in CI.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _common import PYTHON, client_env, mock_process

QUICK = "--quick" in sys.argv
BEFORE = sys.argv[sys.argv.index("--before") + 1] if "--before" in sys.argv else None
LEVELS = (100,) if QUICK else (100, 300)
ROUTED = json.dumps({"prompt": "hi"}).encode()
DIRECT = json.dumps(
    {"model": "claude-sonnet-5-5", "max_tokens": 1024, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
).encode()


@contextmanager
def serve_process(mock_url: str, src: str | None) -> Iterator[tuple[str, int]]:
    """`cvstream serve` from `src` (or this checkout); yields (url, pid)."""
    env = client_env(mock_url)
    args = [PYTHON, "-m", "cvstream", "serve", "--port", "0"]
    if src is not None:
        env["PYTHONPATH"] = src
    else:
        args += ["--max-concurrent", "1000"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().decode().strip(), proc.pid
    finally:
        proc.terminate()
        proc.wait(30)


def exit_after_stream(mock_url: str, src: str | None, grace: float = 1.0) -> float:
    """SIGTERM with a stream in flight: seconds from the stream's last byte (at the end of --grace) to exit."""
    env = client_env(mock_url)
    if src is not None:
        env["PYTHONPATH"] = src
    args = [PYTHON, "-m", "cvstream", "serve", "--port", "0", "--grace", str(grace)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        assert proc.stdout is not None
        host, port = host_port(proc.stdout.readline().decode().strip())
        conn = http.client.HTTPConnection(host, port)
        body = json.dumps({"prompt": "hi " * 200})
        conn.request("POST", "/api/ai/stream", body, {"content-type": "application/json"})
        response = conn.getresponse()
        response.read1(64)  # the stream has begun
        proc.send_signal(signal.SIGTERM)
        response.read()
        ended = time.perf_counter()
        proc.wait(30)
        return time.perf_counter() - ended
    finally:
        proc.kill()
        proc.wait()


def host_port(url: str) -> tuple[str, int]:
    host, port = url.split("//")[1].split(":")
    return host, int(port)


# -- 1. kept-alive against new connections ---------------------------------------------------------------


def healthz_medians(url: str, n: int = 10) -> tuple[float, float]:
    host, port = host_port(url)
    kept = http.client.HTTPConnection(host, port)
    kept.request("GET", "/healthz")
    kept.getresponse().read()
    alive, fresh = [], []
    for _ in range(n):
        start = time.perf_counter()
        kept.request("GET", "/healthz")
        kept.getresponse().read()
        alive.append(time.perf_counter() - start)
        start = time.perf_counter()
        conn = http.client.HTTPConnection(host, port)
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        conn.close()
        fresh.append(time.perf_counter() - start)
    kept.close()
    return statistics.median(alive), statistics.median(fresh)


def stream_ttfb_kept_alive(url: str, n: int = 10) -> float:
    host, port = host_port(url)
    conn = http.client.HTTPConnection(host, port)
    times = []
    for _ in range(n + 1):
        start = time.perf_counter()
        conn.request("POST", "/api/ai/stream", ROUTED, {"content-type": "application/json"})
        response = conn.getresponse()
        response.read1(1)
        times.append(time.perf_counter() - start)
        response.read()
    conn.close()
    return statistics.median(times[1:])


# -- 2. concurrency ----------------------------------------------------------------------------------------


async def one(host: str, port: int, path: str, body: bytes) -> tuple[float, float, int]:
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        f"POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
        f"x-api-key: sk-benchmark\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode()
    writer.write(head + body)
    await writer.drain()
    first = await reader.read(1)
    ttfb = time.perf_counter() - start
    size = len(first) + len(await reader.read())
    writer.close()
    return ttfb, time.perf_counter() - start, size


async def wave(url: str, path: str, body: bytes, clients: int) -> list[tuple[float, float, int]]:
    host, port = host_port(url)
    return await asyncio.gather(*(one(host, port, path, body) for _ in range(clients)))


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def sampled_wave(url: str, clients: int, pid: int) -> tuple[list[tuple[float, float, int]], int]:
    """A wave through serve, and serve's peak RSS meanwhile (KB)."""
    peak = [rss_kb(pid)]

    async def sample() -> None:
        while True:
            peak.append(rss_kb(pid))
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    try:
        return await wave(url, "/api/ai/stream", ROUTED, clients), max(peak)
    finally:
        sampler.cancel()


def median_total(results: list[tuple[float, float, int]]) -> float:
    return statistics.median(r[1] for r in results)


# -- 3. CPU per event --------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_event(url: str, pid: int, streams: int = 100, deltas: int = 305) -> float:
    asyncio.run(wave(url, "/api/ai/stream", ROUTED, 5))  # warm up
    before = cpu_seconds(pid)
    for _ in range(streams // 10):
        asyncio.run(wave(url, "/api/ai/stream", ROUTED, 10))
    return (cpu_seconds(pid) - before) / (streams * deltas)


def measure(src: str | None, label: str) -> dict[str, float]:
    results: dict[str, float] = {}
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as text:
        text.write(" ".join(f"word{i}" for i in range(305)))
        text.flush()
        with (
            mock_process("--tokens-per-second", "0", "--first-token-ms", "0", "--text", text.name) as fast,
            serve_process(fast, src) as (url, pid),
        ):
            results["alive"], results["fresh"] = healthz_medians(url)
            results["ttfb"] = stream_ttfb_kept_alive(url)
            results["cpu"] = cpu_per_event(url, pid)
    with mock_process("--tokens-per-second", "80") as paced, serve_process(paced, src) as (url, pid):
        asyncio.run(wave(url, "/api/ai/stream", ROUTED, 5))
        results["one"] = median_total(asyncio.run(wave(url, "/api/ai/stream", ROUTED, 1)))
        for clients in LEVELS:
            idle = rss_kb(pid)
            streams, peak = asyncio.run(sampled_wave(url, clients, pid))
            results[f"c{clients}"] = median_total(streams)
            results[f"kb{clients}"] = (peak - idle) / clients
            # the floor: the same clients talking to the mock directly (it shares the cores)
            results[f"m{clients}"] = median_total(asyncio.run(wave(paced, "/v1/messages", DIRECT, clients)))
        results["mone"] = median_total(asyncio.run(wave(paced, "/v1/messages", DIRECT, 1)))
        results["exit"] = statistics.median(exit_after_stream(paced, src) for _ in range(3))
    print(f"-- {label}", file=sys.stderr)
    return results


def main() -> None:
    runs = {"this checkout": measure(None, "this checkout")}
    if BEFORE:
        runs["--before"] = measure(BEFORE, "--before")
    names = list(runs)
    print(f"{'':44}" + "".join(f"{name:>16}" for name in names))

    def line(label: str, key: str, scale: float, unit: str, ratio_to: str | None = None) -> None:
        cells = []
        for name in names:
            value = runs[name][key] * scale
            cell = f"{value:.2f} {unit}"
            if ratio_to is not None:
                cell += f" ({runs[name][key] / runs[name][ratio_to]:.2f}x)"
            cells.append(f"{cell:>16}")
        print(f"{label:<44}" + "".join(cells))

    line("GET /healthz, kept-alive connection, median", "alive", 1000, "ms")
    line("GET /healthz, new connection, median", "fresh", 1000, "ms")
    line("stream time to first byte, kept-alive", "ttfb", 1000, "ms")
    line("one stream (80 tok/s), total", "one", 1, "s")
    line("one stream, mock directly, total", "mone", 1, "s")
    for clients in LEVELS:
        line(f"{clients} concurrent streams, median total (x one)", f"c{clients}", 1, "s", "one")
        line(f"{clients} concurrent, mock directly (x one)", f"m{clients}", 1, "s", "mone")
    for clients in LEVELS:
        line(f"serve memory per open stream at {clients}", f"kb{clients}", 1, "KB")
    line("serve CPU per streamed text delta", "cpu", 1e6, "us")
    line("SIGTERM, --grace 1: stream's end to exit", "exit", 1000, "ms")


if __name__ == "__main__":
    main()
