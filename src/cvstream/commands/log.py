"""`cvstream log`: list, show, search, stats, rm, prune and export recorded answers; turn recording on or off.

On a terminal, tables and rendered Markdown; in a pipe or with --json, NDJSON with every field (one
answer per line), so `cvstream log --json | jq` sees everything. The database is opened here only:
`cvstream --help` and `cvstream log --help` never import sqlite3.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cvstream.context import Env, env_of
from cvstream.errors import CvstreamError, UsageError

if TYPE_CHECKING:
    import sqlite3

    from cvstream.config import Names

app = typer.Typer(
    name="log",
    help="Find, show and manage recorded answers (every answer is kept unless logging is off).",
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

JsonOpt = Annotated[bool, typer.Option("--json", help="NDJSON with every field (the default in a pipe).", metavar="")]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", help="How many answers.", min=1)]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Only this model (an id or a short name, as `ask -m`).", show_default=False),
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Only newer ones: 30m, 2h, 3d, 1w or a date (2026-11-01).")
]
CidOpt = Annotated[str | None, typer.Option("--cid", help="A conversation (any unique prefix of its id).")]


@contextmanager
def _database(env: Env) -> Iterator[sqlite3.Connection | None]:
    """The open history, or None if nothing was ever recorded; an unusable file is an error."""
    from cvstream.history.db import HistoryError, connect, db_path

    path = db_path(env.environ)
    if not path.exists():
        yield None
        return
    try:
        conn = connect(path, create=False)
    except HistoryError as exc:
        raise CvstreamError(f"cannot open the history {exc.path} ({exc.reason})", kind="history") from None
    try:
        yield conn
    finally:
        conn.close()


def _since(text: str | None) -> float | None:
    from cvstream.history.queries import parse_when

    if text is None:
        return None
    try:
        return parse_when(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _names(env: Env) -> Names:
    from cvstream.config import model_names
    from cvstream.report import Reporter

    return model_names(env.environ, env.cwd, Reporter(env).warning)


def _model(env: Env, name: str | None) -> str | None:
    """A model name as `ask -m` takes it (sonnet, a user's alias, an id) -> the id the history records."""
    from cvstream.models import resolve_in

    return None if name is None else resolve_in(env.environ, _names(env), name).id


def _lookup(conn: sqlite3.Connection, prefix: str, what: str) -> str:
    from cvstream.history import queries

    try:
        if what == "conversation":
            return queries.resolve_conversation(conn, prefix)
        return queries.resolve_answer(conn, prefix)
    except queries.IdLookupError as exc:
        raise UsageError(str(exc), "`cvstream log` lists the latest answers and their ids") from None


def _as_table(env: Env, json: bool) -> bool:
    return env.stdout_isatty and not json


def _ndjson(env: Env, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        env.stdout.write((jsonlib.dumps(row, ensure_ascii=False) + "\n").encode())
    env.stdout.flush()


def _empty(env: Env) -> None:
    from cvstream.history.db import db_path

    print(f"no answers recorded yet (history: {db_path(env.environ)})", file=env.stderr)


def _table(env: Env, rows: list[dict[str, Any]], snippets: bool = False) -> None:
    from cvstream.history.views import AnswersTable

    env.stdout_console().print(AnswersTable(rows, snippets))


@app.callback(invoke_without_command=True)
def log(
    ctx: typer.Context,
    limit: LimitOpt = 20,
    model: ModelOpt = None,
    since: SinceOpt = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only complete, partial or failed answers.", show_default=False)
    ] = None,
    conversation: Annotated[
        bool, typer.Option("--conversation", "-c", help="Only the latest conversation.", metavar="")
    ] = False,
    cid: CidOpt = None,
    json: JsonOpt = False,
) -> int:
    """List the latest answers (newest first): time, id, command, model, status, tokens, message.

    Examples: `cvstream log -n 5`, `cvstream log --since 2h --status partial`, `cvstream log --json | jq .answer`.
    """
    if ctx.invoked_subcommand is not None:
        return 0
    from cvstream.history import queries

    env = env_of(ctx)
    if status is not None and status not in queries.STATUSES:
        raise UsageError(f"unknown status {status!r}", "one of: " + ", ".join(queries.STATUSES))
    model = _model(env, model)
    with _database(env) as conn:
        if conn is None:
            _empty(env)
            return 0
        conversation_id = _conversation(conn, conversation, cid)
        filters = queries.Filters(limit, model, _since(since), status, conversation_id)
        rows = queries.latest(conn, filters)
    if _as_table(env, json):
        _table(env, rows)
    else:
        _ndjson(env, rows)
    return 0


def _conversation(conn: sqlite3.Connection, latest: bool, cid: str | None) -> str | None:
    from cvstream.history import queries

    if cid is not None:
        return _lookup(conn, cid, "conversation")
    if not latest:
        return None
    if (found := queries.latest_conversation(conn)) is None:  # only batch or serve answers are recorded
        raise UsageError(
            "no ask or enhance conversation is recorded", "name one with --cid ID (`cvstream log` lists ids)"
        )
    return found


@app.command()
def show(
    ctx: typer.Context,
    answer_id: Annotated[
        str | None, typer.Argument(metavar="ID", help="An answer (any unique prefix of its id).")
    ] = None,
    cid: CidOpt = None,
    conversation: Annotated[
        bool, typer.Option("--conversation", "-c", help="The latest conversation.", metavar="")
    ] = False,
    json: JsonOpt = False,
) -> int:
    """Show one answer, or a whole conversation with --cid / -c.

    Markdown on a terminal; in a pipe the answer's text as received (a conversation as one Markdown
    document); --json gives every field.
    """
    from cvstream.history import queries, views

    env = env_of(ctx)
    if (answer_id is None) == (cid is None and not conversation):
        raise UsageError("give an answer ID, or --cid ID / -c for a conversation")
    with _database(env) as conn:
        if conn is None:
            raise UsageError("nothing is recorded yet")
        if answer_id is not None:
            rows = [queries.answer(conn, _lookup(conn, answer_id, "answer"))]
        else:
            conversation_id = _conversation(conn, conversation, cid)
            rows = queries.conversation(conn, conversation_id) if conversation_id else []
    if json:
        _ndjson(env, rows)
    elif env.stdout_isatty:
        _render(env, rows)
    else:
        text = rows[0]["answer"] if answer_id is not None else views.conversation_markdown(rows)
        env.stdout.write(text.encode())
        env.stdout.flush()
    return 0


def _render(env: Env, rows: list[dict[str, Any]]) -> None:
    from cvstream.history.views import conversation_view

    console = env.stdout_console()
    for renderable in conversation_view(rows):
        console.print(renderable)


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[list[str], typer.Argument(help='Words to find (FTS5 syntax: "a phrase", OR, NOT, pre*).')],
    limit: LimitOpt = 20,
    model: ModelOpt = None,
    since: SinceOpt = None,
    json: JsonOpt = False,
) -> int:
    """Full-text search over messages and answers, best matches first, with the matching text."""
    from cvstream.history import queries
    from cvstream.history.queries import MARK_END, MARK_START

    env = env_of(ctx)
    model = _model(env, model)
    with _database(env) as conn:
        if conn is None:
            _empty(env)
            return 0
        rows = queries.search(conn, " ".join(query), queries.Filters(limit, model, _since(since)))
    if _as_table(env, json):
        _table(env, rows, snippets=True)
    else:
        for row in rows:
            row["snippet"] = str(row["snippet"]).replace(MARK_START, "**").replace(MARK_END, "**")
        _ndjson(env, rows)
    if not rows:
        print("no answer matches", file=env.stderr)
    return 0


