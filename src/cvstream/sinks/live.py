"""The terminal sink: Markdown rendered live with rich, at a cost that does not grow with the answer.

The technique (after aider's MarkdownStream and crush's streaming Markdown): the answer is split into
top-level Markdown blocks as it arrives. Once a later block has begun, the blocks before it can no
longer change, so they are rendered once and printed to the scrollback, never redrawn. Only the
unfinished last block (the tail) lives in a transient `rich.live.Live` region, redrawn soon after text
arrives but at most `REFRESH_PER_SECOND` times a second, and cropped to its newest lines, so the newest
text stays visible.
When the stream ends the live region vanishes and the tail is printed like the other blocks; the
scrollback then holds exactly what `console.print(Markdown(whole_text))` would have printed (control
characters but line breaks and tabs shown as U+FFFD: a terminal must not obey an answer's escape codes).

Exactness rests on one rule of rich's renderer: a blank line goes before a top-level block when the
element rendered just before it asks for one (`new_line`). Container blocks (lists, quotes, tables)
set that from their own children, so a standalone render already starts with the right blank line;
leaf blocks (paragraph, heading, code, rule) depend on the block before, so `_needs_lead` adds it.
Parsing uses one markdown-it parser configured like rich's, and only ever parses the tail.

Reference-style links (`[text][label]`, `[label]`, `[label][]`) are the one way later text changes an
earlier block: a definition (`[label]: URL`) anywhere applies to the whole document. The definitions
already seen are kept (the parser's `env`) for every later parse, and a finished block holding a full or
collapsed reference (`[text][label]`, `[label][]`) no definition resolves yet stays in the tail, so a
definition arriving later still makes it a link, while the tail holds at most HOLD_LIMIT characters (a
longer answer prints such a block as it stands). A bare `[label]` does not wait: in answers it is mostly
a citation or a checkbox (`[1]`, `[x]`) that no definition ever comes for, and waiting re-renders the
whole held text at every redraw (7x the sink's CPU for an answer citing `[1]` in every paragraph).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.live import Live
from rich.markdown import Markdown, UnknownElement
from rich.segment import Segment
from rich.text import Text

from cvstream.errors import CvstreamError
from cvstream.events import BlockStarted, BlockStopped, Event, TextDelta, ThinkingDelta, ToolInputDelta
from cvstream.usage import Summary

REFRESH_PER_SECOND = 20
HOLD_LIMIT = 4000  # characters of tail a block waiting for a link definition may keep unprinted
# A full or collapsed reference a later definition could resolve (`[text][label]`, `[label][]`).
_LABEL = re.compile(r"\[[^\[\]]*[^\s\[\]][^\[\]]*\]\[[^\[\]]*\]")
# C0 controls but tab, LF and CR (line breaks, which markdown-it reads as such), DEL and C1: the answer's
# text is shown, never obeyed (an OSC 52 in it would set the clipboard), so they become U+FFFD.
_CONTROLS = {c: "\N{REPLACEMENT CHARACTER}" for c in [*range(32), *range(127, 160)] if c not in (9, 10, 13)}
_CONTAINERS = frozenset({"bullet_list_open", "ordered_list_open", "blockquote_open", "table_open"})
_TOOL_KINDS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})


def make_parser() -> MarkdownIt:
    """The parser rich's Markdown uses (commonmark plus tables and strikethrough)."""
    return MarkdownIt().enable("strikethrough").enable("table")


def _needs_lead(previous: str | None, first: str) -> bool:
    """Does a block starting with token type `first` need a blank line after a block of type `previous`?"""
    if previous is None or first in _CONTAINERS:
        return False
    return bool(Markdown.elements.get(previous, UnknownElement).new_line)


def _top_level(tokens: list[Token]) -> list[int]:
    """Indexes of the tokens that open (or are) a top-level block, in order."""
    return [i for i, t in enumerate(tokens) if t.level == 0 and t.map is not None and t.nesting >= 0]


def block_kinds(tokens: list[Token]) -> list[str]:
    """The token type of each top-level block."""
    return [tokens[i].type for i in _top_level(tokens)]


def unresolved_block(tokens: list[Token]) -> int | None:
    """The position (among the top-level blocks) of the first block whose text holds a full or collapsed
    reference that is not a link: its definition has not arrived yet (or never will)."""
    block = -1
    for token in tokens:
        if token.level == 0 and token.map is not None and token.nesting >= 0:
            block += 1
        if token.type == "inline" and any(
            child.type == "text" and _LABEL.search(child.content) for child in token.children or ()
        ):
            return block
    return None


