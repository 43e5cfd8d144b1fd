"""Reading the history back: list, show, search, stats, rm, prune, export and id lookup (pure SQL, no output).

Rows come back as plain dicts with every column, so `--json` prints them as they are and the table
and Markdown renderers in `commands/log.py` pick what they show. Ids are matched by any unique
prefix, as git does with commit ids; a conversation's id is the id of its first answer.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cvstream.history.db import write_transaction

COLUMNS = (
    "id",
    "conversation_id",
    "created",
    "command",
    "label",
    "model",
    "method",
    "system",
    "message",
    "answer",
    "thinking",
    "stop_reason",
    "status",
    "error_kind",
    "error_message",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "ttft",
    "duration",
    "params",
)
_SELECT = "SELECT " + ", ".join(f"a.{c}" for c in COLUMNS) + " FROM answers a"
STATUSES = ("complete", "partial", "failed")
CONVERSING = ("ask", "enhance")  # the commands whose answers are "the latest conversation" (not batch, not serve)
SHORT_ID = 12  # 10 characters of milliseconds + 2 random: unique unless two answers begin in the same ms
_ID_CHARS = re.compile(r"^[0-9a-z]+$")


class IdLookupError(Exception):
    """An id prefix that matches nothing, or more than one thing."""


@dataclass(frozen=True, slots=True)
class Filters:
    limit: int = 20
    model: str | None = None  # a model id; an undated one also matches its dated ids
    since: float | None = None  # unix time
    status: str | None = None
    conversation_id: str | None = None


def _row(values: tuple[Any, ...]) -> dict[str, Any]:
    row = dict(zip(COLUMNS, values, strict=True))
    try:
        row["params"] = json.loads(row["params"] or "{}")
    except ValueError:
        pass
    return row


def _id_range(prefix: str) -> tuple[str, str]:
    prefix = prefix.strip().lower()
    if not prefix or not _ID_CHARS.match(prefix):
        raise IdLookupError(f"{prefix!r} is not an id (ids are letters and digits)")
    return prefix, prefix + "~"  # "~" sorts after every id character


def resolve_answer(conn: sqlite3.Connection, prefix: str) -> str:
    low, high = _id_range(prefix)
    found = [r[0] for r in conn.execute("SELECT id FROM answers WHERE id >= ? AND id < ? LIMIT 2", (low, high))]
    return _one(found, prefix, "answer")


def resolve_conversation(conn: sqlite3.Connection, prefix: str) -> str:
    low, high = _id_range(prefix)
    found = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT conversation_id FROM answers WHERE conversation_id >= ? AND conversation_id < ? LIMIT 2",
            (low, high),
        )
    ]
    return _one(found, prefix, "conversation")


def _one(found: list[str], prefix: str, what: str) -> str:
    if not found:
        raise IdLookupError(f"no {what} has an id starting with {prefix!r}")
    if len(found) > 1:
        raise IdLookupError(f"{prefix!r} matches more than one {what}; give more of the id")
    return found[0]


def latest_conversation(conn: sqlite3.Connection) -> str | None:
    """The conversation of the newest `ask` or `enhance` answer: a batch result or a `serve --log` answer is
    continued or shown only by its id (`--cid`). A conversation continued from one is an `ask` answer too."""
    marks = ", ".join("?" * len(CONVERSING))
    sql = f"SELECT conversation_id FROM answers WHERE command IN ({marks}) ORDER BY id DESC LIMIT 1"
    row = conn.execute(sql, CONVERSING).fetchone()
    return None if row is None else str(row[0])


def conversation(conn: sqlite3.Connection, conversation_id: str) -> list[dict[str, Any]]:
    """Every turn of a conversation, oldest first."""
    rows = conn.execute(f"{_SELECT} WHERE a.conversation_id = ? ORDER BY a.id", (conversation_id,))
    return [_row(r) for r in rows]


def answer(conn: sqlite3.Connection, answer_id: str) -> dict[str, Any]:
    row = conn.execute(f"{_SELECT} WHERE a.id = ?", (answer_id,)).fetchone()
    if row is None:
        raise IdLookupError(f"no answer has the id {answer_id!r}")
    return _row(row)


def latest(conn: sqlite3.Connection, filters: Filters) -> list[dict[str, Any]]:
    """The newest answers matching the filters, newest first."""
    where, args = _where(filters)
    sql = f"{_SELECT}{where} ORDER BY a.id DESC LIMIT ?"
    return [_row(r) for r in conn.execute(sql, (*args, filters.limit))]


def _where(filters: Filters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if filters.model:
        # The id itself, or it followed by a date (claude-haiku-4-5 -> claude-haiku-4-5-20251001), as prices
        # match; both terms are ranges of the model index.
        clauses.append("(a.model = ? OR (a.model BETWEEN ? AND ? AND length(a.model) = ? AND a.model GLOB ?))")
        low, high, size = filters.model + "-00000000", filters.model + "-99999999", len(filters.model) + 9
        args += [filters.model, low, high, size, "*-" + "[0-9]" * 8]
    if filters.since is not None:
        clauses.append("a.created >= ?")
        args.append(filters.since)
    if filters.status:
        clauses.append("a.status = ?")
        args.append(filters.status)
    if filters.conversation_id:
        clauses.append("a.conversation_id = ?")
        args.append(filters.conversation_id)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


# Snippet markers: control characters that never occur in text, turned into styles or ** by the caller.
MARK_START, MARK_END = "\x02", "\x03"


def search(conn: sqlite3.Connection, query: str, filters: Filters) -> list[dict[str, Any]]:
    """Best matches first, each with a `snippet` of the matching text (matches between MARK_START/END).

    The query is FTS5 syntax (`"exact phrase"`, `OR`, `NOT`, `prefix*`, `message:word`); if it is not
    valid FTS5 (`c++`, `don't`), its words are searched for as plain terms instead.
    """
    where, args = _where(filters)
    condition = where.replace(" WHERE ", " AND ", 1)
    sql = (
        f"SELECT {', '.join('a.' + c for c in COLUMNS)},"
        f" snippet(answers_fts, -1, '{MARK_START}', '{MARK_END}', '…', 16)"
        f" FROM answers_fts JOIN answers a ON a.rowid = answers_fts.rowid"
        f" WHERE answers_fts MATCH ?{condition} ORDER BY answers_fts.rank LIMIT ?"
    )
    try:
        rows = conn.execute(sql, (query, *args, filters.limit)).fetchall()
    except sqlite3.OperationalError:  # not FTS5 syntax ("c++", "don't", "a:b", an unclosed quote)
        rows = conn.execute(sql, (plain_terms(query), *args, filters.limit)).fetchall()
    out = []
    for values in rows:
        row = _row(values[:-1])
        row["snippet"] = values[-1]
        out.append(row)
    return out


def plain_terms(query: str) -> str:
    """Every word of `query` as a quoted FTS5 string (all must match)."""
    terms = ['"' + word.replace('"', '""') + '"' for word in query.split()]
    return " ".join(terms) or '""'


_COUNTS = (
    "answers",
    "complete",
    "partial",
    "failed",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
)


def stats(conn: sqlite3.Connection, since: float | None) -> dict[str, list[dict[str, Any]]]:
    """Answers and tokens by model and by (local) day, each row with how many came from `cvstream batch`.

    Each row keeps its `parts`, (model, from a batch, counts), for `add_costs`: a batch answer costs less.
    Two scans of small indexes, never of the answers: all answers, then the batch ones (`answers_batch`)."""
    where = " AND created >= ?" if since is not None else ""
    args: tuple[Any, ...] = (since,) if since is not None else ()
    select = (
        "SELECT date(created, 'unixepoch', 'localtime'), model, COUNT(*), SUM(status = 'complete'),"
        " SUM(status = 'partial'), SUM(status = 'failed'), SUM(input_tokens), SUM(output_tokens),"
        " SUM(cache_read_tokens), SUM(cache_write_tokens) FROM answers WHERE {}" + where + " GROUP BY 1, 2"
    )
    batch = {(r[0], r[1]): _counts(r[2:]) for r in conn.execute(select.format("command = 'batch'"), args)}
    models: dict[str, dict[str, Any]] = {}
    days: dict[str, dict[str, Any]] = {}
    for day, model, *values in conn.execute(select.format("1"), args):
        every = _counts(values)
        batched = batch.get((day, model), dict.fromkeys(_COUNTS, 0))
        one_by_one = {name: every[name] - batched[name] for name in _COUNTS}
        parts = [(model, kind, counts) for kind, counts in ((False, one_by_one), (True, batched)) if counts["answers"]]
        for key, table, name in ((model, models, "model"), (day, days, "day")):
            row = table.setdefault(key, {name: key, **dict.fromkeys(_COUNTS, 0), "batch": 0, "parts": []})
            for count, value in every.items():
                row[count] += value
            row["batch"] += batched["answers"]
            row["parts"] += parts
    by_model = sorted(models.values(), key=lambda r: (-r["answers"], r["model"]))
    return {"by_model": by_model, "by_day": sorted(days.values(), key=lambda r: str(r["day"]), reverse=True)}


def _counts(values: Any) -> dict[str, int]:
    return dict(zip(_COUNTS, (int(v or 0) for v in values), strict=True))


def add_costs(
    result: dict[str, list[dict[str, Any]]], cost: Callable[[str, bool, dict[str, Any]], float | None]
) -> None:
    """Give every row a `cost` (dollars; None when a model in it has no price) from `cost(model, batch, counts)`."""
    for row in (*result["by_model"], *result["by_day"]):
        costs = [cost(model, batch, counts) for model, batch, counts in row.pop("parts")]
        row["cost"] = None if any(c is None for c in costs) else sum(c for c in costs if c is not None)


def delete(conn: sqlite3.Connection, answer_ids: list[str]) -> int:
    with write_transaction(conn):
        return sum(conn.execute("DELETE FROM answers WHERE id = ?", (i,)).rowcount for i in answer_ids)


def delete_conversation(conn: sqlite3.Connection, conversation_id: str) -> int:
    return conn.execute("DELETE FROM answers WHERE conversation_id = ?", (conversation_id,)).rowcount


def count_older(conn: sqlite3.Connection, before: float) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM answers WHERE created < ?", (before,)).fetchone()[0])


def prune(conn: sqlite3.Connection, before: float) -> int:
    """Delete every answer older than `before`, then give the space back (checkpoint and vacuum)."""
    count = conn.execute("DELETE FROM answers WHERE created < ?", (before,)).rowcount
    if count:
        conn.execute("INSERT INTO answers_fts (answers_fts) VALUES ('optimize')")
        conn.execute("VACUUM")
    return count


_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)\s*$", re.I)
_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_when(text: str, now: float | None = None) -> float:
    """`2h`, `3d`, `1w` (that long ago), or a date `2026-11-01` / date-time (local time) -> unix time."""
    now = time.time() if now is None else now
    match = _SPAN.match(text)
    if match:
        return now - float(match.group(1)) * _SECONDS[match.group(2).lower()]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(f"{text!r} is not a time span (30m, 2h, 3d, 1w) or a date (2026-11-01)") from None


def parse_span(text: str) -> float:
    """`90d`, `12h`, `2w` -> seconds."""
    match = _SPAN.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a time span (30m, 12h, 90d, 2w)")
    return float(match.group(1)) * _SECONDS[match.group(2).lower()]
