"""Wire events (raw SSE) and the helper's SDK events -> cvstream's typed events (`cvstream.events`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2

from cvstream.errors import redact
from cvstream.events import (
    BlockStarted,
    BlockStopped,
    Event,
    MessageDelta,
    MessageStarted,
    MessageStopped,
    RawEvent,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
    UsageUpdate,
    from_wire,
)
from cvstream.source.connection import Connection
from cvstream.source.failures import error_event_error, malformed, stream_error


@contextmanager
def answer_errors(conn: Connection) -> Iterator[None]:
    """Failures once the answer has begun (transport errors, malformed JSON) -> cvstream errors."""
    try:
        yield
    except (httpx2.HTTPError, ValueError) as exc:
        raise stream_error(exc, conn) from exc


def translate(name: str | None, data: str, raw: bool, conn: Connection) -> Iterator[Event]:
    """One raw SSE event -> events, mirroring what the SDK's Stream does (nameless and empty events skipped)."""
    if name is None or not data:
        return
    if name == "error":
        if raw:  # upstream error text, shown as sent but for any secret in it
            yield RawEvent(name, redact(data, conn.secrets))
        try:
            body = json.loads(data)
        except ValueError:
            body = data
        raise error_event_error(body, conn)
    payload = json.loads(data)
    if not isinstance(payload, dict):
        raise malformed(f"the API sent an event that is not a JSON object ({name})")
    if raw:
        yield RawEvent(name, data)
    if name != "ping":
        yield from from_wire(payload)


def usage(usage: Any) -> UsageUpdate:
    if usage is None:
        return UsageUpdate()
    return UsageUpdate(
        input_tokens=getattr(usage, "input_tokens", None),
        output_tokens=getattr(usage, "output_tokens", None),
        cache_read_tokens=getattr(usage, "cache_read_input_tokens", None),
        cache_write_tokens=getattr(usage, "cache_creation_input_tokens", None),
    )


def from_helper(event: Any) -> Iterator[Event]:
    """One helper event (an SDK model) -> internal events; derived helper events are skipped."""
    kind = event.type
    if kind == "content_block_delta":
        delta = event.delta
        if delta.type == "text_delta":
            yield TextDelta(delta.text)
        elif delta.type == "thinking_delta":
            yield ThinkingDelta(delta.thinking)
        elif delta.type == "input_json_delta":
            yield ToolInputDelta(event.index, delta.partial_json)
    elif kind == "content_block_start":
        block = event.content_block
        name = getattr(block, "name", None)
        yield BlockStarted(event.index, str(block.type), name if isinstance(name, str) else None)
    elif kind == "content_block_stop":
        yield BlockStopped(event.index)
    elif kind == "message_start":
        message = event.message
        yield MessageStarted(str(message.model or ""), str(message.id or ""), usage(message.usage))
    elif kind == "message_delta":
        yield MessageDelta(event.delta.stop_reason, event.delta.stop_sequence, usage(event.usage))
    elif kind == "message_stop":
        yield MessageStopped()