def split_finished(parser: MarkdownIt, text: str, env: dict[str, Any] | None = None) -> tuple[str, list[Token], str]:
    """Split `text` into (finished source, its tokens, unfinished tail).

    Blocks are finished when a later top-level block has started on a complete line. Their tokens come
    from the parse that found the split (with the text after them, as a parse of the whole answer sees
    them), so printing them needs no second parse.
    """
    cut = text.rfind("\n") + 1
    if cut == 0:
        return "", [], text
    tokens = parser.parse(text[:cut], env)
    starts = _top_level(tokens)
    if len(starts) < 2:
        return "", [], text
    last = tokens[starts[-1]]
    assert last.map is not None
    lines = text[:cut].splitlines(keepends=True)
    finished = "".join(lines[: last.map[0]])
    return finished, tokens[: starts[-1]], "".join(lines[last.map[0] :]) + text[cut:]


class _Bottom:
    """A renderable showing only the last `height` lines of another (the newest text stays visible)."""

    def __init__(self, renderable: Any, height: int) -> None:
        self._renderable = renderable
        self._height = height
        self._cache: tuple[int, list[list[Segment]]] | None = None  # (width, lines): refreshes reuse it

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self._cache is None or self._cache[0] != options.max_width:
            lines = console.render_lines(self._renderable, options, pad=False, new_lines=False)
            self._cache = (options.max_width, lines[-self._height :])
        for line in self._cache[1]:
            yield from line
            yield Segment.line()


class _Current:
    """The live region as rich's Live holds it: rendered from the sink's state at each render, so a block
    printed above it (which redraws the region) already shows the new tail and needs no refresh after."""

    def __init__(self, sink: LiveSink) -> None:
        self._sink = sink

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self._sink._region()


