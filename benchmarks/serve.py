"""`cvstream serve` under concurrent clients, beside the same clients talking to the mock directly.

    python benchmarks/serve.py [--quick]

Prints time to first byte and total time (median and worst) at 1, 50 and 200 concurrent clients, and
the serve process's memory per open stream. Run by hand, never in CI.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import CVSTREAM, client_env, mock_process

QUICK = "--quick" in sys.argv
LEVELS = (1, 50) if QUICK else (1, 50, 100, 200)


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
    host, port = url.split("//")[1].split(":")
    return await asyncio.gather(*(one(host, int(port), path, body) for _ in range(clients)))


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def sampled_wave(
    url: str, body: bytes, clients: int, pid: int, peak: list[int]
) -> list[tuple[float, float, int]]:
    """A wave of clients through serve, sampling the server's RSS meanwhile into `peak`."""

    async def sample() -> None:
        while True:
            peak.append(rss_kb(pid))
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    try:
        return await wave(url, "/api/ai/stream", body, clients)
    finally:
        sampler.cancel()


def report(name: str, results: list[tuple[float, float, int]]) -> str:
    ttfb = [r[0] for r in results]
    total = [r[1] for r in results]
    return (
        f"{name:<22} ttfb median {statistics.median(ttfb) * 1000:7.1f} ms  worst {max(ttfb) * 1000:7.1f} ms   "
        f"total median {statistics.median(total):6.3f} s  worst {max(total):6.3f} s"
    )


def main() -> None:
    # A realistic pace: 300 ms to the first token, then 80 tokens a second, about 40 tokens an answer.
    with mock_process("--tokens-per-second", "80") as mock_url:
        env = client_env(mock_url)
        serve = subprocess.Popen(
            [CVSTREAM, "serve", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        try:
            assert serve.stdout is not None
            serve_url = serve.stdout.readline().decode().strip()
            direct = json.dumps(
                {
                    "model": "claude-sonnet-5-5",
                    "max_tokens": 1024,
                    "stream": True,
                    "messages": [{"role": "user", "content": "hi"}],
                }
            ).encode()
            routed = json.dumps({"prompt": "hi"}).encode()
            asyncio.run(wave(serve_url, "/api/ai/stream", routed, 5))  # warm up the client pool
            idle = rss_kb(serve.pid)
            for clients in LEVELS:
                print(f"-- {clients} concurrent client(s)")
                print(report("mock directly", asyncio.run(wave(mock_url, "/v1/messages", direct, clients))))
                peak = [idle]
                print(
                    report(
                        "through cvstream serve", asyncio.run(sampled_wave(serve_url, routed, clients, serve.pid, peak))
                    )
                )
                per_stream = (max(peak) - idle) / clients
                print(
                    f"{'':22} serve RSS idle {idle / 1024:.1f} MB, peak {max(peak) / 1024:.1f} MB: "
                    f"{per_stream:.0f} KB per open stream"
                )
        finally:
            serve.terminate()
            serve.wait(15)


if __name__ == "__main__":
    main()
