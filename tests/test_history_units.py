"""Pure parts of the history and the mock's prompt-cache accounting."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from cvstream.history.queries import parse_span, parse_when, plain_terms
from cvstream.history.store import new_id
from cvstream.mock.caching import CacheUse, cache_use, min_cacheable
from cvstream.source import Request


def test_ids_sort_by_time_and_are_unique() -> None:
    ids = [new_id(1_700_000_000 + i / 1000) for i in range(200)]
    assert ids == sorted(ids) and len(set(ids)) == 200 and all(len(i) == 26 for i in ids)
    assert new_id(1_700_000_001) > new_id(1_700_000_000)


def test_time_spans_and_dates() -> None:
    now = 1_800_000_000.0
    assert parse_when("2h", now) == now - 7200 and parse_when("3d", now) == now - 3 * 86400
    assert parse_when("90 min", now) == now - 5400 and parse_when("1w", now) == now - 7 * 86400
    assert parse_when("2026-11-01") == time.mktime((2026, 11, 1, 0, 0, 0, 0, 0, -1))
    assert parse_span("90d") == 90 * 86400
    with pytest.raises(ValueError, match="not a time span"):
        parse_when("yesterday")
    with pytest.raises(ValueError):
        parse_span("2026-11-01")


def test_plain_terms_quote_every_word() -> None:
    assert plain_terms('c++ "quoted" don\'t') == '"c++" """quoted""" "don\'t"'
    assert plain_terms("   ") == '""'


def test_continue_messages_put_one_breakpoint_on_the_last_earlier_turn() -> None:
    request = Request(model="m", max_tokens=10, user="third", history=(("first", "one"), ("second", "two")))
    assert request.params()["messages"] == [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": [{"type": "text", "text": "one"}]},
        {"role": "user", "content": "second"},
        {"role": "assistant", "content": [{"type": "text", "text": "two", "cache_control": {"type": "ephemeral"}}]},
        {"role": "user", "content": "third"},
    ]
    assert Request(model="m", max_tokens=10, user="hi").params()["messages"] == [{"role": "user", "content": "hi"}]


def _turns(*pairs: tuple[str, str], last: str = "next") -> dict[str, object]:
    request = Request(model="claude-sonnet-4-5", max_tokens=10, user=last, history=pairs)
    return request.params()


def test_cache_written_once_then_read_with_look_back() -> None:
    cache: dict[str, float] = {}
    long_turn = ("u" * 4000, "a" * 400)  # 1,100 tokens by the mock's characters / 4
    first = cache_use(_turns(long_turn), cache, now=0.0)
    assert first == CacheUse(read=0, write=1100)
    again = cache_use(_turns(long_turn, last="other"), cache, now=1.0)
    assert again == CacheUse(read=1100, write=0)  # the same prefix: read
    longer = cache_use(_turns(long_turn, ("more", "text")), cache, now=2.0)
    assert longer == CacheUse(read=1100, write=2)  # an earlier boundary is read, only the new turn written
    assert cache_use(_turns(long_turn), cache, now=2.0 + 299).read == 1100  # each read renews the 5 minutes
    assert cache_use(_turns(long_turn), {}, now=0.0).write == 1100


def test_cache_needs_the_minimum_length_and_a_breakpoint() -> None:
    assert cache_use(_turns(("u" * 100, "a" * 100)), {}, now=0.0) == CacheUse()
    assert cache_use({"model": "m", "messages": [{"role": "user", "content": "x" * 10_000}]}, {}, 0.0) == CacheUse()
    assert min_cacheable("claude-haiku-4-5") == 4096 and min_cacheable("claude-sonnet-5-5") == 1024
    expired: dict[str, float] = {}
    cache_use(_turns(("u" * 4000, "a" * 400)), expired, now=0.0)
    assert cache_use(_turns(("u" * 4000, "a" * 400)), expired, now=400.0) == CacheUse(read=0, write=1100)


def test_full_text_index_stays_exact_through_progress_kills_and_deletes(tmp_path: Path) -> None:
    from cvstream.events import Event, MessageStarted, MessageStopped, TextDelta, UsageUpdate
    from cvstream.history.db import connect
    from cvstream.history.queries import Filters, delete, prune, search
    from cvstream.history.store import AnswerMeta, Recorder
    from cvstream.usage import Summary

    recorder = Recorder(tmp_path / "history.db", print)
    for message, words, finished in (("one", "alpha beta", True), ("two", "gamma delta", False), ("3", "eps", True)):
        recording = recorder.recording(AnswerMeta(None, "ask", None, "m", "create", None, message))
        summary = Summary(started_at=0.0)
        events: list[Event] = [MessageStarted("m", "id", UsageUpdate()), *map(TextDelta, words.split())]
        for i, event in enumerate(events):
            recording.event(event, float(i * 3))  # every event after 2 s: a progress write each time
            summary.fold(event, float(i * 3))
        if finished:  # the second is left as SIGKILL leaves it: text written, never ended
            summary.fold(MessageStopped(), 9.0)
            recording.end(summary, None)
    recorder.close()
    conn = connect(tmp_path / "history.db")
    try:
        assert [r["message"] for r in search(conn, "alphabeta", Filters())] == ["one"]
        assert search(conn, "gammadelta", Filters()) == [] and search(conn, "two", Filters())  # message only
        ids = {r["message"]: r["id"] for r in search(conn, "one OR two OR 3", Filters())}
        assert delete(conn, [ids["two"], ids["one"]]) == 2
        conn.execute("INSERT INTO answers_fts (answers_fts) VALUES ('integrity-check')")  # raises if inexact
        assert prune(conn, before=time.time() + 1) == 1
        conn.execute("INSERT INTO answers_fts (answers_fts) VALUES ('integrity-check')")
    finally:
        conn.close()


def test_an_answer_removed_while_it_streams_ends_without_a_row_a_listing_or_a_warning(tmp_path: Path) -> None:
    """`log rm` in another process while the answer streams: its progress and its end then find no row, and
    the end's listing delete finds nothing to index; the index stays exact and nothing is recorded again."""
    from cvstream.events import MessageStopped, TextDelta
    from cvstream.history.db import connect
    from cvstream.history.queries import Filters, delete, search
    from cvstream.history.store import AnswerMeta, Recorder
    from cvstream.usage import Summary

    warnings: list[str] = []
    recorder = Recorder(tmp_path / "history.db", warnings.append)
    recording = recorder.recording(AnswerMeta(None, "ask", None, "m", "create", None, "the question"))
    summary = Summary(started_at=0.0)
    other = connect(tmp_path / "history.db")  # the `log rm`
    try:
        for i, word in enumerate(("zebras ", "stripes")):
            recording.event(TextDelta(word), float(i * 3))  # the row, then a progress write
            summary.fold(TextDelta(word), float(i * 3))
        assert other.execute("SELECT id FROM answers_unindexed").fetchall() == [(recording.id,)]
        assert delete(other, [recording.id]) == 1
        recording.event(TextDelta(" more"), 6.0)  # a progress write of a removed row
        summary.fold(MessageStopped(), 9.0)
        recording.end(summary, None)
        recorder.close()
        assert warnings == []
        assert other.execute("SELECT count(*) FROM answers").fetchone()[0] == 0
        assert other.execute("SELECT count(*) FROM answers_unindexed").fetchone()[0] == 0
        assert search(other, "zebras OR question", Filters()) == []
        other.execute("INSERT INTO answers_fts (answers_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        other.close()


def test_a_row_inserted_streaming_is_listed_by_the_database_itself(tmp_path: Path) -> None:
    """Whoever inserts it (this cvstream, or an older one still running after the migration), a `partial` row
    is kept out of the answer index until its listing is deleted; a batch result (complete, failed) is not."""
    from cvstream.history.db import connect

    conn = connect(tmp_path / "history.db")
    try:
        insert = (
            "INSERT INTO answers (id, conversation_id, created, command, model, message, answer, status)"
            " VALUES (?, ?, 0, 'ask', 'm', ?, ?, ?)"
        )
        for answer_id, status in (("s", "partial"), ("c", "complete"), ("f", "failed")):
            conn.execute(insert, (answer_id, answer_id, f"question {answer_id}", f"answer{answer_id} text", status))
        assert conn.execute("SELECT id FROM answers_unindexed").fetchall() == [("s",)]

        def found(query: str) -> list[int]:
            return [r[0] for r in conn.execute("SELECT rowid FROM answers_fts WHERE answers_fts MATCH ?", (query,))]

        assert found("answers") == [] and found("answerc") == [2] and found("answerf") == [3]
        assert found("question") == [1, 2, 3]
        conn.execute("DELETE FROM answers_unindexed WHERE id = 's'")  # the answer ended
        assert found("answers") == [1]
        conn.execute("INSERT INTO answers_fts (answers_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()


def test_an_answer_whose_index_write_failed_is_said_recorded_and_indexed_by_the_next_run(tmp_path: Path) -> None:
    """The end's index write can fail after the row was written (a disk that fills up just then): the
    warning must not say the answer is lost, and the answer, ended, must not stay out of the index for good
    (it did: only its message was ever found). The failure is made by a temporary trigger on the run's own
    connection; a full disk (`PRAGMA max_page_count`) does the same, at a size that depends on SQLite."""
    from cvstream.events import MessageStopped, TextDelta
    from cvstream.history.db import connect
    from cvstream.history.queries import Filters, search
    from cvstream.history.store import AnswerMeta, Recorder
    from cvstream.usage import Summary

    path = tmp_path / "history.db"
    warnings: list[str] = []
    recorder = Recorder(path, warnings.append)
    assert recorder.connection is not None
    recorder.connection.execute(
        "CREATE TEMP TRIGGER full BEFORE DELETE ON answers_unindexed BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    recording = recorder.recording(AnswerMeta(None, "ask", None, "m", "create", None, "the question"))
    summary = Summary(started_at=0.0)
    for i, word in enumerate(("zebras ", "stripes")):
        recording.event(TextDelta(word), float(i))
        summary.fold(TextDelta(word), float(i))
    summary.fold(MessageStopped(), 3.0)
    recording.end(summary, None)
    recorder.close()
    assert warnings == [
        f"warning: the answer is recorded in {path} but not in its full-text index until the next run that records"
        " (disk full)"
    ]
    conn = connect(path)
    try:
        [row] = search(conn, "question", Filters())
        assert row["status"] == "complete" and row["answer"] == "zebras stripes"
        assert search(conn, "zebras", Filters()) == []
        Recorder(path, warnings.append).close()  # the next run
        assert [r["id"] for r in search(conn, "zebras", Filters())] == [row["id"]]
        assert conn.execute("SELECT count(*) FROM answers_unindexed").fetchone()[0] == 0
        conn.execute("INSERT INTO answers_fts (answers_fts, rank) VALUES ('integrity-check', 1)")
        assert len(warnings) == 1
    finally:
        conn.close()


def test_a_failed_write_leaves_no_half_state_and_names_its_own_reason(tmp_path: Path) -> None:
    """The row and its listing are one statement: a failure in it (here a trigger's error on the listing, as
    a full disk would) leaves neither. A failure that makes SQLite roll the whole transaction back itself (a
    full disk at a cache spill, out of memory; here `RAISE(ROLLBACK)`) warns with that reason, not with
    "cannot rollback - no transaction is active" from the ROLLBACK after it."""
    from cvstream.events import TextDelta
    from cvstream.history.db import connect
    from cvstream.history.queries import delete
    from cvstream.history.store import AnswerMeta, Recorder

    path = tmp_path / "history.db"
    for action in ("ABORT", "ROLLBACK"):
        warnings: list[str] = []
        recorder = Recorder(path, warnings.append)
        assert recorder.connection is not None
        recorder.connection.execute(
            f"CREATE TEMP TRIGGER full BEFORE INSERT ON answers_unindexed BEGIN SELECT RAISE({action}, 'full'); END"
        )
        recorder.recording(AnswerMeta(None, "ask", None, "m", "create", None, "q")).event(TextDelta("a"), 0.0)
        recorder.close()
        assert warnings == [f"warning: the answer is not recorded in {path} (full)"]
    warnings = []
    recorder = Recorder(path, warnings.append)
    assert recorder.connection is not None
    recorder.connection.execute(
        "CREATE TEMP TRIGGER full AFTER INSERT ON answers WHEN new.id = 'b2' BEGIN SELECT RAISE(ROLLBACK, 'full'); END"
    )
    insert = (
        "INSERT INTO answers (id, conversation_id, created, command, model, message, answer, status)"
        " VALUES (?, ?, 0, 'batch', 'm', 'q', 'text', 'complete')"
    )
    assert not recorder.write_many(insert, [("b1", "b1"), ("b2", "b2")])  # a batch's chunk: all or nothing
    recorder.close()
    assert warnings == [f"warning: the answer is not recorded in {path} (full)"]
    conn = connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM answers").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM answers_unindexed").fetchone()[0] == 0
        conn.execute("INSERT INTO answers_fts (answers_fts, rank) VALUES ('integrity-check', 1)")
        conn.execute(insert, ("c1", "c1"))
        conn.execute("CREATE TEMP TRIGGER full BEFORE DELETE ON answers BEGIN SELECT RAISE(ROLLBACK, 'full'); END")
        with pytest.raises(sqlite3.Error, match=r"^full$"):  # `log rm` says why
            delete(conn, ["c1"])
        assert not conn.in_transaction
    finally:
        conn.close()
