"""Typer commands only: options -> inputs, settings and output mode; then `run.py` does the work.

Nothing heavy is imported here: `--help`, `--version`, completion and `mock` never load the SDK.
`main()` wraps the whole app so exit codes hold everywhere: usage errors 2, Ctrl-C 130, a closed
stdout 141, and no traceback unless --debug.
"""

from __future__ import annotations

import importlib
import io
import sys
import threading
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click.exceptions import ClickException
from typer.exceptions import Abort

from cvstream import __version__
from cvstream.context import Env
from cvstream.errors import AuthError, CvstreamError, ExitStatus, UsageError

if TYPE_CHECKING:
    from cvstream.config import Settings
    from cvstream.mock.server import MockServer
    from cvstream.source import Connection

app = typer.Typer(
    name="cvstream",
    help="Stream Claude completions into your terminal and into other programs.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Method(str, Enum):
    create = "create"
    stream = "stream"


class Effort(str, Enum):
    low = "low"
    medium = "medium"
    high = "high"
    xhigh = "xhigh"
    max = "max"


def _complete_models(incomplete: str) -> list[str]:
    from cvstream.models import current_models

    return [m for m in current_models() if m.startswith(incomplete)]


# -- options shared by `ask` and `enhance` -------------------------------------------------------------
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Model id [default: CVSTREAM_MODEL, else the newest Sonnet].",
        autocompletion=_complete_models,
        show_default=False,
    ),
]
MaxTokensOpt = Annotated[
    int | None,
    typer.Option("--max-tokens", help="Most tokens to generate [default: 1024].", show_default=False),
]
MethodOpt = Annotated[
    Method | None,
    typer.Option(
        "--method",
        help="SDK method: create(stream=True), or the messages.stream() helper [default: create].",
        show_default=False,
        case_sensitive=False,
    ),
]
ThinkingOpt = Annotated[bool, typer.Option("--thinking", help="Enable adaptive thinking.")]
EffortOpt = Annotated[Effort | None, typer.Option("--effort", help="Output effort (output_config.effort).")]
SystemOpt = Annotated[str | None, typer.Option("--system", "-s", help="System text.")]
SystemFileOpt = Annotated[
    Path | None, typer.Option("--system-file", help="Read the system text from a file.", dir_okay=False)
]
RawOpt = Annotated[
    bool,
    typer.Option(
        "--raw",
        help="Only the answer's text (the default when stdout is not a terminal).",
        rich_help_panel="Output",
    ),
]
SseOpt = Annotated[
    bool,
    typer.Option(
        "--sse",
        help='Server-Sent Events: data: {"text": ...} per delta, then data: [DONE].',
        rich_help_panel="Output",
    ),
]
JsonOpt = Annotated[
    bool,
    typer.Option(
        "--json",
        help="NDJSON: every API event as sent, then a cvstream.summary line.",
        rich_help_panel="Output",
    ),
]
PlainOpt = Annotated[
    bool,
    typer.Option("--plain", help="Plain streamed text on a terminal, no Markdown rendering.", rich_help_panel="Output"),
]
HideThinkingOpt = Annotated[
    bool,
    typer.Option("--hide-thinking", help="Do not show thinking on the terminal.", rich_help_panel="Output"),
]
NoUsageOpt = Annotated[bool, typer.Option("--no-usage", help="No usage summary on stderr.", rich_help_panel="Output")]
QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="No notes, retry lines or spinner on stderr (errors still show).",
        rich_help_panel="Output",
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        help="Connect and per-read timeout in seconds [default: 10 connect, 180 read].",
        show_default=False,
        rich_help_panel="Network",
        min=0.001,
    ),
]
MaxRetriesOpt = Annotated[
    int | None,
    typer.Option(
        "--max-retries",
        help="Retries before the answer begins [default: 2].",
        min=0,
        show_default=False,
        rich_help_panel="Network",
    ),
]
MaxRetryWaitOpt = Annotated[
    float,
    typer.Option(
        "--max-retry-wait",
        help="Longest retry-after to obey, in seconds; longer ones fail at once.",
        min=0,
        rich_help_panel="Network",
    ),
]
OfflineOpt = Annotated[
    bool,
    typer.Option(
        "--offline",
        help="Answer from the built-in mock server (no key needed). Also CVSTREAM_OFFLINE=1.",
        rich_help_panel="Network",
    ),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show a traceback on errors.", hidden=False)]


def _env(ctx: typer.Context) -> Env:
    env = ctx.obj
    return env if isinstance(env, Env) else Env.from_process()


def _preload_sdk() -> None:
    """Import the SDK (~1 s) on a thread while stdin and files are read; the first use waits for it."""
    threading.Thread(target=importlib.import_module, args=("cvstream.source",), daemon=True).start()


def _output_mode(env: Env, raw: bool, sse: bool, json: bool, plain: bool) -> str:
    chosen = [name for name, flag in (("raw", raw), ("sse", sse), ("json", json), ("plain", plain)) if flag]
    if len(chosen) > 1:
        raise UsageError(f"choose one output format, not {' and '.join('--' + c for c in chosen)}")
    if chosen:
        return chosen[0]
    if not env.stdout_isatty:
        return "raw"
    return "plain" if env.dumb_terminal else "live"


def _system_text(env: Env, system: str | None, system_file: Path | None, default: str | None) -> str | None:
    from cvstream.inputs import read_file

    if system is not None and system_file is not None:
        raise UsageError("give --system or --system-file, not both")
    if system_file is not None:
        return read_file(str(system_file), env.cwd)
    return system if system is not None else default


def _connection(
    settings: Settings, *, timeout: float | None, max_retries: int | None, max_retry_wait: float
) -> tuple[Connection, MockServer | None]:
    """How to reach the API: the configured one, or with --offline a mock started for this run (the
    caller closes it). Without a key and without --offline, nothing is sent."""
    from cvstream.source import DEFAULT_MAX_RETRIES, Connection

    key, base_url, mock = settings.api_key.value, settings.base_url.value, None
    if settings.offline.value:
        from cvstream.mock.server import MockConfig, MockServer

        mock = MockServer(MockConfig(port=0))
        base_url, key = mock.start(), key or "cvstream-offline"
    elif not key:
        raise AuthError(
            "no API key found, so nothing was sent",
            "set ANTHROPIC_API_KEY (in the environment or a .env file), or try cvstream with --offline",
        )
    as_token = settings.key_is_auth_token and mock is None
    conn = Connection(
        api_key=None if as_token else key,
        auth_token=key if as_token else None,
        base_url=base_url,
        timeout=timeout,
        max_retries=DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
        max_retry_wait=max_retry_wait,
    )
    return conn, mock


def _stream(
    ctx: typer.Context,
    users: list[tuple[str, str]],
    system: str | None,
    *,
    model: str | None,
    max_tokens: int | None,
    method: Method | None,
    thinking: bool,
    effort: Effort | None,
    output: str,
    hide_thinking: bool,
    no_usage: bool,
    quiet: bool,
    timeout: float | None,
    max_retries: int | None,
    max_retry_wait: float,
    offline: bool,
    debug: bool,
    jobs: int = 4,
    out_dir: Path | None = None,
) -> int:
    """Resolve settings, then stream one answer per (label, user message)."""
    from cvstream.config import load_settings
    from cvstream.report import Reporter
    from cvstream.run import Job, Options, run

    env = _env(ctx)
    settings = load_settings(
        env.environ,
        env.cwd,
        model=model,
        max_tokens=max_tokens,
        method=method.value if method else None,
        offline=offline or None,
    )
    reporter = Reporter(env, quiet=quiet, secrets=(settings.api_key.value or "",))
    conn, mock = _connection(settings, timeout=timeout, max_retries=max_retries, max_retry_wait=max_retry_wait)
    if mock is not None:
        reporter.note(f"offline: answers come from cvstream's built-in mock server at {conn.base_url}")
    from cvstream.source import Request

    jobs_list = [
        Job(
            label,
            Request(
                model=settings.model.value,
                max_tokens=settings.max_tokens.value,
                user=user,
                system=system,
                thinking=thinking,
                effort=effort.value if effort else None,
            ),
        )
        for label, user in users
    ]
    options = Options(
        method=settings.method.value,
        output=output,
        show_usage=not no_usage,
        show_thinking=not hide_thinking,
        jobs=jobs,
        out_dir=out_dir,
        debug=debug,
    )
    try:
        return int(run(env, reporter, conn, jobs_list, options))
    finally:
        if mock is not None:
            mock.close()


# -- commands -------------------------------------------------------------------------------------------
def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            sdk = version("anthropic")
        except PackageNotFoundError:
            sdk = "not installed"
        python = ".".join(str(p) for p in sys.version_info[:3])
        typer.echo(f"cvstream {__version__} (anthropic SDK {sdk}, Python {python})")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Show cvstream's, the SDK's and Python's versions.",
            callback=_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Stream Claude completions into your terminal and into other programs.

    Answers render as Markdown on a terminal and as plain text in a pipe; --sse and --json are for programs.
    """


@app.command(
    epilog=(
        "Examples:\n\n"
        "  cvstream enhance bullets.txt\n\n"
        "  cvstream enhance bullets.txt --job job.txt --method stream\n\n"
        "  cvstream enhance a.txt b.txt c.txt --out-dir improved/ --jobs 4"
    ),
)
def enhance(
    ctx: typer.Context,
    files: Annotated[
        list[str] | None,
        typer.Argument(help="Bullet files (one bullet per line; - reads stdin). None: read stdin.", show_default=False),
    ] = None,
    job: Annotated[
        Path | None,
        typer.Option("--job", "-j", help="A job description to tailor the bullets to.", dir_okay=False),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", help="Files processed at once.", min=1)] = 4,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", "-o", help="Write each result to its own file here.", file_okay=False),
    ] = None,
    system: SystemOpt = None,
    system_file: SystemFileOpt = None,
    model: ModelOpt = None,
    max_tokens: MaxTokensOpt = None,
    method: MethodOpt = None,
    thinking: ThinkingOpt = False,
    effort: EffortOpt = None,
    raw: RawOpt = False,
    sse: SseOpt = False,
    json: JsonOpt = False,
    plain: PlainOpt = False,
    hide_thinking: HideThinkingOpt = False,
    no_usage: NoUsageOpt = False,
    quiet: QuietOpt = False,
    timeout: TimeoutOpt = None,
    max_retries: MaxRetriesOpt = None,
    max_retry_wait: MaxRetryWaitOpt = 60.0,
    offline: OfflineOpt = False,
    debug: DebugOpt = False,
) -> int:
    """Rewrite CV bullets: strong verbs, every fact kept, one bullet out per bullet in.

    Bullets are the non-empty lines of each FILE; list markers (-, *, •, 1., 1)) are stripped.
    Several files run in one process, --jobs at a time: on stdout one after another under a
    header line, or each to its own file with --out-dir.
    """
    from cvstream.inputs import read_file, read_stdin
    from cvstream.prompt import ENHANCE_SYSTEM, enhance_message, parse_bullets

    _preload_sdk()
    env = _env(ctx)
    output = _output_mode(env, raw, sse, json, plain)
    names = list(files or [])
    if not names:
        if env.stdin_isatty:
            raise UsageError("no bullets given", "pass a file (cvstream enhance bullets.txt) or pipe bullets on stdin")
        names = ["-"]
    if names.count("-") > 1:
        raise UsageError("stdin (-) can be read only once")
    job_text = read_file(str(job), env.cwd) if job is not None else None
    system_text = _system_text(env, system, system_file, ENHANCE_SYSTEM)
    users = []
    for name in names:
        text = read_stdin(env.stdin) if name == "-" else read_file(name, env.cwd)
        bullets = parse_bullets(text)
        if not bullets:
            raise UsageError(f"{'stdin' if name == '-' else name} has no bullets (it is empty or blank)")
        users.append(("stdin" if name == "-" else name, enhance_message(bullets, job_text)))
    if out_dir is not None:
        from cvstream.run import output_path

        out_dir = out_dir if out_dir.is_absolute() else env.cwd / out_dir

        targets = [output_path(out_dir, label, output) for label, _ in users]
        if len(set(targets)) != len(targets):
            raise UsageError("two inputs would write the same file in --out-dir", "rename one of them")
    return _stream(
        ctx,
        users,
        system_text,
        model=model,
        max_tokens=max_tokens,
        method=method,
        thinking=thinking,
        effort=effort,
        output=output,
        hide_thinking=hide_thinking,
        no_usage=no_usage,
        quiet=quiet,
        timeout=timeout,
        max_retries=max_retries,
        max_retry_wait=max_retry_wait,
        offline=offline,
        debug=debug,
        jobs=jobs,
        out_dir=out_dir,
    )


@app.command(
    epilog=(
        "Examples:\n\n"
        '  cvstream ask "explain SSE in one paragraph"\n\n'
        '  git log -20 | cvstream ask "write release notes" > notes.md\n\n'
        '  cvstream ask --json "hi" | jq -c .type'
    ),
)
def ask(
    ctx: typer.Context,
    prompt: Annotated[
        list[str] | None,
        typer.Argument(help="The instruction (words are joined by spaces).", show_default=False),
    ] = None,
    system: SystemOpt = None,
    system_file: SystemFileOpt = None,
    model: ModelOpt = None,
    max_tokens: MaxTokensOpt = None,
    method: MethodOpt = None,
    thinking: ThinkingOpt = False,
    effort: EffortOpt = None,
    raw: RawOpt = False,
    sse: SseOpt = False,
    json: JsonOpt = False,
    plain: PlainOpt = False,
    hide_thinking: HideThinkingOpt = False,
    no_usage: NoUsageOpt = False,
    quiet: QuietOpt = False,
    timeout: TimeoutOpt = None,
    max_retries: MaxRetriesOpt = None,
    max_retry_wait: MaxRetryWaitOpt = 60.0,
    offline: OfflineOpt = False,
    debug: DebugOpt = False,
) -> int:
    """Ask anything; piped stdin is included below the instruction.

    With both, the message is the instruction, a blank line, then the piped text inside
    <input> ... </input> tags.
    """
    from cvstream.inputs import read_stdin
    from cvstream.prompt import ask_message

    _preload_sdk()
    env = _env(ctx)
    output = _output_mode(env, raw, sse, json, plain)
    stdin_text = None if env.stdin_isatty else read_stdin(env.stdin)
    user = ask_message(list(prompt or []), stdin_text)
    if not user.strip():
        raise UsageError("no prompt given", 'pass one (cvstream ask "...") or pipe text on stdin')
    system_text = _system_text(env, system, system_file, None)
    return _stream(
        ctx,
        [("prompt", user)],
        system_text,
        model=model,
        max_tokens=max_tokens,
        method=method,
        thinking=thinking,
        effort=effort,
        output=output,
        hide_thinking=hide_thinking,
        no_usage=no_usage,
        quiet=quiet,
        timeout=timeout,
        max_retries=max_retries,
        max_retry_wait=max_retry_wait,
        offline=offline,
        debug=debug,
    )


@app.command(
    epilog=(
        "Examples:\n\n"
        "  cvstream mock --port 0\n\n"
        "  cvstream mock --fault http529 --fault-times 1\n\n"
        "  cvstream mock --transcript recorded.sse --tokens-per-second 0"
    ),
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
) -> int:
    """Run a loopback Anthropic Messages API for trying cvstream and testing scripts without a key.

    Prints ANTHROPIC_BASE_URL=http://HOST:PORT on stdout, then one log line per request on stderr.
    Replies echo the request as Markdown unless --transcript or --text is given.
    """
    from cvstream.mock.server import FAULTS, MockConfig, MockServer

    env = _env(ctx)
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


@app.command(
    epilog=(
        "Examples:\n\n"
        "  cvstream serve --port 8000\n\n"
        "  cvstream serve --cors-origin http://localhost:3000\n\n"
        "  CVSTREAM_SERVE_TOKEN=s3cret cvstream serve --host 0.0.0.0"
    ),
)
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback needs --token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.", min=0, max=65535)] = 8000,
    token: Annotated[
        str | None,
        typer.Option(help="Require Authorization: Bearer TOKEN (also CVSTREAM_SERVE_TOKEN).", show_default=False),
    ] = None,
    cors_origin: Annotated[
        list[str] | None, typer.Option("--cors-origin", help="Allow a browser front-end on this origin (repeatable).")
    ] = None,
    max_body: Annotated[int, typer.Option(help="Largest request body in bytes.", min=1)] = 1024 * 1024,
    max_tokens_cap: Annotated[int, typer.Option(help="Largest max_tokens a client may ask for.", min=1)] = 8192,
    grace: Annotated[
        float, typer.Option(help="Seconds streams in flight may finish after SIGINT/SIGTERM.", min=0)
    ] = 10.0,
    model: ModelOpt = None,
    max_tokens: MaxTokensOpt = None,
    method: MethodOpt = None,
    timeout: TimeoutOpt = None,
    max_retries: MaxRetriesOpt = None,
    max_retry_wait: MaxRetryWaitOpt = 60.0,
    offline: OfflineOpt = False,
) -> int:
    """Serve the web app's streaming route, so its front-end streams through cvstream unchanged.

    POST /api/ai/stream {"prompt", "system"?} and POST /api/enhance {"bullets", "job"?} answer with
    Server-Sent Events (data: {"text": ...} per delta, then data: [DONE]); GET /healthz.
    The API key stays on the server. Prints http://HOST:PORT on stdout, then logs to stderr.
    """
    from cvstream.config import load_settings

    env = _env(ctx)
    token = token or env.environ.get("CVSTREAM_SERVE_TOKEN") or None
    from cvstream.serve import is_loopback

    if not is_loopback(host) and not token:
        raise UsageError(
            f"refusing to serve on {host} without a token: anyone who can reach it could spend your API key",
            "pass --token (or set CVSTREAM_SERVE_TOKEN), or bind 127.0.0.1",
        )
    settings = load_settings(
        env.environ,
        env.cwd,
        model=model,
        max_tokens=max_tokens,
        method=method.value if method else None,
        offline=offline or None,
    )
    conn, mock_server = _connection(settings, timeout=timeout, max_retries=max_retries, max_retry_wait=max_retry_wait)
    from cvstream.serve import ServeConfig, bind
    from cvstream.serve import serve as run_server

    config = ServeConfig(
        conn=conn,
        model=settings.model.value,
        max_tokens=settings.max_tokens.value,
        method=settings.method.value,
        token=token,
        cors_origins=list(cors_origin or []),
        max_body=max_body,
        max_tokens_cap=max_tokens_cap,
        log=env.stderr,
    )
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror})", "pick another --port, or 0") from None
    out = io.TextIOWrapper(env.stdout, encoding="utf-8", write_through=True)
    try:
        run_server(config, sock, grace, out)
    finally:
        out.detach()
        sock.close()
        if mock_server is not None:
            mock_server.close()
    return 0


@app.command(
    epilog=(
        "Examples:\n\n"
        "  cvstream config\n\n"
        "  CVSTREAM_MODEL=claude-haiku-4-5 cvstream config\n\n"
        "  cvstream config --method stream"
    )
)
def config(
    ctx: typer.Context,
    model: ModelOpt = None,
    max_tokens: MaxTokensOpt = None,
    method: MethodOpt = None,
    offline: OfflineOpt = False,
) -> int:
    """Show every setting's resolved value and where it came from.

    Precedence: flag > environment > ./.env > user config .env > default. The key is never shown.
    Pass the same flags as `ask` to see how they combine.
    """
    from cvstream.config import load_settings, user_config_dir

    env = _env(ctx)
    settings = load_settings(
        env.environ,
        env.cwd,
        model=model,
        max_tokens=max_tokens,
        method=method.value if method else None,
        offline=offline or None,
    )
    key = settings.api_key
    rows = [
        ("api key", f"set (from {key.name} in {key.source})" if key.value else "not set", ""),
        ("base url", settings.base_url.value or "https://api.anthropic.com", settings.base_url.source),
        ("model", settings.model.value, settings.model.source),
        ("max tokens", str(settings.max_tokens.value), settings.max_tokens.source),
        ("method", settings.method.value, settings.method.source),
        ("offline", "yes" if settings.offline.value else "no", settings.offline.source),
        ("user config", str(user_config_dir(env.environ) / ".env"), ""),
    ]
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        line = f"{name:<{width}}  {value}" + (f"  ({source})" if source else "")
        env.stdout.write((line + "\n").encode())
    env.stdout.flush()
    return 0


# -- the entry point --------------------------------------------------------------------------------
def _reporter(env: Env) -> Any:
    """A stderr reporter that redacts any key found in the environment (a safety net)."""
    from cvstream.report import Reporter

    keys = (env.environ.get("ANTHROPIC_API_KEY", ""), env.environ.get("ANTHROPIC_AUTH_TOKEN", ""))
    return Reporter(env, secrets=keys)


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv


def main(argv: list[str] | None = None, env: Env | None = None) -> int:
    """Run cvstream; return the exit status (the console script passes it to sys.exit)."""
    args = list(sys.argv[1:] if argv is None else argv)
    env = env or Env.from_process()
    command = typer.main.get_command(app)
    try:
        result: Any = command.main(args=args, prog_name="cvstream", standalone_mode=False, obj=env)
    except ClickException as exc:
        exc.show(file=env.stderr)
        return ExitStatus.USAGE if exc.exit_code == 2 else exc.exit_code
    except Abort:
        return ExitStatus.INTERRUPTED
    except CvstreamError as exc:
        reporter = _reporter(env)
        if _debug_requested(args):
            reporter.traceback(exc)
        reporter.error(exc)
        return int(exc.status)
    except BrokenPipeError:
        env.silence_stdout()
        return ExitStatus.BROKEN_PIPE
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED
    except Exception as exc:  # a bug: say so in one line, traceback only with --debug
        reporter = _reporter(env)
        if _debug_requested(args):
            reporter.traceback(exc)
        reporter.error(
            CvstreamError(f"unexpected failure: {type(exc).__name__}: {exc}", "run again with --debug and report it")
        )
        return ExitStatus.API_ERROR
    if result is None:
        return ExitStatus.OK
    return int(result)
