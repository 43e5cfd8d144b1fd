"""`cvstream mock`: the loopback Anthropic Messages API, as a command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cvstream.context import env_of
from cvstream.errors import UsageError

EPILOG = (
    "Examples:\n\n"
    "  cvstream mock --port 0\n\n"
    "  cvstream mock --fault http529 --fault-times 1\n\n"
    "  cvstream mock --transcript recorded.sse --tokens-per-second 0"
)


def mock(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback prints a warning.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.", min=0, max=65535)] = 8765,
    transcript: Annotated[
        Path | None, typer.Option(help="Replay this recorded SSE body verbatim.", dir_okay=False, exists=True)
    ] = None,
    text: Annotated[
        Path | None,
        typer.Option("--text", help="Stream this file's text as text deltas.", dir_okay=False, exists=True),
    ] = None,
    tokens_per_second: Annotated[
        float, typer.Option(help="Pace of text deltas; 0 = as fast as possible.", min=0)
    ] = 80.0,
    first_token_ms: Annotated[float, typer.Option(help="Delay before the first text delta.", min=0)] = 300.0,
    chunk_bytes: Annotated[
        int,
        typer.Option(help="Split writes into pieces this size (mid-event, mid-character); 0 = off.", min=0),
    ] = 0,
    fault: Annotated[
        str | None,
        typer.Option(
            help=(
                "Fail requests: http400 http401 http403 http404 http413 http429 http500 http529"
                " error_event truncate malformed reset stall slow_headers."
            ),
            show_default=False,
        ),
    ] = None,
    fault_after: Annotated[int, typer.Option(help="Text deltas sent before a mid-stream fault.", min=0)] = 3,
    fault_times: Annotated[int, typer.Option(help="Only the first K requests fail; 0 = all.", min=0)] = 0,
    retry_after: Annotated[float, typer.Option(help="retry-after seconds sent with 429, 500 and 529.", min=0)] = 1.0,
    stop_reason: Annotated[
        str | None, typer.Option(help="Stop reason of generated replies (e.g. refusal).", show_default=False)
    ] = None,
    echo_key: Annotated[
        bool,
        typer.Option(
            "--echo-key", help="Quote the request's credentials in error messages (a leaky proxy).", metavar=""
        ),
    ] = False,
    echo: Annotated[
        bool,
        typer.Option(
            "--echo", help="Echo every request as Markdown (enhance requests too), for debugging.", metavar=""
        ),
    ] = False,
    batch_seconds: Annotated[float, typer.Option(help="How long each message batch processes.", min=0)] = 3.0,
    batch_errored: Annotated[
        float, typer.Option(help="Share of batch requests that end errored (0 to 1).", min=0, max=1)
    ] = 0.0,
    batch_expired: Annotated[
        float, typer.Option(help="Share of batch requests that end expired (0 to 1).", min=0, max=1)
    ] = 0.0,
    batch_results_fault: Annotated[
        bool,
        typer.Option("--batch-results-fault", help="The first results download breaks off halfway.", metavar=""),
    ] = False,
) -> int:
    """Run a loopback Anthropic Messages API for trying cvstream and testing scripts without a key.

    Prints ANTHROPIC_BASE_URL=http://HOST:PORT on stdout, then one log line per request on stderr.
    Enhance requests get their bullets back, each marked \\[offline], in the shape the real model is asked
    for; other requests are echoed as Markdown (--echo: all of them); --transcript and --text replace both.
    """
    from cvstream.mock.batches import BatchConfig
    from cvstream.mock.server import FAULTS, MockConfig, MockServer

    env = env_of(ctx)
    if fault is not None and fault not in FAULTS:
        raise UsageError(f"unknown fault {fault!r}", "one of: " + ", ".join(FAULTS))
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: binding {host}: the mock server is reachable from other machines", file=env.stderr)
    config = MockConfig(
        host=host,
        port=port,
        transcript=transcript.read_bytes() if transcript else None,
        text=text.read_text(encoding="utf-8") if text else None,
        tokens_per_second=tokens_per_second,
        first_token_ms=first_token_ms,
        chunk_bytes=chunk_bytes,
        fault=fault,
        fault_after=fault_after,
        fault_times=fault_times,
        retry_after=retry_after,
        stop_reason=stop_reason,
        echo_key=echo_key,
        echo=echo,
        batch=BatchConfig(batch_seconds, batch_errored, batch_expired, batch_results_fault),
    )
    try:
        server = MockServer(config, log=env.stderr)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror})", "pick another --port, or 0") from None
    env.stdout.write(f"ANTHROPIC_BASE_URL={server.base_url}\n".encode())
    env.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