@app.command()
def stats(ctx: typer.Context, since: SinceOpt = None, json: JsonOpt = False) -> int:
    """Answers, tokens (in, out, cache read and write) and cost (from prices.toml) by model and by day.

    A model is priced as `ask` prices it (by id, undated id or short name); batch answers at half price."""
    from cvstream.history import queries

    env = env_of(ctx)
    with _database(env) as conn:
        if conn is None:
            _empty(env)
            return 0
        result = queries.stats(conn, _since(since))
    from cvstream.prices import recorded_cost

    queries.add_costs(result, recorded_cost(env.environ, lambda: _names(env)))  # names read only with prices
    if not _as_table(env, json):
        rows = [{"by": "model", **r} for r in result["by_model"]] + [{"by": "day", **r} for r in result["by_day"]]
        _ndjson(env, rows)
        return 0
    from cvstream.history.views import stats_tables

    console = env.stdout_console()
    for table in stats_tables(result):
        console.print(table)
        console.print()
    return 0


@app.command()
def path(ctx: typer.Context) -> int:
    """Print the database's path."""
    from cvstream.history.db import db_path

    env = env_of(ctx)
    env.stdout.write(f"{db_path(env.environ)}\n".encode())
    env.stdout.flush()
    return 0


@app.command()
def rm(
    ctx: typer.Context,
    answer_ids: Annotated[list[str] | None, typer.Argument(metavar="ID...", help="Answers to remove.")] = None,
    cid: Annotated[str | None, typer.Option("--cid", help="Remove this whole conversation.")] = None,
) -> int:
    """Remove answers (or a whole conversation with --cid)."""
    from cvstream.history import queries

    env = env_of(ctx)
    if not answer_ids and cid is None:
        raise UsageError("give the IDs of the answers to remove, or --cid ID")
    with _database(env) as conn:
        if conn is None:
            raise UsageError("nothing is recorded yet")
        count = 0
        if answer_ids:
            count += queries.delete(conn, [_lookup(conn, prefix, "answer") for prefix in answer_ids])
        if cid is not None:
            count += queries.delete_conversation(conn, _lookup(conn, cid, "conversation"))
    print(f"removed {count} answer{'' if count == 1 else 's'}", file=env.stderr)
    return 0


