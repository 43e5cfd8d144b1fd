"""--continue / --cid: the earlier turns go out as `messages` (checked as the mock received them), the
conversation's system text and model carry over, and follow-ups read the conversation from the cache."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cvstream.mock.server import MockServer
from tests.conftest import Result
from tests.test_history import db_file, rows

Cli = Callable[..., Result]
BREAKPOINT = {"type": "ephemeral"}


def sent(mock: MockServer, index: int = -1) -> dict[str, Any]:
    body = mock.records[index].body
    assert body is not None
    return body


def test_continue_sends_the_earlier_turns_with_a_cache_breakpoint(cli: Cli, mock: MockServer, home: Path) -> None:
    first = cli("ask", "name three rivers", base_url=mock.base_url)
    second = cli("ask", "-c", "now three lakes", base_url=mock.base_url)
    third = cli("ask", "--continue", "and three seas", base_url=mock.base_url)
    assert (first.code, second.code, third.code) == (0, 0, 0)
    assert sent(mock, 0)["messages"] == [{"role": "user", "content": "name three rivers"}]
    assert sent(mock, 2)["messages"] == [
        {"role": "user", "content": "name three rivers"},
        {"role": "assistant", "content": [{"type": "text", "text": first.out}]},
        {"role": "user", "content": "now three lakes"},
        {"role": "assistant", "content": [{"type": "text", "text": second.out, "cache_control": BREAKPOINT}]},
        {"role": "user", "content": "and three seas"},
    ]
    recorded = rows(home)
    assert len({r["conversation_id"] for r in recorded}) == 1 and recorded[0]["conversation_id"] == recorded[0]["id"]


def test_a_new_ask_starts_a_new_conversation(cli: Cli, mock: MockServer, home: Path) -> None:
    cli("ask", "one", base_url=mock.base_url)
    cli("ask", "two", base_url=mock.base_url)
    assert sent(mock)["messages"] == [{"role": "user", "content": "two"}]
    assert len({r["conversation_id"] for r in rows(home)}) == 2


def test_cid_continues_a_chosen_conversation_by_unique_prefix(cli: Cli, mock: MockServer, home: Path) -> None:
    cli("ask", "about cats", base_url=mock.base_url)
    cli("ask", "about dogs", base_url=mock.base_url)
    cats = rows(home)[0]["conversation_id"]
    assert cli("ask", "--cid", cats[:14].upper(), "more", base_url=mock.base_url).code == 0
    assert [m["content"] for m in sent(mock)["messages"][::2]] == ["about cats", "more"]
    assert rows(home)[-1]["conversation_id"] == cats


def test_unknown_or_ambiguous_cid_is_a_usage_error(cli: Cli, mock: MockServer) -> None:
    cli("ask", "a", base_url=mock.base_url)
    cli("ask", "b", base_url=mock.base_url)
    unknown = cli("ask", "--cid", "zzzz", "x", base_url=mock.base_url)
    assert unknown.code == 2 and "no conversation has an id starting with 'zzzz'" in unknown.stderr
    ambiguous = cli("ask", "--cid", "0", "x", base_url=mock.base_url)
    assert ambiguous.code == 2 and "matches more than one conversation" in ambiguous.stderr
    assert len(mock.records) == 2  # nothing was sent


def test_continue_with_nothing_recorded_is_a_usage_error(cli: Cli, mock: MockServer) -> None:
    result = cli("ask", "-c", "hi", base_url=mock.base_url)
    assert result.code == 2 and result.stderr.startswith("error: cannot continue: no conversation is recorded yet")
    assert mock.records == []


def test_continue_is_refused_with_several_inputs(cli: Cli, mock: MockServer, home: Path) -> None:
    cli("ask", "hi", base_url=mock.base_url)
    (home / "a.txt").write_text("- a\n")
    (home / "b.txt").write_text("- b\n")
    result = cli("enhance", "-c", "a.txt", "b.txt", base_url=mock.base_url)
    assert result.code == 2 and "which conversation would each continue?" in result.stderr
    assert len(mock.records) == 1


def test_ask_continues_an_enhance_conversation_keeping_its_system_text(cli: Cli, mock: MockServer, home: Path) -> None:
    (home / "cv.txt").write_text("- managed a team of five\n")
    enhanced = cli("enhance", "cv.txt", base_url=mock.base_url)
    followup = cli("ask", "-c", "make the third bullet shorter", base_url=mock.base_url)
    assert enhanced.code == 0 and followup.code == 0
    first, second = sent(mock, 0), sent(mock, 1)
    assert second["system"] == first["system"] and "bullet" in second["system"]
    assert second["messages"][0]["content"] == first["messages"][0]["content"]
    assert second["messages"][1]["content"][0]["text"] == enhanced.out
    assert [r["command"] for r in rows(home)] == ["enhance", "ask"]


def test_system_flag_overrides_the_conversation_system_text(cli: Cli, mock: MockServer) -> None:
    cli("ask", "--system", "be terse", "hi", base_url=mock.base_url)
    cli("ask", "-c", "again", base_url=mock.base_url)
    cli("ask", "-c", "--system", "be verbose", "once more", base_url=mock.base_url)
    assert [sent(mock, i).get("system") for i in range(3)] == ["be terse", "be terse", "be verbose"]


def test_continue_keeps_the_conversation_model_unless_one_is_chosen(cli: Cli, mock: MockServer) -> None:
    cli("ask", "-m", "claude-haiku-4-5", "hi", base_url=mock.base_url)
    cli("ask", "-c", "again", base_url=mock.base_url)
    cli("ask", "-c", "-m", "claude-opus-4-1", "once more", base_url=mock.base_url)
    assert [sent(mock, i)["model"] for i in range(3)] == ["claude-haiku-4-5", "claude-haiku-4-5", "claude-opus-4-1"]


def test_partial_earlier_answer_is_sent_as_received_with_a_note(
    cli: Cli, mock_server: Callable[..., MockServer], home: Path
) -> None:
    broken = mock_server(fault="truncate", fault_after=4)
    cut = cli("ask", "tell me a story", base_url=broken.base_url)
    assert cut.code == 6 and rows(home)[0]["status"] == "partial"
    good = mock_server()
    result = cli("ask", "-c", "go on", base_url=good.base_url)
    assert result.code == 0
    answer_id = rows(home)[0]["id"]
    assert f"note: the earlier answer {answer_id[:12]} is partial; it is sent as it was received" in result.stderr
    assert sent(good)["messages"][1]["content"][0]["text"] == cut.out


def test_failed_turn_without_text_is_not_sent(cli: Cli, mock_server: Callable[..., MockServer]) -> None:
    good = mock_server()
    cli("ask", "first", base_url=good.base_url)
    failing = mock_server(fault="http500")
    assert cli("ask", "-c", "second", "--max-retries", "0", base_url=failing.base_url).code == 1
    cli("ask", "-c", "third", base_url=good.base_url)
    assert [m["content"] for m in sent(good)["messages"][::2]] == ["first", "third"]


def test_follow_ups_read_the_conversation_from_the_prompt_cache(cli: Cli, mock: MockServer, home: Path) -> None:
    document = "lorem ipsum dolor sit amet " * 200  # ~1,350 tokens: above the 1,024-token minimum
    turn1 = cli("ask", "summarise", stdin=document.encode(), base_url=mock.base_url)
    turn2 = cli("ask", "-c", "shorter", base_url=mock.base_url)
    turn3 = cli("ask", "-c", "shorter still", base_url=mock.base_url)
    assert (turn1.code, turn2.code, turn3.code) == (0, 0, 0)
    recorded = rows(home)
    assert (recorded[0]["cache_read_tokens"], recorded[0]["cache_write_tokens"]) == (0, 0)
    written = recorded[1]["cache_write_tokens"]
    assert written > 1024 and recorded[1]["cache_read_tokens"] == 0  # turn 2 writes the conversation so far
    assert recorded[2]["cache_read_tokens"] == written  # turn 3 reads it, and writes only turn 2
    assert 0 < recorded[2]["cache_write_tokens"] < written
    assert f"cache {written:,} read" in turn3.stderr  # the usage line shows it


def test_short_conversation_is_below_the_minimum_and_not_cached(cli: Cli, mock: MockServer, home: Path) -> None:
    cli("ask", "hi", base_url=mock.base_url)
    cli("ask", "-c", "again", base_url=mock.base_url)
    cli("ask", "-c", "and again", base_url=mock.base_url)
    assert all(r["cache_read_tokens"] == r["cache_write_tokens"] == 0 for r in rows(home))


def test_continue_works_with_logging_off_and_records_nothing_new(cli: Cli, mock: MockServer, home: Path) -> None:
    cli("ask", "hi", base_url=mock.base_url)
    assert cli("ask", "-c", "--no-log", "again", base_url=mock.base_url).code == 0
    assert len(sent(mock)["messages"]) == 3 and len(rows(home)) == 1
    conn = sqlite3.connect(db_file(home))
    try:
        assert json.loads(conn.execute("SELECT params FROM answers").fetchone()[0])["max_tokens"] == 1024
    finally:
        conn.close()
