"""`cvstream serve`: the web app's streaming route, served locally (the server itself is `cvstream.serve`)."""

from __future__ import annotations

import io
from typing import Annotated

import typer

from cvstream.context import env_of
from cvstream.errors import UsageError
from cvstream.flags import NetworkFlags, SettingFlags, with_flags

EPILOG = (
    "Examples:\n\n"
    "  cvstream serve --port 8000\n\n"
    "  cvstream serve --cors-origin http://localhost:3000\n\n"
    "  CVSTREAM_SERVE_TOKEN=s3cret cvstream serve --host 0.0.0.0"
)


@with_flags
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
        float,
        typer.Option(help="Seconds streams in flight may finish after SIGINT/SIGTERM (fractions allowed).", min=0),
    ] = 10.0,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="Also answer to this Host name (repeatable; the bound address and localhost always are).",
            show_default=False,
        ),
    ] = None,
    allow_model: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-model",
            help="A model (id or short name) clients may ask for besides --model (repeatable; default: only --model).",
            show_default=False,
        ),
    ] = None,
    max_concurrent: Annotated[
        int, typer.Option(help="Most streams at once; beyond it a 503 with retry-after.", min=1)
    ] = 64,
    client_timeout: Annotated[
        float, typer.Option(help="Drop a stream whose client accepts no bytes for this many seconds.", min=0.1)
    ] = 60.0,
    log: Annotated[
        bool,
        typer.Option("--log", help="Record every answer in the history (off: the texts are your users').", metavar=""),
    ] = False,
    settings: SettingFlags = SettingFlags(),
    network: NetworkFlags = NetworkFlags(),
) -> int:
    """Serve the web app's streaming route, so its front-end streams through cvstream unchanged.

    POST /api/ai/stream {"prompt", "system"?} and POST /api/enhance {"bullets", "job"?} answer with
    Server-Sent Events (data: {"text": ...} per delta, then data: [DONE]); GET /healthz.
    The API key stays on the server. Prints http://HOST:PORT on stdout, then logs to stderr.
    """
    from cvstream.launch import connect, settings_for
    from cvstream.report import Reporter

    env = env_of(ctx)
    token = token or env.environ.get("CVSTREAM_SERVE_TOKEN") or None
    from cvstream.serve import is_loopback

    if not is_loopback(host) and not token:
        raise UsageError(
            f"refusing to serve on {host} without a token: anyone who can reach it could spend your API key",
            "pass --token (or set CVSTREAM_SERVE_TOKEN), or bind 127.0.0.1",
        )
    resolved = settings_for(env, settings, Reporter(env).warning)
    from cvstream.models import alias_table, local_catalog, resolve

    # Short names mean here what they mean to `ask -m`, resolved once, at start, from the same models list.
    catalog = local_catalog(env.environ, resolved.endpoint)
    allowed = [resolve(name, catalog, resolved.aliases).id for name in allow_model or []]
    conn, mock_server = connect(resolved, network)
    from cvstream.serve import ServeConfig, bind
    from cvstream.serve import serve as run_server

    recorder = None
    if log:
        from cvstream.history.db import db_path
        from cvstream.history.store import Recorder

        recorder = Recorder(db_path(env.environ), Reporter(env).warning, conn.secrets)
    config = ServeConfig(
        conn=conn,
        model=resolved.model.value,
        max_tokens=resolved.max_tokens.value,
        method=resolved.method.value,
        token=token,
        cors_origins=list(cors_origin or []),
        max_body=max_body,
        max_tokens_cap=max_tokens_cap,
        log=env.stderr,
        host=host,
        allowed_hosts=list(allowed_host or []),
        allow_models=allowed,
        aliases=alias_table(catalog, resolved.aliases),
        max_concurrent=max_concurrent,
        client_timeout=client_timeout,
        recorder=recorder,
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
        if recorder is not None:
            recorder.close()
    return 0
