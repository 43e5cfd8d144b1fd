"""Pure: recorded answers -> Markdown and JSON documents (`log show` in a pipe, `log export`) and rich
tables and renderings (`log`, `log search`, `log stats`, `log show` on a terminal). rich is imported
inside the functions that use it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult


def local_time(created: float, seconds: bool = False) -> str:
    return datetime.fromtimestamp(created).strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""))


def tokens(row: dict[str, Any]) -> str:
    text = f"{row['input_tokens']:,} in · {row['output_tokens']:,} out"
    if row["cache_read_tokens"] or row["cache_write_tokens"]:
        text += f" · cache {row['cache_read_tokens']:,} read, {row['cache_write_tokens']:,} write"
    return text


def outcome(row: dict[str, Any]) -> str:
    """`complete`, or `partial (interrupted: the text so far was kept)`-like wording with the error."""
    status = str(row["status"])
    if row["error_message"]:
        return f"{status} ({row['error_kind']}: {row['error_message']})"
    return status


def header(row: dict[str, Any]) -> str:
    what = row["command"] + (f" {row['label']}" if row["label"] and row["command"] == "enhance" else "")
    parts = [row["id"], local_time(row["created"], seconds=True), what, row["model"], outcome(row), tokens(row)]
    if row["stop_reason"]:
        parts.append(row["stop_reason"])
    return " · ".join(str(p) for p in parts)


def conversation_markdown(turns: list[dict[str, Any]]) -> str:
    """A whole conversation as one Markdown document: each turn's message and answer under headings."""
    if not turns:
        return ""
    first = turns[0]
    lines = [f"# Conversation {first['conversation_id']}", "", f"Started {local_time(first['created'])}.", ""]
    system = None
    for number, row in enumerate(turns, 1):
        if row["system"] and row["system"] != system:
            system = row["system"]
            lines += ["## System", "", system.rstrip(), ""]
        lines += [f"## User ({number})", "", str(row["message"]).rstrip(), ""]
        lines += [f"## Assistant ({number})", "", f"<!-- {header(row)} -->", ""]
        if row["answer"]:
            lines += [str(row["answer"]).rstrip(), ""]
    return "\n".join(lines)


def conversation_json(turns: list[dict[str, Any]]) -> str:
    document = {"conversation_id": turns[0]["conversation_id"] if turns else None, "turns": turns}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


# C0 controls (but tab and newline), DEL and C1: a recorded text is shown, never obeyed by the terminal (rich passes
# ESC through: a colour code, or an OSC title sequence that, cut by a table's "…", swallowed the screen).
_CONTROLS = {code: "\N{REPLACEMENT CHARACTER}" for code in [*range(32), *range(127, 160)] if code not in (9, 10)}


def printable(text: str) -> str:
    return text.translate(_CONTROLS)


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


_STATUS_STYLE = {"complete": "green", "partial": "yellow", "failed": "red"}


MESSAGE_MIN = 20  # the message (or the match) column keeps at least this many columns before others are dropped


class AnswersTable:
    """time, short id, command, model, status, tokens, and the message's first line (or the match), laid
    out for the width it is rendered at.

    The time, the id (what `log show` takes), the status and the message always show; the model, the
    command and in/out (in that order of preference) each when it fits whole beside MESSAGE_MIN columns
    of message: on a narrow terminal a column is left out rather than cut to "e…"."""

    def __init__(self, rows: list[dict[str, Any]], snippets: bool = False) -> None:
        self.rows = rows
        self.snippets = snippets

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield _answers_table(self.rows, self.snippets, options.max_width)


