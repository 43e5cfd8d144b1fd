"""History end to end: every answer recorded (complete, partial, failed), the off switches, a database
that cannot be written, permissions, and a migration from the first schema."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from cvstream.history.db import SCHEMA_VERSION
from cvstream.history.store import new_id
from cvstream.mock.server import MockServer
from tests.conftest import FAKE_KEY, Result

Cli = Callable[..., Result]


def db_file(home: Path) -> Path:
    return home.parent / "cvstream-data" / "history.db"  # CVSTREAM_HOME of the cli fixture


def rows(home: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db_file(home))
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM answers ORDER BY id")]
    finally:
        conn.close()


def test_complete_answer_is_recorded_with_every_field(cli: Cli, mock: MockServer, home: Path) -> None:
    result = cli("ask", "--system", "be brief", "--effort", "low", "what is SSE?", base_url=mock.base_url)
    assert result.code == 0
    [row] = rows(home)
    assert row["status"] == "complete" and row["command"] == "ask" and row["label"] is None
    assert row["message"] == "what is SSE?" and row["system"] == "be brief"
    assert row["answer"] == result.out  # the text exactly as it was streamed
    assert row["conversation_id"] == row["id"] and len(row["id"]) == 26
    assert row["stop_reason"] == "end_turn" and row["error_kind"] is None
    assert row["input_tokens"] > 0 and row["output_tokens"] > 0 and row["ttft"] > 0 and row["duration"] > 0
    params = json.loads(row["params"])
    assert params == {"max_tokens": 1024, "method": "create", "model": row["model"], "output_config": {"effort": "low"}}
    assert FAKE_KEY not in json.dumps(row)


def test_thinking_is_recorded_apart_from_the_answer(cli: Cli, mock: MockServer, home: Path) -> None:
    assert cli("ask", "--thinking", "--method", "stream", "hi", base_url=mock.base_url).code == 0
    [row] = rows(home)
    assert row["thinking"] == "Let me look at what this request carries." and "Let me" not in row["answer"]
    assert row["method"] == "stream"


def test_failure_before_the_answer_is_recorded_as_failed(
    cli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = mock_server(fault="http400")
    result = cli("ask", "hi", base_url=server.base_url)
    assert result.code == 1
    [row] = rows(home)
    assert row["status"] == "failed" and row["answer"] == "" and row["error_kind"] == "api"
    assert "HTTP 400" in row["error_message"] and row["message"] == "hi"


def test_failure_mid_answer_keeps_the_text_as_partial(
    cli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    server = mock_server(fault="error_event", fault_after=3)
    result = cli("ask", "hi", base_url=server.base_url)
    assert result.code == 4
    [row] = rows(home)
    assert row["status"] == "partial" and row["answer"] == result.out and row["answer"]
    assert row["error_kind"] == "overloaded" and "overloaded_error" in row["error_message"]


def test_enhance_records_one_answer_per_file_with_its_name(cli: Cli, mock: MockServer, home: Path) -> None:
    for name in ("a.txt", "b.txt", "c.txt"):
        (home / name).write_text(f"- led the {name} project\n")
    result = cli("enhance", "a.txt", "b.txt", "c.txt", "--jobs", "2", base_url=mock.base_url)
    assert result.code == 0
    recorded = rows(home)
    assert sorted(r["label"] for r in recorded) == ["a.txt", "b.txt", "c.txt"]
    assert {r["status"] for r in recorded} == {"complete"} and {r["command"] for r in recorded} == {"enhance"}
    assert all(r["answer"] and r["answer"] in result.out for r in recorded)
    assert len({r["conversation_id"] for r in recorded}) == 3  # each input is its own conversation


def test_out_dir_answers_are_recorded(cli: Cli, mock: MockServer, home: Path) -> None:
    (home / "a.txt").write_text("- wrote code\n")
    (home / "b.txt").write_text("- fixed bugs\n")
    assert cli("enhance", "a.txt", "b.txt", "-o", "out", base_url=mock.base_url).code == 0
    recorded = {r["label"]: r for r in rows(home)}
    assert recorded["a.txt"]["answer"] == (home / "out" / "a.md").read_text()
    assert recorded["b.txt"]["status"] == "complete"


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--no-log"], {}), ([], {"CVSTREAM_LOG": "0"}), ([], {"CVSTREAM_LOG": "off"})],
    ids=["--no-log", "CVSTREAM_LOG=0", "CVSTREAM_LOG=off"],
)
def test_off_switches_record_nothing(
    cli: Cli, mock: MockServer, home: Path, args: list[str], env: dict[str, str]
) -> None:
    assert cli("ask", "hi", *args, base_url=mock.base_url, env=env).code == 0
    assert not db_file(home).exists()


def test_log_off_and_on_persist_beside_the_database(cli: Cli, mock: MockServer, home: Path) -> None:
    off = cli("log", "off")
    assert off.code == 0 and "logging is off" in off.stderr
    assert (db_file(home).parent / "settings.json").exists()
    assert cli("ask", "one", base_url=mock.base_url).code == 0
    assert not db_file(home).exists()
    assert re.search(r"^logging +off  \(cvstream log off\)$", cli("config").out, re.M)
    assert cli("log", "on").code == 0
    assert cli("ask", "two", base_url=mock.base_url).code == 0
    assert [r["message"] for r in rows(home)] == ["two"]
    assert re.search(r"^logging +on  \(cvstream log on\)$", cli("config").out, re.M)


def test_env_var_beats_log_on_and_says_so(cli: Cli) -> None:
    result = cli("log", "on", env={"CVSTREAM_LOG": "0"})
    assert "note: CVSTREAM_LOG overrides it" in result.stderr


def test_config_shows_the_database_and_whether_logging_is_on(cli: Cli, home: Path) -> None:
    out = cli("config").out
    assert re.search(rf"^history +{re.escape(str(db_file(home)))}$", out, re.M)
    assert re.search(r"^logging +on  \(default\)$", out, re.M)


def test_new_directory_is_0700_and_database_0600(cli: Cli, mock: MockServer, home: Path) -> None:
    assert cli("ask", "hi", base_url=mock.base_url).code == 0
    path = db_file(home)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make `path` unwritable for this process: chmod, or for root (who ignores modes) the immutable flag."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o600)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("running as root without a working chattr: cannot make a file read-only")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_read_only_database_warns_once_and_still_streams(cli: Cli, mock: MockServer, home: Path) -> None:
    assert cli("ask", "first", base_url=mock.base_url).code == 0
    path = db_file(home)
    with read_only(path):
        result = cli("ask", "second", base_url=mock.base_url)
        listed = cli("log", "--json")
    assert result.code == 0 and "> second" in result.out
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: the answer is not recorded in {path} (attempt to write a readonly database)"]
    assert listed.code == 0 and [json.loads(line)["message"] for line in listed.out.splitlines()] == ["first"]


def test_unwritable_directory_warns_once_and_still_streams(cli: Cli, mock: MockServer, home: Path) -> None:
    blocker = home / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    result = cli("ask", "hi", base_url=mock.base_url, env={"CVSTREAM_HOME": str(blocker)})
    assert result.code == 0 and "> hi" in result.out
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and str(blocker / "history.db") in warnings[0]


def test_corrupt_database_warns_once_and_still_streams(cli: Cli, mock: MockServer, home: Path) -> None:
    path = db_file(home)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database at all" * 200)
    result = cli("ask", "hi", base_url=mock.base_url)
    assert result.code == 0 and "> hi" in result.out
    assert result.stderr.count("warning:") == 1 and "file is not a database" in result.stderr
    listed = cli("log")
    assert listed.code == 1 and listed.stderr.startswith(f"error: cannot open the history {path}")


# The first schema exactly as version 1 shipped it (kept here verbatim: the migration must upgrade it).
V1 = (
    """CREATE TABLE answers (
        id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, created REAL NOT NULL, command TEXT NOT NULL,
        label TEXT, model TEXT NOT NULL, method TEXT, system TEXT, message TEXT NOT NULL,
        answer TEXT NOT NULL DEFAULT '', thinking TEXT NOT NULL DEFAULT '', stop_reason TEXT, status TEXT NOT NULL,
        error_kind TEXT, error_message TEXT, input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0, cache_read_tokens INTEGER NOT NULL DEFAULT 0,
        cache_write_tokens INTEGER NOT NULL DEFAULT 0, ttft REAL, duration REAL, params TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX answers_conversation ON answers (conversation_id, id)",
    "CREATE INDEX answers_created ON answers (created)",
)


