"""`cvstream log` and its subcommands against a history recorded through the real entry point."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cvstream.mock.server import MockServer
from tests.conftest import Result
from tests.test_history import db_file, rows

Cli = Callable[..., Result]


def ndjson(result: Result) -> list[dict[str, Any]]:
    assert result.code == 0, result.stderr
    return [json.loads(line) for line in result.out.splitlines()]


def plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def age(home: Path, message: str, days: float) -> None:
    conn = sqlite3.connect(db_file(home))
    conn.execute("UPDATE answers SET created = ? WHERE message = ?", (time.time() - days * 86400, message))
    conn.commit()
    conn.close()


def test_log_lists_newest_first_as_ndjson_in_a_pipe(cli: Cli, mock: MockServer) -> None:
    for word in ("alpha", "beta", "gamma"):
        cli("ask", word, base_url=mock.base_url)
    listed = ndjson(cli("log"))
    assert [r["message"] for r in listed] == ["gamma", "beta", "alpha"]
    assert set(listed[0]) >= {"id", "conversation_id", "answer", "thinking", "params", "ttft", "cache_read_tokens"}
    assert [r["message"] for r in ndjson(cli("log", "-n", "2"))] == ["gamma", "beta"]


def test_log_table_on_a_terminal(cli: Cli, mock: MockServer, home: Path) -> None:
    cli("ask", "first line of the question\nsecond line", base_url=mock.base_url)
    result = cli("log", tty=True, columns=140)
    assert result.code == 0
    lines = plain(result.out).splitlines()
    assert lines[0].split() == ["time", "id", "command", "model", "status", "in/out", "message"]
    row = rows(home)[0]
    assert row["id"][:12] in lines[1] and "complete" in lines[1] and "first line of the question" in lines[1]
    assert "second line" not in result.out
    assert cli("log", "--json", tty=True).out.startswith("{")
    # Narrow: a column that does not fit whole is left out, never cut to "e…"; the time, the id (what
    # `log show` takes), the status and the message stay.
    for columns, headers in (
        (100, ["time", "id", "command", "model", "status", "in/out", "message"]),
        (80, ["time", "id", "command", "status", "in/out", "message"]),
        (60, ["time", "id", "status", "message"]),
    ):
        narrow = plain(cli("log", tty=True, columns=columns).out).splitlines()
        assert narrow[0].split() == headers and all(len(line) <= columns for line in narrow), narrow
        assert row["id"][:12] in narrow[1] and narrow[1].startswith(lines[1][:16]) and "complete" in narrow[1]
        assert "…" not in narrow[1].split("complete")[0], narrow


def test_log_table_with_a_long_message_keeps_its_columns_within_the_width(cli: Cli, mock: MockServer) -> None:
    # A message longer than the terminal: rich's even reduction of an over-wide table squeezed the status,
    # command and in/out columns to nothing (and the line was cropped, with no "…").
    long = "what is the longest river in europe and why does it matter for the trade routes " * 3
    cli("ask", long.strip(), base_url=mock.base_url)
    for args, last in ((["log"], "message"), (["log", "search", "river"], "match")):
        for columns, headers in (
            (140, ["time", "id", "command", "model", "status", "in/out", last]),
            (80, ["time", "id", "command", "status", "in/out", last]),
            (60, ["time", "id", "status", last]),
            (50, ["time", "id", "status", last]),
        ):
            lines = plain(cli(*args, tty=True, columns=columns).out).splitlines()
            assert lines[0].split() == headers and all(len(line) <= columns for line in lines), lines
            assert "complete" in lines[1] and lines[1].endswith("…"), lines


def test_log_tables_and_show_never_pass_control_characters_to_the_terminal(cli: Cli, mock: MockServer) -> None:
    # A recorded text holding escape sequences (a pasted colour code, a title-setting OSC cut by the
    # table's "…" that swallowed the rest of the screen) is shown with them replaced, never obeyed.
    cli("ask", "evil \x1b[31mRED\x1b[0m \x1b]0;title\x07 tab\there river", base_url=mock.base_url)
    for args in (["log"], ["log", "search", "river"], ["log", "show", "-c"]):
        out = cli(*args, tty=True, columns=60).out
        assert "\x1b[31m" not in out and "\x1b]" not in out and "\x07" not in out, (args, out)
        assert ("river" if "search" in args else "evil") in plain(out), (args, out)


def test_log_search_shows_the_match_on_a_narrow_terminal(cli: Cli, mock: MockServer) -> None:
    # The snippet's first match is brought into view: FTS5's snippet starts well before it, so at 60 or
    # 80 columns the match column showed context only and the highlighted word was cut off.
    cli("ask", "a long opening of many words before the one that matters: walrus", base_url=mock.base_url)
    for columns in (60, 80, 140):
        out = cli("log", "search", "walrus", tty=True, columns=columns).out
        assert "\x1b[1;33mwalrus" in out, (columns, plain(out))


def test_log_filters(cli: Cli, mock_server: Callable[..., MockServer], home: Path) -> None:
    good = mock_server()
    cli("ask", "-m", "claude-haiku-4-5", "old haiku", base_url=good.base_url)
    cli("ask", "new sonnet", base_url=good.base_url)
    cli("ask", "-c", "follow-up", base_url=good.base_url)
    cli("ask", "broken", base_url=mock_server(fault="http400").base_url)
    age(home, "old haiku", 5)
    assert [r["message"] for r in ndjson(cli("log", "--model", "claude-haiku-4-5"))] == ["old haiku"]
    assert [r["message"] for r in ndjson(cli("log", "--since", "2d"))] == ["broken", "follow-up", "new sonnet"]
    assert [r["message"] for r in ndjson(cli("log", "--status", "failed"))] == ["broken"]
    conversation = rows(home)[1]["conversation_id"]
    assert [r["message"] for r in ndjson(cli("log", "--cid", conversation[:13]))] == ["follow-up", "new sonnet"]
    assert [r["message"] for r in ndjson(cli("log", "-c"))] == ["broken"]
    bad = cli("log", "--since", "yesterday")
    assert bad.code == 2 and "is not a time span" in bad.stderr
    assert cli("log", "--status", "done").code == 2


def test_log_on_an_empty_history(cli: Cli) -> None:
    result = cli("log")
    assert result.code == 0 and result.out == "" and result.stderr.startswith("no answers recorded yet (history: ")


def test_show_prints_the_answer_raw_in_a_pipe_and_renders_on_a_terminal(cli: Cli, mock: MockServer) -> None:
    answer = cli("ask", "explain *SSE*", base_url=mock.base_url)
    answer_id = ndjson(cli("log"))[0]["id"]
    raw = cli("log", "show", answer_id[:12])
    assert raw.code == 0 and raw.out == answer.out
    rendered = cli("log", "show", answer_id, tty=True, columns=100)
    screen = plain(rendered.out)
    assert rendered.code == 0 and answer_id in screen and "explain *SSE*" in screen
    assert "**cvstream mock**" not in screen and "cvstream mock received this request" in screen
    [as_json] = ndjson(cli("log", "show", answer_id, "--json"))
    assert as_json["answer"] == answer.out
    missing = cli("log", "show", "zzzzzz")
    assert missing.code == 2 and "no answer has an id starting with 'zzzzzz'" in missing.stderr


def test_show_a_whole_conversation(cli: Cli, mock: MockServer) -> None:
    cli("ask", "--system", "be kind", "first", base_url=mock.base_url)
    cli("ask", "-c", "second", base_url=mock.base_url)
    shown = cli("log", "show", "-c")
    assert shown.code == 0
    assert shown.out.index("## System") < shown.out.index("## User (1)\n\nfirst") < shown.out.index("## User (2)")
    cid = ndjson(cli("log"))[0]["conversation_id"]
    assert cli("log", "show", "--cid", cid).out == shown.out
    assert [r["message"] for r in ndjson(cli("log", "show", "-c", "--json"))] == ["first", "second"]
    assert cli("log", "show").code == 2


def test_search_finds_best_matches_with_a_snippet(cli: Cli, mock: MockServer) -> None:
    cli("ask", "tell me about penguins and their habitat", base_url=mock.base_url)
    cli("ask", "penguins penguins penguins", base_url=mock.base_url)
    cli("ask", "nothing to see here", base_url=mock.base_url)
    found = ndjson(cli("log", "search", "penguins"))
    assert [r["message"] for r in found] == ["penguins penguins penguins", "tell me about penguins and their habitat"]
    assert "**penguins**" in found[0]["snippet"]
    assert [r["message"] for r in ndjson(cli("log", "search", '"their habitat"'))] == [found[1]["message"]]
    for query in (["c++", "don't"], ['"unclosed'], ["a:b"], ["*"], ["NEAR("]):  # not FTS5: searched as words
        assert ndjson(cli("log", "search", *query)) == []
    assert ndjson(cli("log", "search", "penguins:"))[0]["message"] == "penguins penguins penguins"
    table = plain(cli("log", "search", "habitat", tty=True, columns=140).out)
    assert "match" in table.splitlines()[0] and "habitat" in table
    nothing = cli("log", "search", "walrus")
    assert nothing.code == 0 and nothing.out == "" and "no answer matches" in nothing.stderr


def test_stats_by_model_and_day(cli: Cli, mock: MockServer) -> None:
    cli("ask", "a", base_url=mock.base_url)
    cli("ask", "b", base_url=mock.base_url)
    cli("ask", "-m", "claude-haiku-4-5", "c", base_url=mock.base_url)
    stats = ndjson(cli("log", "stats"))
    by_model = {r["model"]: r for r in stats if r["by"] == "model"}
    assert by_model["claude-haiku-4-5"]["answers"] == 1 and sum(r["answers"] for r in by_model.values()) == 3
    [today] = [r for r in stats if r["by"] == "day"]
    assert today["answers"] == 3 and today["output_tokens"] > 0
    assert {r["cost"] for r in stats} == {None}  # no prices.toml: no cost
    table = plain(cli("log", "stats", tty=True, columns=140).out)
    assert "claude-haiku-4-5" in table and "cache read" in table and "cost" in table


def test_stats_tables_on_a_narrow_terminal_show_whole_numbers(cli: Cli, mock: MockServer) -> None:
    # rich cut every column of the stats tables evenly on a narrow terminal ("1,…", "$0.…", "2026-11-…"):
    # numbers now show whole, optional columns give way, and only a long model name is shortened.
    for word in ("a", "b"):
        cli("ask", "-m", "claude-haiku-4-5", f"{word} {'x' * 5000}", base_url=mock.base_url)
    for columns in (50, 60, 80, 100, 140):
        lines = plain(cli("log", "stats", tty=True, columns=columns).out).splitlines()
        assert all(len(line) <= columns for line in lines), lines
        numbers = [line for line in lines if line.startswith(("claude", "20"))]
        assert len(numbers) == 2 and not any("…" in line for line in numbers), lines
        assert all(set(line.split()[0]) <= set("0123456789-") for line in numbers[1:]), lines  # the day whole
        headers = [line.split() for line in lines if line.startswith(("model", "day"))]
        assert all({"answers", "in", "out", "cost"} <= set(h) for h in headers) and len(headers) == 2, lines
    assert "cache" in plain(cli("log", "stats", tty=True, columns=140).out)


def test_stats_cost_from_the_price_table(cli: Cli, mock: MockServer, home: Path) -> None:
    cli("ask", "-m", "claude-haiku-4-5", "a", base_url=mock.base_url)
    cli("ask", "-m", "claude-opus-4-1", "b", base_url=mock.base_url)
    config = home / ".config" / "cvstream"
    config.mkdir(parents=True)
    (config / "prices.toml").write_text("[claude-haiku-4-5]\ninput = 1.0\noutput = 5.0\n")
    stats = ndjson(cli("log", "stats"))
    haiku = next(r for r in stats if r.get("model") == "claude-haiku-4-5")
    expected = (haiku["input_tokens"] * 1.0 + haiku["output_tokens"] * 5.0) / 1_000_000
    assert haiku["cost"] == expected
    assert next(r for r in stats if r.get("model") == "claude-opus-4-1")["cost"] is None
    assert next(r for r in stats if r["by"] == "day")["cost"] is None  # one of its models has no price
    (config / "prices.toml").write_text(
        "[claude-haiku-4-5]\ninput = 1.0\noutput = 5.0\n[claude-opus-4-1]\ninput = 15\noutput = 75\n"
    )
    stats = ndjson(cli("log", "stats"))
    [day] = [r for r in stats if r["by"] == "day"]
    assert day["cost"] == sum(r["cost"] for r in stats if r["by"] == "model") > expected


def test_path(cli: Cli, home: Path) -> None:
    assert cli("log", "path").out == f"{db_file(home)}\n"
    assert cli("log", "path", env={"CVSTREAM_HOME": str(home / "elsewhere")}).out == f"{home}/elsewhere/history.db\n"


def test_rm_answers_and_conversations(cli: Cli, mock: MockServer, home: Path) -> None:
    for word in ("one", "two", "three"):
        cli("ask", word, base_url=mock.base_url)
    cli("ask", "-c", "three more", base_url=mock.base_url)
    ids = [r["id"] for r in rows(home)]
    removed = cli("log", "rm", ids[0][:12], ids[1])
    assert removed.code == 0 and removed.stderr == "removed 2 answers\n"
    assert cli("log", "rm", "--cid", ids[2]).stderr == "removed 2 answers\n"
    assert rows(home) == []
    assert cli("log", "rm").code == 2
    assert ndjson(cli("log", "search", "three")) == []  # the full-text index follows


def test_prune_counts_and_asks_unless_yes(cli: Cli, mock: MockServer, home: Path) -> None:
    for word in ("ancient", "old", "fresh"):
        cli("ask", word, base_url=mock.base_url)
    age(home, "ancient", 200)
    age(home, "old", 100)
    refused = cli("log", "prune", "--older-than", "90d", stdin=b"")
    assert refused.code == 2 and "refusing to delete 2 answers without confirmation" in refused.stderr
    declined = cli("log", "prune", "--older-than", "90d")  # a terminal that answers nothing
    assert declined.code == 1 and "Delete 2 answers older than 90d? [y/N]" in declined.stderr
    assert len(rows(home)) == 3
    pruned = cli("log", "prune", "--older-than", "90d", "--yes")
    assert pruned.code == 0 and "deleted 2 answers" in pruned.stderr
    assert [r["message"] for r in rows(home)] == ["fresh"]
    assert "no answer is older than 90d" in cli("log", "prune", "--older-than", "90d", "-y").stderr
    assert cli("log", "prune", "--older-than", "soon").code == 2


def test_export_markdown_and_json(cli: Cli, mock: MockServer) -> None:
    first = cli("ask", "first", base_url=mock.base_url)
    cli("ask", "-c", "second", base_url=mock.base_url)
    cli("ask", "unrelated", base_url=mock.base_url)
    cid = ndjson(cli("log", "search", "second"))[0]["conversation_id"]
    markdown = cli("log", "export", "--cid", cid)
    assert markdown.code == 0 and markdown.out.startswith(f"# Conversation {cid}\n")
    assert first.out.rstrip() in markdown.out and "unrelated" not in markdown.out
    document = json.loads(cli("log", "export", "--cid", cid, "--format", "json").out)
    assert document["conversation_id"] == cid and [t["message"] for t in document["turns"]] == ["first", "second"]
    latest = json.loads(cli("log", "export", "-f", "json").out)
    assert [t["message"] for t in latest["turns"]] == ["unrelated"]
    assert cli("log", "export", "--format", "pdf").code == 2