def _answers_table(rows: list[dict[str, Any]], snippets: bool, width: int) -> Any:
    from rich.table import Table
    from rich.text import Text

    from cvstream.history.queries import SHORT_ID

    cells: dict[str, list[Any]] = {
        "time": [local_time(row["created"]) for row in rows],
        "id": [row["id"][:SHORT_ID] for row in rows],
        "command": [row["command"] for row in rows],
        "model": [row["model"] for row in rows],
        "status": [Text(row["status"], style=_STATUS_STYLE.get(row["status"], "")) for row in rows],
        "in/out": [f"{row['input_tokens']:,}/{row['output_tokens']:,}" for row in rows],
    }
    wide = {name: max([len(name), *(len(str(cell)) for cell in column)]) for name, column in cells.items()}
    shown = ["time", "id", "status"]
    for optional in ("model", "command", "in/out"):  # most useful first
        used = sum(wide[name] for name in [*shown, optional]) + 2 * (len(shown) + 1)  # 2 between columns
        if used + MESSAGE_MIN <= width:
            shown.append(optional)
    shown.sort(key=list(cells).index)
    table = Table(box=None, pad_edge=False, header_style="bold", expand=False)
    for name in shown:
        table.add_column(name, no_wrap=True, min_width=wide[name], justify="right" if name == "in/out" else "left")
    # The message gets what is left, as a maximum: an over-wide table is reduced by rich evenly, which
    # squeezed the short columns (status, command, in/out) to nothing rather than cutting the message.
    rest = max(1, width - sum(wide[name] for name in shown) - 2 * len(shown))
    table.add_column("match" if snippets else "message", no_wrap=True, overflow="ellipsis", max_width=rest)
    for i, row in enumerate(rows):
        if snippets:
            last = highlighted(" ".join(str(row["snippet"]).split()), lead=rest // 3)
        else:
            last = Text(printable(first_line(row["message"])))
        table.add_row(*(cells[name][i] for name in shown), last)
    return table


def highlighted(snippet: str, lead: int | None = None) -> Any:
    """A search snippet with its matches (between the queries' markers) in bold; with `lead`, the text
    before the first match is cut to at most that many columns ("…" and its end), so a narrow column
    still shows the match."""
    from rich.cells import cell_len
    from rich.text import Text

    from cvstream.history.queries import MARK_END, MARK_START

    parts = [printable(part) for part in snippet.replace(MARK_END, MARK_START).split(MARK_START)]
    if lead is not None and len(parts) > 1 and cell_len(parts[0]) > lead:
        head = parts[0]
        while head and cell_len(head) > max(0, lead - 1):
            head = head[1:]
        parts[0] = "…" + head
    text = Text()
    for i, part in enumerate(parts):
        text.append(part, style="bold yellow" if i % 2 else "")
    return text


def conversation_view(rows: list[dict[str, Any]]) -> list[Any]:
    """Each turn: a header rule, the system text when it changes, the message, thinking, the answer as Markdown."""
    from rich.markdown import Markdown
    from rich.padding import Padding
    from rich.rule import Rule
    from rich.text import Text

    out: list[Any] = []
    system = None
    for row in rows:
        out.append(Rule(Text(printable(header(row)), style="dim"), align="left", style="dim"))
        if row["system"] and row["system"] != system:
            out.append(Padding(Text(printable(row["system"]), style="dim italic"), (0, 0, 1, 2)))
        system = row["system"]
        out.append(Padding(Text(printable(row["message"]), style="bold"), (0, 0, 1, 2)))
        if row["thinking"]:
            out.append(Padding(Text(printable(row["thinking"]), style="dim"), (0, 0, 1, 2)))
        out += [Markdown(printable(row["answer"])), Text()]
    return out


def stats_tables(result: dict[str, list[dict[str, Any]]]) -> list[Any]:
    """The by-model and by-day tables of `log stats`, laid out alike for the width they are rendered at."""
    tables = [(result[key], title) for key, title in (("by_model", "model"), ("by_day", "day"))]
    return [StatsTable(rows, title, tables) for rows, title in tables]


_STATS_COLUMNS = {  # header: the row's key; answers, in, out and cost always show
    "answers": "answers",
    "batch": "batch",
    "partial": "partial",
    "failed": "failed",
    "in": "input_tokens",
    "out": "output_tokens",
    "cache read": "cache_read_tokens",
    "cache write": "cache_write_tokens",
}
_STATS_OPTIONAL = ("partial", "failed", "cache read", "cache write", "batch")  # most useful first
LABEL_MIN = 20  # a model name is shortened ("…") below this many columns only when nothing else is left


class StatsTable:
    """One `log stats` table. Numbers always show whole: the optional columns (partial, failed, cache
    read and write, batch, in that order of preference) each when it fits beside the label, which takes
    what is left (rich cut every column evenly on a narrow terminal: "1,…", "$0.…", "2026-11-…"). Both
    tables get the same columns, chosen for the wider of them."""

    def __init__(self, rows: list[dict[str, Any]], title: str, tables: list[tuple[list[dict[str, Any]], str]]) -> None:
        self.rows = rows
        self.title = title
        self.tables = tables

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        labels = [title for _, title in self.tables] + [str(r[t]) for rows, t in self.tables for r in rows]
        label = min(LABEL_MIN, max(len(printable(text)) for text in labels))
        wide = {name: len(name) for name in [*_STATS_COLUMNS, "cost"]}
        for rows, _ in self.tables:
            for name, column in _stats_cells(rows).items():
                wide[name] = max([wide[name], *map(len, column)])
        shown = ["answers", "in", "out", "cost"]
        for optional in _STATS_OPTIONAL:
            if label + sum(wide[name] for name in [*shown, optional]) + 2 * (len(shown) + 1) <= width:
                shown.append(optional)
        shown.sort(key=list(wide).index)
        yield _stats_table(self.rows, self.title, shown, wide, width)


def _stats_cells(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    from cvstream.usage import format_cost

    cells = {name: [f"{r[key]:,}" for r in rows] for name, key in _STATS_COLUMNS.items()}
    cells["cost"] = ["-" if r.get("cost") is None else format_cost(r["cost"]) for r in rows]
    return cells


def _stats_table(rows: list[dict[str, Any]], title: str, shown: list[str], wide: dict[str, int], width: int) -> Any:
    from rich.table import Table

    cells = _stats_cells(rows)
    table = Table(box=None, pad_edge=False, header_style="bold")
    rest = max(1, width - sum(wide[name] for name in shown) - 2 * len(shown))
    table.add_column(title, no_wrap=True, overflow="ellipsis", max_width=rest)
    for name in shown:
        table.add_column(name, justify="right", no_wrap=True, min_width=wide[name])
    for i, r in enumerate(rows):
        table.add_row(printable(str(r[title])), *(cells[name][i] for name in shown))
    return table