@app.command()
def prune(
    ctx: typer.Context,
    older_than: Annotated[str, typer.Option("--older-than", help="Age: 12h, 90d, 2w.", show_default=False)],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.", metavar="")] = False,
) -> int:
    """Delete every answer older than a given age, then give the disk space back."""
    import time

    from cvstream.history import queries

    env = env_of(ctx)
    try:
        before = time.time() - queries.parse_span(older_than)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with _database(env) as conn:
        count = 0 if conn is None else queries.count_older(conn, before)
        if conn is None or count == 0:
            print(f"no answer is older than {older_than}", file=env.stderr)
            return 0
        noun = f"{count:,} answer{'' if count == 1 else 's'}"
        if not yes:
            if not env.stdin_isatty:
                raise UsageError(f"refusing to delete {noun} without confirmation", "pass --yes")
            env.stderr.write(f"Delete {noun} older than {older_than}? [y/N] ")
            env.stderr.flush()
            if env.stdin.readline().decode(errors="replace").strip().lower() not in ("y", "yes"):
                print("nothing deleted", file=env.stderr)
                return 1
        deleted = queries.prune(conn, before)
    print(f"deleted {deleted:,} answer{'' if deleted == 1 else 's'}", file=env.stderr)
    return 0


@app.command()
def export(
    ctx: typer.Context,
    cid: CidOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="md or json.")] = "md",
) -> int:
    """Write a conversation (the latest unless --cid) as Markdown or JSON on stdout."""
    from cvstream.history import queries
    from cvstream.history import views as render

    env = env_of(ctx)
    if fmt not in ("md", "json"):
        raise UsageError(f"unknown format {fmt!r}", "one of: md, json")
    with _database(env) as conn:
        if conn is None:
            raise UsageError("nothing is recorded yet")
        conversation_id = _conversation(conn, cid is None, cid)
        rows = queries.conversation(conn, conversation_id) if conversation_id else []
    text = render.conversation_json(rows) if fmt == "json" else render.conversation_markdown(rows)
    env.stdout.write(text.encode())
    env.stdout.flush()
    return 0


def _switch(ctx: typer.Context, on: bool) -> int:
    from cvstream.history.db import logging_enabled, write_setting

    env = env_of(ctx)
    where = write_setting(env.environ, "log", on)
    print(f"logging is {'on' if on else 'off'} (stored in {where})", file=env.stderr)
    enabled, source = logging_enabled(env.environ)
    if enabled != on:
        print(f"note: {source} overrides it in this environment", file=env.stderr)
    return 0


@app.command("on")
def log_on(ctx: typer.Context) -> int:
    """Record answers again (the default)."""
    return _switch(ctx, True)


@app.command("off")
def log_off(ctx: typer.Context) -> int:
    """Stop recording answers (per run: --no-log or CVSTREAM_LOG=0)."""
    return _switch(ctx, False)
