"""Live terminal rendering: the bytes cvstream writes to a terminal, replayed through a terminal
emulator (pyte), must leave exactly what rich prints for the whole answer at once at that width."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pyte
import pytest
from rich.console import Console
from rich.markdown import Markdown

from cvstream.mock.server import MockServer
from cvstream.sinks.live import block_kinds, make_parser, split_finished
from tests.conftest import FAKE_KEY, Result, subprocess_env


def long_markdown(sections: int = 6) -> str:
    parts = []
    for i in range(sections):
        parts.append(
            f"## Section {i}: results that matter\n\n"
            f"Paragraph {i} explains the work in enough words to wrap across several lines at narrow widths, "
            f"with **bold**, *italic* and `inline code` mixed in, and a [link](https://example.com/{i}).\n"
            "Its second line is a soft break inside the same paragraph.\n\n"
            "- first bullet with a fairly long sentence that wraps at forty columns\n"
            "- second bullet\n"
            "  - nested bullet\n"
            "- third bullet\n\n"
            "1. numbered one\n2. numbered two\n3. numbered three\n\n"
            "```python\n"
            f"def section_{i}(x):\n"
            "    # a comment line that is long enough to need more than forty columns of width\n"
            "    return x * 2\n"
            "```\n\n"
            "> A block quote that also goes on for a while so that it wraps.\n"
            "> And continues.\n\n"
            "| metric | before | after |\n|---|---:|---:|\n| latency | 120 ms | 45 ms |\n| cost | $10 | $7 |\n\n"
            "---\n\n"
            "- loose list item one\n\n- loose list item two\n\n"
            "Closing paragraph for the section.\n\n"
        )
    return "# The report\n\n" + "".join(parts) + "Final words, without a trailing newline."


def screen_lines(data: bytes, width: int, height: int) -> list[str]:
    """Everything a terminal holds after `data`: scrollback then screen, trailing blanks dropped."""
    screen = pyte.HistoryScreen(width, height, history=100_000)
    pyte.ByteStream(screen).feed(data)
    lines = ["".join(char.data for char in row.values()) for row in screen.history.top]
    lines += list(screen.display)
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def read_rest(master: int) -> bytes:
    """What a pty still has to give after its process ended: read until it is quiet or closed."""
    data = b""
    while select.select([master], [], [], 0.5)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def one_shot(text: str, width: int, height: int) -> bytes:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, height=height, force_terminal=True, color_system="standard")
    console.print(Markdown(text))
    return buffer.getvalue().replace("\n", "\r\n").encode()


@pytest.mark.parametrize("width", [40, 57, 80, 120, 200])
def test_terminal_holds_exactly_the_one_shot_render(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer], width: int
) -> None:
    text = long_markdown()
    server = mock_server(text=text, tokens_per_second=0.0 if width != 80 else 4000.0)
    height = 24
    result = cli("ask", "x", base_url=server.base_url, tty=True, columns=width, lines=height, env={"TERM": "xterm"})
    assert result.code == 0, result.stderr
    got = screen_lines(result.stdout.replace(b"\n", b"\r\n"), width, height)
    want = screen_lines(one_shot(text, width, height), width, height)
    assert len(want) > 4 * height  # far longer than the screen
    assert got == want


def reference_links(paragraphs: int = 12) -> str:
    """Reference-style links used before and after their definitions, with enough text between them that
    the blocks around them are finished (and printed) while the answer streams."""
    filler = "".join(f"Paragraph {i} says a few more words about the topic at hand.\n\n" for i in range(paragraphs))
    return (
        "[early]: https://example.com/early\n\n"
        "The intro uses [the docs][docs], a shortcut [guide] and a collapsed [Manual][] link.\n\n"
        + filler
        + "- a list item that cites [early] too\n- and [the docs][docs] again\n\n"
        + filler
        + "Closing words, with [an early link][early].\n\n"
        '[docs]: https://example.com/docs\n[guide]: https://example.com/guide "The guide"\n'
        "[manual]: https://example.com/manual\n"
    )


@pytest.mark.parametrize("width", [50, 80])
def test_reference_links_render_as_the_whole_answer_renders_them(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer], width: int
) -> None:
    """A link's definition applies to the whole document, before and after it: a block printed before a
    definition it uses arrived showed '[the docs][docs]' literally, and one after a definition already
    printed did not see it (only the tail was parsed)."""
    text = reference_links()
    server = mock_server(text=text, tokens_per_second=400.0)
    result = cli("ask", "x", base_url=server.base_url, tty=True, columns=width, lines=24, env={"TERM": "xterm"})
    assert result.code == 0, result.stderr
    got = screen_lines(result.stdout.replace(b"\n", b"\r\n"), width, 24)
    want = screen_lines(one_shot(text, width, 24), width, 24)
    assert "[docs]" not in "\n".join(want) and got == want
    # The links' targets too (OSC 8 hyperlinks): a definition streaming in is not taken half-written.
    assert (
        hyperlinks(result.stdout)
        == hyperlinks(one_shot(text, width, 24))
        == {
            "https://example.com/early",
            "https://example.com/docs",
            "https://example.com/guide",
            "https://example.com/manual",
        }
    )


@pytest.mark.timeout(30)
def test_a_half_written_link_definition_in_the_live_region_is_not_kept() -> None:
    """The live region parses the tail as it is, last line included: a definition cut mid-URL there must
    not become the definition the finished answer uses (markdown-it keeps the first one it meets)."""
    from cvstream.events import TextDelta
    from cvstream.sinks.live import LiveSink
    from cvstream.usage import Summary

    out = io.StringIO()
    sink = LiveSink(Console(file=out, force_terminal=True, width=80, height=24, color_system="standard"))
    sink.event(TextDelta("Use [the docs][d].\n\n[d]: https://exa"))
    with sink._lock:
        sink._region()  # what a redraw renders now
    sink.event(TextDelta("mple.com/docs\n"))
    sink.finish(Summary(), None)
    assert hyperlinks(out.getvalue().encode()) == {"https://example.com/docs"}


def hyperlinks(data: bytes) -> set[str]:
    return {url.decode() for url in re.findall(rb"\x1b\]8;[^;]*;([^\x1b]+)\x1b\\", data)}


def test_escape_sequences_in_the_answer_are_shown_not_obeyed(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer]
) -> None:
    """An answer (here the mock's echo of the message) holding escape sequences, as a prompt injection
    could make a model write them: an OSC 52 would set the clipboard, an OSC 0 the window title. On the
    terminal they show as U+FFFD; the line breaks (CR LF too) are kept."""
    server = mock_server(echo=True)
    message = "copy \x1b]52;c;cHduZWQ=\x07 title \x1b]0;pwned\x1b\\ red \x1b[31mRED\x9b1m C1\r\nnext line"
    result = cli("ask", message, base_url=server.base_url, tty=True, env={"TERM": "xterm"})
    assert result.code == 0, result.stderr
    for bad in (b"\x1b]52", b"\x1b]0;pwned", b"\x1b[31mRED", b"\x07", "\x9b".encode()):
        assert bad not in result.stdout
    screen = "\n".join(screen_lines(result.stdout.replace(b"\n", b"\r\n"), 80, 24))
    assert "copy \ufffd]52;c;cHduZWQ=\ufffd title" in screen and "next line" in screen


def test_split_finished_only_commits_blocks_that_cannot_change() -> None:
    parser = make_parser()
    assert split_finished(parser, "para one\nstill para") == ("", [], "para one\nstill para")
    finished, tokens, tail = split_finished(parser, "para one\n\n- item\n")
    assert (finished, block_kinds(tokens), tail) == ("para one\n\n", ["paragraph_open"], "- item\n")
    # The finished blocks' tokens are what a parse of them alone gives (no second parse to print them).
    assert [t.as_dict() for t in tokens] == [t.as_dict() for t in parser.parse(finished)]
    # An open code fence swallows everything after it: nothing is committed inside it.
    finished, _, tail = split_finished(parser, "intro\n\n```\ncode\n\nmore code\n")
    assert finished == "intro\n\n" and tail == "```\ncode\n\nmore code\n"
    # A table's header row only becomes a table with the delimiter row: it stays in the tail.
    assert split_finished(parser, "| a | b |\n")[0] == ""


@pytest.mark.timeout(30)
def test_finish_called_while_the_ticker_redraws_never_hangs() -> None:
    """finish() sets _stop then _wake; if the ticker clears that wake just after (it had already checked
    _stop), it must still see _stop and end, or finish() waits on it for ever (seen under load)."""
    import threading

    from cvstream.events import TextDelta
    from cvstream.sinks.live import LiveSink
    from cvstream.usage import Summary

    sink = LiveSink(Console(file=io.StringIO(), force_terminal=True, width=80, height=24))

    class FinishRacesTheClear(threading.Event):
        def clear(self) -> None:
            sink._stop.set()  # what finish() does first, landing between the ticker's check and its clear
            self.set()
            super().clear()

    sink._wake = FinishRacesTheClear()
    sink.event(TextDelta("Hello\n\nworld"))
    assert sink._ticker is not None
    sink._ticker.join(10)
    assert not sink._ticker.is_alive()
    sink.finish(Summary(), None)


def test_no_color_keeps_the_layout(cli: Callable[..., Result], mock_server: Callable[..., MockServer]) -> None:
    text = long_markdown(2)
    server = mock_server(text=text)
    colored = cli("ask", "x", base_url=server.base_url, tty=True, env={"TERM": "xterm"})
    plain = cli("ask", "x", base_url=server.base_url, tty=True, env={"NO_COLOR": "1", "TERM": "xterm"})
    assert b"\x1b[1m" in colored.stdout or b"\x1b[3" in colored.stdout
    assert b"\x1b[3" not in plain.stdout.replace(b"\x1b[3m", b"")  # no colour codes (italic may stay)
    assert screen_lines(plain.stdout.replace(b"\n", b"\r\n"), 80, 24) == screen_lines(
        colored.stdout.replace(b"\n", b"\r\n"), 80, 24
    )


def test_dumb_terminal_and_plain_stream_plain_text(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer]
) -> None:
    server = mock_server(text="# Title\n\nSome *text*.")
    for extra, env in ((["--plain"], {"TERM": "xterm"}), ([], {"TERM": "dumb"})):
        result = cli("ask", "x", *extra, base_url=server.base_url, tty=True, env=env)
        assert result.stdout == b"# Title\n\nSome *text*.\n"


def test_thinking_shown_dimmed_above_the_answer_or_hidden(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer]
) -> None:
    server = mock_server(text="The answer.\n")
    shown = cli("ask", "x", "--thinking", base_url=server.base_url, tty=True, env={"TERM": "xterm"})
    lines = screen_lines(shown.stdout.replace(b"\n", b"\r\n"), 80, 24)
    assert lines == ["thinking", "Let me look at what this request carries.", "", "The answer."]
    assert b"\x1b[2m" in shown.stdout  # dim
    hidden = cli("ask", "x", "--thinking", "--hide-thinking", base_url=server.base_url, tty=True, env={"TERM": "xterm"})
    assert screen_lines(hidden.stdout.replace(b"\n", b"\r\n"), 80, 24) == ["The answer."]


def test_tool_blocks_show_as_one_line_notes(cli: Callable[..., Result], mock_server: Callable[..., MockServer]) -> None:
    recording = Path(__file__).parent / "fixtures" / "upstream" / "docs__tool_use-input_json__streaming.md.sse"
    server = mock_server(transcript=recording.read_bytes())
    result = cli("ask", "x", base_url=server.base_url, tty=True, columns=120, env={"TERM": "xterm"})
    lines = screen_lines(result.stdout.replace(b"\n", b"\r\n"), 120, 24)
    assert lines[-1] == '⚙ get_weather {"location": "San Francisco, CA", "unit": "fahrenheit"}'
    assert lines[0].startswith("Okay, let's check the weather")


@pytest.mark.parametrize(
    ("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)], ids=["int", "term", "hup"]
)
def test_a_signal_leaves_the_terminal_clean(
    installed: Path, mock_server: Callable[..., MockServer], sig: signal.Signals, status: int
) -> None:
    text = long_markdown(3)
    server = mock_server(text=text, tokens_per_second=200.0)
    master, slave = pty.openpty()
    env = subprocess_env(
        ANTHROPIC_API_KEY=FAKE_KEY, ANTHROPIC_BASE_URL=server.base_url, TERM="xterm", COLUMNS="80", LINES="24"
    )
    proc = subprocess.Popen([str(installed), "ask", "x"], stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    data = b""
    try:
        while b"Section 0" not in data:  # wait until the answer is on screen
            ready, _, _ = select.select([master], [], [], 20)
            assert ready, "no output"
            data += os.read(master, 65536)
        proc.send_signal(sig)
        assert proc.wait(timeout=20) == status
        data += read_rest(master)
    finally:
        proc.kill()
        os.close(master)
    assert proc.stderr is not None
    assert b"Traceback" not in proc.stderr.read()
    assert data.rfind(b"\x1b[?25h") > data.rfind(b"\x1b[?25l")  # the cursor is shown again
    shown = screen_lines(data, 80, 24)
    full = screen_lines(one_shot(text, 80, 24), 80, 24)
    assert shown and shown[-1]
    assert full[: len(shown) - 1] == shown[:-1]  # what was shown is kept, nothing half-drawn above it


def test_waiting_spinner_shows_elapsed_time_then_vanishes(
    cli: Callable[..., Result], mock_server: Callable[..., MockServer]
) -> None:
    server = mock_server(text="Done.\n", first_token_ms=400.0)
    result = cli("ask", "x", "--no-usage", base_url=server.base_url, tty=True, stderr_tty=True, env={"TERM": "xterm"})
    assert result.code == 0
    assert re.search(r"waiting for claude-sonnet-5-5 \d+\.\d s", result.stderr)
    assert screen_lines(result.stderr.encode().replace(b"\n", b"\r\n"), 80, 24) == []  # no trace left
    assert screen_lines(result.stdout.replace(b"\n", b"\r\n"), 80, 24) == ["Done."]
    quiet = cli("ask", "x", "--quiet", base_url=server.base_url, tty=True, stderr_tty=True, env={"TERM": "xterm"})
    assert "waiting for" not in quiet.stderr


def test_markdown_reuses_the_sinks_parser_and_renders_what_rich_renders() -> None:
    """The sink sets rich's Markdown's public `parsed` tokens from its own parser instead of letting each
    Markdown() build a parser; a rich without that attribute gets plain Markdown(source)."""
    from rich.markdown import Markdown

    from cvstream.sinks.live import LiveSink

    text = "# Title\n\nSome *text* and `code`.\n\n```python\nx = 1\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"

    def rendered(renderable: object) -> str:
        out = io.StringIO()
        Console(file=out, force_terminal=True, width=60, color_system="truecolor").print(renderable)
        return out.getvalue()

    sink = LiveSink(Console(file=io.StringIO()))
    assert rendered(sink._markdown(text)) == rendered(Markdown(text))
    del sink._template.parsed  # as if rich renamed it
    fallback = sink._markdown(text)
    assert type(fallback) is Markdown and rendered(fallback) == rendered(Markdown(text))


def test_bare_brackets_do_not_hold_a_finished_block() -> None:
    """Citations and checkboxes (`[1]`, `[x]`) never get a definition: a block holding them is printed when
    it is finished (held, it was re-rendered at every redraw: 7x the sink's CPU for an answer citing [1] in
    every paragraph). A full reference with no definition yet waits for it."""
    from cvstream.events import TextDelta
    from cvstream.sinks.live import LiveSink
    from cvstream.usage import Summary

    sink = LiveSink(Console(file=io.StringIO(), force_terminal=True, width=80, height=24))
    sink.event(TextDelta("Cited [1] here.\n\n- [x] done\n\nAnd [the docs][d] there.\n\nLast words\n"))
    with sink._lock:
        sink._commit()
        assert sink._tail == "And [the docs][d] there.\n\nLast words\n"  # the two before it were printed
    sink.finish(Summary(), None)