def test_migration_from_the_first_schema_keeps_answers_and_indexes_them(cli: Cli, mock: MockServer, home: Path) -> None:
    path = db_file(home)
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    for statement in V1:
        conn.execute(statement)
    old = new_id(1700000000.0)
    conn.execute(
        "INSERT INTO answers (id, conversation_id, created, command, model, message, answer, status)"
        " VALUES (?, ?, 1700000000, 'ask', 'claude-x', 'an old question', 'an old answer about zebras', 'complete')",
        (old, old),
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    found = cli("log", "search", "zebras", "--json")
    assert found.code == 0
    assert [json.loads(line)["id"] for line in found.out.splitlines()] == [old]
    assert cli("ask", "a new question", base_url=mock.base_url).code == 0
    assert [r["message"] for r in rows(home)] == ["an old question", "a new question"]
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()


def test_migration_from_schema_3_keeps_unfinished_answers_out_of_the_index(
    cli: Cli, mock: MockServer, home: Path
) -> None:
    """Schema 4 lists the answers not yet indexed in a table of their own; an answer a SIGKILL left
    unindexed under schema 3 stays findable by its message only, and new answers are indexed when they end."""
    from cvstream.history.db import MIGRATIONS

    path = db_file(home)
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in (s for step in MIGRATIONS[:3] for s in step):  # migrations only ever append
        conn.execute(statement)
    done, cut = new_id(1700000000.0), new_id(1700000001.0)
    for answer_id, message, answer, indexed in ((done, "q one", "zebras", 1), (cut, "q two", "giraffes", 0)):
        conn.execute(
            "INSERT INTO answers (id, conversation_id, created, command, model, message, answer, status, indexed)"
            " VALUES (?, ?, 1700000000, 'ask', 'claude-x', ?, ?, 'partial', ?)",
            (answer_id, answer_id, message, answer, indexed),
        )
    conn.execute("PRAGMA user_version = 3")
    conn.close()

    def found(query: str) -> list[str]:
        result = cli("log", "search", query, "--json")
        assert result.code == 0, result.stderr
        return [json.loads(line)["message"] for line in result.out.splitlines()]

    assert found("zebras") == ["q one"] and found("giraffes") == [] and found("two") == ["q two"]
    assert cli("ask", "hippos", base_url=mock.base_url).code == 0  # the mock's answer echoes "> hippos"
    assert found("hippos") == ["hippos"]
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT id FROM answers_unindexed").fetchall() == [(cut,)]
        assert cli("log", "rm", cut).code == 0
        assert conn.execute("SELECT count(*) FROM answers_unindexed").fetchone()[0] == 0
        conn.execute("INSERT INTO answers_fts (answers_fts, rank) VALUES ('integrity-check', 1)")  # index = rows
    finally:
        conn.close()


@pytest.mark.parametrize("schema", [2, 3, 4])
def test_an_older_cvstream_still_recording_when_the_file_is_migrated_keeps_the_index_exact(
    cli: Cli, home: Path, schema: int
) -> None:
    """A long run of an older cvstream (a `serve --log` started before the upgrade) goes on writing with its
    own statements after a newer cvstream migrated the file: an answer it began before the migration and one
    it begins after are found by their text once it marks them indexed (schema 2's code did it in the row's
    last update, schema 3's in a statement of its own, schema 4's by deleting the listing it inserted with the
    row), and `log rm` and `log prune` work. Unlisted, a schema-3 row's rewritten text once "deleted" from the
    index what the index never held: FTS5 then called the file malformed, and `log rm` failed."""
    from cvstream.history.db import MIGRATIONS

    path = db_file(home)
    path.parent.mkdir(parents=True)
    old = sqlite3.connect(path, isolation_level=None)  # the older process: its connection, its statements
    for statement in (s for step in MIGRATIONS[:schema] for s in step):  # migrations only ever append
        old.execute(statement)
    old.execute(f"PRAGMA user_version = {schema}")
    insert = (
        "INSERT INTO answers (id, conversation_id, created, command, model, message, answer, thinking, status,"
        " params) VALUES (?, ?, 1700000000, 'serve', 'claude-x', ?, '', '', 'partial', '{}')"
    )
    before, after = new_id(1700000000.0), new_id(1700000001.0)

    def begin(answer_id: str, message: str) -> None:
        old.execute("BEGIN IMMEDIATE")
        if schema == 4:
            old.execute("INSERT INTO answers_unindexed (id) VALUES (?)", (answer_id,))
        old.execute(insert, (answer_id, answer_id, message))
        old.execute("COMMIT")

    begin(before, "question one")

    def search(query: str) -> list[str]:
        result = cli("log", "search", query, "--json")  # (the first one migrates the file)
        assert result.code == 0, result.stderr
        return [json.loads(line)["message"] for line in result.out.splitlines()]

    assert search("one") == ["question one"]
    begin(after, "question two")
    for answer_id, text in ((before, "zebras are striped"), (after, "giraffes are tall")):
        old.execute("UPDATE answers SET answer = ?, thinking = '' WHERE id = ?", (text[:6], answer_id))
        if schema == 2:
            end = "UPDATE answers SET answer = ?, status = 'complete', indexed = 1 WHERE id = ?"
            old.execute(end, (text, answer_id))
        else:
            old.execute("UPDATE answers SET answer = ?, status = 'complete' WHERE id = ?", (text, answer_id))
            index = "UPDATE answers SET indexed = 1" if schema == 3 else "DELETE FROM answers_unindexed"
            old.execute(f"{index} WHERE id = ?", (answer_id,))
    assert search("zebras") == ["question one"] and search("giraffes") == ["question two"]
    old.execute("INSERT INTO answers_fts (answers_fts, rank) VALUES ('integrity-check', 1)")  # index = rows
    assert old.execute("SELECT count(*) FROM answers_unindexed").fetchone()[0] == 0
    removed = cli("log", "rm", before)
    assert removed.code == 0, removed.stderr
    assert cli("log", "prune", "--older-than", "1d", "--yes").code == 0
    assert old.execute("SELECT count(*) FROM answers").fetchone()[0] == 0
    old.execute("INSERT INTO answers_fts (answers_fts, rank) VALUES ('integrity-check', 1)")
    assert old.execute("SELECT count(*) FROM answers_unindexed").fetchone()[0] == 0
    old.close()


def test_database_from_a_newer_cvstream_is_left_alone(cli: Cli, mock: MockServer, home: Path) -> None:
    path = db_file(home)
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    result = cli("ask", "hi", base_url=mock.base_url)
    assert result.code == 0 and "written by a newer cvstream (schema 99" in result.stderr
