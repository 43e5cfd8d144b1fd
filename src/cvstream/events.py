"""The internal event stream: small frozen dataclasses every source emits and every sink reads.

Both SDK methods (`create(stream=True)` and `messages.stream()`) are translated into these, so a sink
never knows which one ran. `from_wire` translates one decoded API event (a JSON object as sent on
the wire) and is used by the `create` path and by tests; it is pure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class UsageUpdate:
    """Token counts as the API reported them; None = not present in this event.

    Counts are cumulative totals, so a later value replaces an earlier one field by field.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class MessageStarted:
    model: str
    message_id: str
    usage: UsageUpdate


@dataclass(frozen=True, slots=True)
class BlockStarted:
    index: int
    kind: str  # "text", "thinking", "tool_use", "server_tool_use", "redacted_thinking", ...
    name: str | None = None  # tool name for tool blocks


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolInputDelta:
    index: int
    partial_json: str


@dataclass(frozen=True, slots=True)
class BlockStopped:
    index: int


@dataclass(frozen=True, slots=True)
class MessageDelta:
    """`message_delta`: the stop reason and the cumulative usage."""

    stop_reason: str | None
    stop_sequence: str | None
    usage: UsageUpdate


@dataclass(frozen=True, slots=True)
class MessageStopped:
    pass


@dataclass(frozen=True, slots=True)
class FinalUsage:
    """The SDK helper's accumulated usage (`get_final_message().usage`); replaces the running fold."""

    usage: UsageUpdate


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One server-sent event exactly as received (only emitted when a sink asked for it)."""

    event: str | None
    data: str


@dataclass(frozen=True, slots=True)
class Retrying:
    """The request failed before the answer began and will be sent again after `delay` seconds."""

    attempt: int  # 1 for the first retry
    delay: float
    reason: str

    def describe(self) -> str:
        return f"retry {self.attempt}: {self.reason}; waiting {self.delay:.1f} s"


Event = (
    MessageStarted
    | BlockStarted
    | TextDelta
    | ThinkingDelta
    | ToolInputDelta
    | BlockStopped
    | MessageDelta
    | MessageStopped
    | FinalUsage
    | RawEvent
    | Retrying
)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def usage_from_wire(usage: Mapping[str, Any] | None) -> UsageUpdate:
    if not usage:
        return UsageUpdate()
    return UsageUpdate(
        input_tokens=_int_or_none(usage.get("input_tokens")),
        output_tokens=_int_or_none(usage.get("output_tokens")),
        cache_read_tokens=_int_or_none(usage.get("cache_read_input_tokens")),
        cache_write_tokens=_int_or_none(usage.get("cache_creation_input_tokens")),
    )


def from_wire(payload: Mapping[str, Any]) -> Iterator[Event]:
    """Translate one decoded API event into internal events; unknown types yield nothing."""
    kind = payload.get("type")
    if kind == "content_block_delta":
        delta = payload.get("delta") or {}
        dtype = delta.get("type")
        if dtype == "text_delta":
            yield TextDelta(delta.get("text", ""))
        elif dtype == "thinking_delta":
            yield ThinkingDelta(delta.get("thinking", ""))
        elif dtype == "input_json_delta":
            yield ToolInputDelta(payload.get("index", 0), delta.get("partial_json", ""))
    elif kind == "content_block_start":
        block = payload.get("content_block") or {}
        name = block.get("name")
        yield BlockStarted(payload.get("index", 0), str(block.get("type")), name if isinstance(name, str) else None)
    elif kind == "content_block_stop":
        yield BlockStopped(payload.get("index", 0))
    elif kind == "message_start":
        message = payload.get("message") or {}
        yield MessageStarted(
            str(message.get("model", "")), str(message.get("id", "")), usage_from_wire(message.get("usage"))
        )
    elif kind == "message_delta":
        delta = payload.get("delta") or {}
        yield MessageDelta(delta.get("stop_reason"), delta.get("stop_sequence"), usage_from_wire(payload.get("usage")))
    elif kind == "message_stop":
        yield MessageStopped()


class SseDecoder:
    """Incremental Server-Sent Events decoder (WHATWG rules): bytes in, (event name, data) out.

    Used to see the raw events of a stream the SDK's `messages.stream()` helper reads (for `--json`):
    it is fed the same bytes, from a response hook, as they pass to the SDK. Events without a name or
    without data are skipped, as the SDK skips them.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._name: str | None = None
        self._data: list[str] = []
        self._last_cr = False

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        if self._last_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split across chunks
        self._last_cr = chunk.endswith(b"\r")
        out: list[tuple[str, str]] = []
        lines = (self._buffer + chunk).replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        self._buffer = lines.pop()
        for raw in lines:
            line = raw.decode("utf-8", errors="replace")
            if not line:
                if self._name and self._data:
                    out.append((self._name, "\n".join(self._data)))
                self._name, self._data = None, []
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "event":
                    self._name = value
                elif name == "data":
                    self._data.append(value)
        return out