class LiveSink:
    wants_raw = False

    def __init__(self, console: Console, *, show_thinking: bool = True) -> None:
        self._console = console
        self._show_thinking = show_thinking
        self._parser = make_parser()
        self._template = Markdown("")
        self._live: Live | None = None
        self._tail = ""  # unfinished Markdown of the current answer document
        self._split_at = 0  # length of the tail's complete lines when it was last split: none finished then
        self._previous: str | None = None  # token type of the last block printed in this document
        self._env: dict[str, Any] = {}  # the parser's env: the link definitions seen in this document
        self._mode = "text"
        self._thinking = ""
        self._tool_name = ""
        self._tool_json = ""
        self._region_key: tuple[Any, ...] = ()
        self._region_view: Any = Text("")
        self._current = _Current(self)
        # One lock for everything that writes to the terminal: rich's own refresh thread would redraw the
        # live region while the main thread prints a finished block above it, and lose lines.
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def _markdown(self, source: str, tokens: list[Token] | None = None) -> Markdown:
        """rich's Markdown of `source` (of its `tokens` when already parsed), parsed by this sink's parser:
        `Markdown(source)` would build a new markdown-it parser each time, a third of a redraw's CPU."""
        if not hasattr(self._template, "parsed"):  # a rich that keeps its tokens elsewhere: parse as it does
            return Markdown(source)
        markdown = copy.copy(self._template)
        markdown.markup = source
        if tokens is None:  # the live region: its last line may hold half a definition, which must not stay
            tokens = self._parser.parse(source, {"references": dict(self._env.get("references", {}))})
        markdown.parsed = tokens
        return markdown

    # -- the live region ----------------------------------------------------------------------------
    def _region(self) -> Any:
        """What the live region shows (rendered on the ticker thread); rebuilt only when it changed."""
        height = max(1, self._console.size.height - 1)
        key = (self._mode, self._tail, len(self._thinking), self._tool_name, height)
        if key != self._region_key:
            self._region_key = key
            self._region_view = self._build_region(height)
        return self._region_view

    def _build_region(self, height: int) -> Any:
        if self._mode == "thinking":
            if not self._show_thinking:
                return Text("thinking…", style="dim italic")
            return _Bottom(Text(self._thinking, style="dim"), height)
        if self._mode == "tool":
            return Text(f"⚙ {self._tool_name} …", style="dim", no_wrap=True, overflow="ellipsis")
        if not self._tail:
            return Text("")
        return _Bottom(self._markdown(self._tail), height)

    def _ensure_live(self) -> Live:
        if self._live is None:
            self._live = Live(
                console=self._console,
                auto_refresh=False,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
                get_renderable=lambda: self._current,
            )
            self._live.start()
            self._ticker = threading.Thread(target=self._tick, name="cvstream-live", daemon=True)
            self._ticker.start()
        return self._live

    def _tick(self) -> None:
        """Redraw soon after text arrives (within 1/REFRESH_PER_SECOND s), at most that often: print the
        blocks the new text finished, then redraw the live region. Per delta the main thread only
        appends text, so the rendering cost depends on the refresh rate, not on the number of deltas."""
        last = 0.0
        # finish() sets _stop before _wake, so a wake cleared below after finish() was called is caught by
        # this check (with `while True` such a wake was lost and finish() waited on the thread for ever).
        while not self._stop.is_set():
            self._wake.wait()
            if self._stop.is_set():
                return
            pause = last + 1.0 / REFRESH_PER_SECOND - time.monotonic()
            if pause > 0 and self._stop.wait(pause):
                return
            self._wake.clear()
            with self._lock:
                if self._live is not None and not (self._mode == "text" and self._commit()):
                    self._live.refresh()  # (printing a finished block redrew the region already)
            last = time.monotonic()

    def _refresh(self) -> None:
        """Ask the ticker thread to redraw the live region."""
        self._ensure_live()
        self._wake.set()

    # -- answer text --------------------------------------------------------------------------------
    def _print_blocks(self, source: str, tokens: list[Token]) -> bool:
        """Print finished blocks to the scrollback in one print (each print redraws the live region under
        it; the caller holds the lock); True if anything was printed."""
        kinds = block_kinds(tokens)
        if not source.strip() or not kinds:
            return False
        markdown = self._markdown(source, tokens)
        self._console.print(Group(Text(""), markdown) if _needs_lead(self._previous, kinds[0]) else markdown)
        self._previous = kinds[-1]
        return True

    def _commit(self) -> bool:
        """Move the blocks that can no longer change out of the tail (the caller holds the lock); True if
        any was printed. Only a new complete line can finish a block, so a tail whose complete lines were
        already split (a long paragraph still streaming) is not parsed again."""
        lines_end = self._tail.rfind("\n") + 1
        if lines_end == self._split_at:
            return False
        finished, tokens, tail = split_finished(self._parser, self._tail, self._env)
        self._split_at = lines_end
        held = unresolved_block(tokens) if len(self._tail) <= HOLD_LIMIT else None
        if held is not None:  # print the blocks before it; it waits in the tail for its definition
            start = tokens[_top_level(tokens)[held]]
            assert start.map is not None
            lines = finished.splitlines(keepends=True)
            finished, tokens = "".join(lines[: start.map[0]]), tokens[: _top_level(tokens)[held]]
            tail = "".join(lines[start.map[0] :]) + tail
        if not finished:
            return False
        self._tail = tail
        self._split_at = tail.rfind("\n") + 1
        return self._print_blocks(finished, tokens)

    def _flush_text(self) -> None:
        """Print the unfinished tail as final: the document is over (the caller holds the lock)."""
        if self._tail.strip():
            self._print_blocks(self._tail, self._parser.parse(self._tail, self._env))
        self._tail, self._split_at = "", 0
        self._previous = None
        self._env = {}

    # -- events -------------------------------------------------------------------------------------
    def event(self, event: Event) -> None:
        if type(event) is TextDelta:
            with self._lock:
                self._mode = "text"
                self._tail += event.text.translate(_CONTROLS)
            self._refresh()
        elif type(event) is ThinkingDelta:
            with self._lock:
                self._thinking += event.text.translate(_CONTROLS)
            self._refresh()
        elif type(event) is ToolInputDelta:
            self._tool_json += event.partial_json
        elif type(event) is BlockStarted:
            with self._lock:
                self._block_started(event)
            self._refresh()
        elif type(event) is BlockStopped:
            with self._lock:
                self._block_stopped()
            self._refresh()

    def _block_started(self, event: BlockStarted) -> None:
        if event.kind == "text":
            self._mode = "text"
            return
        self._flush_text()
        if event.kind == "thinking":
            self._mode, self._thinking = "thinking", ""
        elif event.kind in _TOOL_KINDS:
            self._mode, self._tool_name, self._tool_json = "tool", (event.name or event.kind).translate(_CONTROLS), ""
        elif event.kind == "redacted_thinking":
            self._mode = "other"
            if self._show_thinking:
                self._console.print(Text("(redacted thinking)", style="dim italic"))
        else:
            self._mode = "other"
            self._console.print(Text(f"↳ {event.kind}", style="dim", no_wrap=True, overflow="ellipsis"))

    def _block_stopped(self) -> None:
        if self._mode == "thinking":
            if self._show_thinking and self._thinking.strip():
                self._console.print(Text("thinking", style="dim italic bold"))
                self._console.print(Text(self._thinking.strip("\n"), style="dim"))
                self._console.print(Text(""))
            self._thinking = ""
        elif self._mode == "tool":
            self._console.print(
                Text(
                    f"⚙ {self._tool_name} {_compact_json(self._tool_json)}",
                    style="dim",
                    no_wrap=True,
                    overflow="ellipsis",
                )
            )
        else:
            return
        self._mode = "text"

    def finish(self, summary: Summary, error: CvstreamError | None) -> None:
        self._stop.set()
        self._wake.set()
        if self._ticker is not None:
            self._ticker.join()
        if self._live is not None:
            self._live.stop()  # transient: the live region is erased, the cursor shown
            self._live = None
        with self._lock:
            if self._mode == "thinking":
                self._block_stopped()
            self._flush_text()


def _compact_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text or "{}"), ensure_ascii=False)
    except ValueError:
        return text
