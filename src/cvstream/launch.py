"""From a command's flags to a run: settings, the API connection (or the --offline mock), the reporter.

Shared by every command that sends requests (`ask`, `enhance`, and those to come), so each command
module only turns its own arguments into inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cvstream.context import Env
from cvstream.errors import AuthError, UsageError
from cvstream.flags import (
    BudgetFlags,
    HistoryFlags,
    NetworkFlags,
    OutputFlags,
    RequestFlags,
    SettingFlags,
    setting_overrides,
)
from cvstream.report import Reporter
from cvstream.sinks import OutputMode, check_out_dir, output_path, select_mode

if TYPE_CHECKING:
    from cvstream.config import Settings
    from cvstream.mock.server import MockServer
    from cvstream.prices import Price
    from cvstream.run import Job
    from cvstream.source import Connection, Request


def output_mode(env: Env, output: OutputFlags) -> OutputMode:
    return select_mode(env, raw=output.raw, sse=output.sse, json=output.json, plain=output.plain)


def system_text(env: Env, request: RequestFlags, default: str | None) -> str | None:
    from cvstream.inputs import read_file

    if request.system is not None and request.system_file is not None:
        raise UsageError("give --system or --system-file, not both")
    if request.system_file is not None:
        return read_file(str(request.system_file), env.cwd)
    return request.system if request.system is not None else default


def settings_for(env: Env, flags: SettingFlags, warn: Callable[[str], None]) -> Settings:
    from cvstream.config import load_settings

    return load_settings(env.environ, env.cwd, warn=warn, **setting_overrides(flags))


def connect(
    settings: Settings, network: NetworkFlags, *, enhance: bool = False
) -> tuple[Connection, MockServer | None]:
    """How to reach the API: the configured one, or with --offline a mock started for this run (the
    caller closes it; for an `enhance` run it answers every request as one, whatever the system text).
    Without a key and without --offline, nothing is sent."""
    from cvstream.source import DEFAULT_MAX_RETRIES, Connection

    key, base_url, mock = settings.api_key.value, settings.base_url.value, None
    if settings.offline.value:
        from cvstream.mock.server import MockConfig, MockServer

        mock = MockServer(MockConfig(port=0, enhance=enhance))
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
        timeout=network.timeout,
        max_retries=DEFAULT_MAX_RETRIES if network.max_retries is None else network.max_retries,
        max_retry_wait=network.max_retry_wait,
    )
    return conn, mock


def price_of(env: Env, settings: Settings) -> Price | None:
    """The model's price from prices.toml (by id, undated id or alias), or None; reads no file if there is none."""
    from cvstream.config import Names
    from cvstream.prices import pricer

    return pricer(env.environ, lambda: Names(settings.endpoint, settings.aliases))(settings.model.value)


def check_before_sending(
    env: Env,
    settings: Settings,
    conn: Connection,
    requests: list[tuple[str, Request]],
    reporter: Reporter,
    budget: BudgetFlags,
) -> Price | None:
    """The preflight checks (preflight.py) of a run; returns the model's price for the cost line."""
    from cvstream.preflight import Input, preflight

    price = price_of(env, settings)

    def count(index: int) -> int:
        from cvstream.source import count_tokens

        return count_tokens(conn, requests[index][1])

    inputs = [Input(label, len(r.user) + len(r.system or ""), r.max_tokens) for label, r in requests]
    preflight(inputs, settings.model.value, settings.resolved_model.entry, count, reporter.note, price, budget.max_cost)
    return price


def stream_answers(
    env: Env,
    inputs: list[tuple[str, str]],
    system: str | None,
    *,
    settings: SettingFlags,
    budget: BudgetFlags = BudgetFlags(),
    request: RequestFlags,
    network: NetworkFlags,
    output: OutputFlags,
    mode: OutputMode,
    jobs: int = 4,
    out_dir: Path | None = None,
    shape: Callable[[list[Job], Settings], list[Job]] | None = None,
    history: HistoryFlags = HistoryFlags(),
    command: str = "ask",
) -> int:
    """Stream one answer per (label, user message) through the one run path; returns the exit status.

    `shape`, if given, adjusts the jobs once the settings are known (whole documents: their own sinks,
    file names and a max_tokens that fits their bullets). With --continue/--cid the conversation's
    earlier turns are sent before the message, with its system text (unless --system or --system-file)
    and its model (unless one is chosen). Each answer is recorded in the history (unless logging is
    off) by an observer of its events."""
    from dataclasses import replace

    from cvstream.config import known_secrets
    from cvstream.history.store import AnswerMeta, recorder
    from cvstream.run import Job, Options, run

    secrets = known_secrets(env.environ, env.cwd)
    reporter = Reporter(env, quiet=output.quiet, secrets=secrets)
    resolved = settings_for(env, settings, reporter.warning)
    if (lifecycle := resolved.resolved_model.note) is not None:
        reporter.note(f"note: {lifecycle}")
    continued = None
    if history.continue_ or history.cid is not None:
        if len(inputs) > 1:
            raise UsageError("--continue and --cid take one input: which conversation would each continue?")
        from cvstream.history.conversation import continuation

        continued = continuation(env.environ, history.cid)
        for answer_id in continued.partial:
            reporter.note(f"note: the earlier answer {answer_id[:12]} is partial; it is sent as it was received")
        if request.system is None and request.system_file is None:
            system = continued.system
    chosen = not resolved.model.source.startswith("default")  # a flag, the environment or a .env file
    model = continued.model if continued is not None and not chosen else resolved.model.value
    # Opened before the first use of the SDK, so it overlaps the SDK's import on its thread.
    record = recorder(env.environ, history.no_log, reporter.warning, secrets)
    from cvstream.source import Request

    job_list = [
        Job(
            label,
            Request(
                model=model,
                max_tokens=resolved.max_tokens.value,
                user=user,
                system=system,
                thinking=request.thinking,
                effort=request.effort.value if request.effort else None,
                history=continued.turns if continued is not None else (),
            ),
        )
        for label, user in inputs
    ]
    try:
        # Every check that needs no request comes before the --offline mock starts or anything is sent.
        if shape is not None:
            job_list = shape(job_list, resolved)
        if out_dir is not None:
            check_out_dir(out_dir, [output_path(out_dir, j.label, mode, j.filename) for j in job_list])
        conn, mock = connect(resolved, network, enhance=command == "enhance")
    except BaseException:
        if record is not None:
            record.close()
        raise
    if mock is not None:
        reporter.note(f"offline: answers come from cvstream's built-in mock server at {conn.base_url}")
    if record is not None:
        conversation_id = continued.conversation_id if continued is not None else None
        job_list = [
            replace(
                job,
                observer=record.recording(
                    AnswerMeta.of(
                        job.request.params(),
                        conversation_id=conversation_id,
                        command=command,
                        label=job.label if command == "enhance" else None,
                        method=resolved.method.value,
                    )
                ),
            )
            for job in job_list
        ]
    try:
        price = check_before_sending(env, resolved, conn, [(j.label, j.request) for j in job_list], reporter, budget)
        options = Options(
            method=resolved.method.value,
            mode=mode,
            show_usage=not output.no_usage,
            show_thinking=not output.hide_thinking,
            jobs=jobs,
            out_dir=out_dir,
            debug=output.debug,
            price=price,
        )
        return int(run(env, reporter, conn, job_list, options))
    finally:
        if record is not None:
            record.close()
        if mock is not None:
            mock.close()
