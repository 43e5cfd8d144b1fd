"""An independent, spec-following SSE reader used to derive what cvstream must output for a recording.

Written from the WHATWG event-stream rules (and the protocol notes), not from cvstream's code, so the
replay tests compare cvstream against a second implementation rather than against itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Expected:
    text: str = ""
    events: list[tuple[str, str]] = field(default_factory=list)  # (event name, data) dispatched, named, non-empty
    usage: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"), 0
        )
    )
    stop_reason: str | None = None
    complete: bool = False
    error_type: str | None = None
    # The SDK's messages.stream() helper accumulates the message and needs what the protocol promises,
    # e.g. a `usage` object on every message_delta; a recording without it is one the helper cannot read
    # (cvstream then reports an incomplete response, exit 6, with the text received so far).
    helper_readable: bool = True


def dispatched_events(raw: bytes) -> list[tuple[str | None, str]]:
    """(event, data) of every event dispatched by a blank line; an unterminated last event is dropped."""
    out: list[tuple[str | None, str]] = []
    name: str | None = None
    data: list[str] = []
    for line_bytes in re.split(rb"\r\n|\r|\n", raw)[:-1]:  # the piece after the last line end is incomplete
        line = line_bytes.decode("utf-8")
        if line == "":
            if data or name is not None:
                out.append((name, "\n".join(data)))
            name, data = None, []
            continue
        if line.startswith(":"):
            continue
        field_name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field_name == "event":
            name = value
        elif field_name == "data":
            data.append(value)
    return out


_USAGE_KEYS = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_read_input_tokens": "cache_read_tokens",
    "cache_creation_input_tokens": "cache_write_tokens",
}


def _fold_usage(target: dict[str, int], usage: Any) -> None:
    if not isinstance(usage, dict):
        return
    for wire, ours in _USAGE_KEYS.items():
        if isinstance(usage.get(wire), int):
            target[ours] = usage[wire]


def expected_for(raw: bytes) -> Expected:
    exp = Expected()
    for name, data in dispatched_events(raw):
        if name is None or not data:
            continue  # the SDK skips nameless and empty events
        exp.events.append((name, data))
        payload = json.loads(data)
        if name == "error":
            exp.error_type = payload["error"]["type"]
            break
        kind = payload.get("type")
        if kind == "message_start":
            _fold_usage(exp.usage, payload["message"].get("usage"))
        elif kind == "content_block_delta" and payload["delta"].get("type") == "text_delta":
            exp.text += payload["delta"]["text"]
        elif kind == "message_delta":
            exp.helper_readable = exp.helper_readable and isinstance(payload.get("usage"), dict)
            exp.stop_reason = payload["delta"].get("stop_reason") or exp.stop_reason
            _fold_usage(exp.usage, payload.get("usage"))
        elif kind == "message_stop":
            exp.complete = True
    return exp
