"""Pure reply building for `cvstream mock`: SSE frames, reply text, transcripts, error bodies.

The reply text looks like the product's: an `enhance` request (the flat bullets prompt, or a whole
document's numbered bullets; `enhance_reply` says how each is known) gets its bullets back, each visibly
from the mock (`[offline] ...`), in the shape the real model is asked for; any other request gets an echo
of what it carried (`--echo` echoes all).

A reply is a list of `Frame`s: the bytes of one server-sent event (blank line included) and whether
it carries a text delta (faults and pacing count those).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cvstream.mock.caching import CacheUse

_PIECES = re.compile(r"\s*\S+|\s+")
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


@dataclass(frozen=True, slots=True)
class Frame:
    data: bytes
    is_text_delta: bool = False


def estimate_tokens(text: str) -> int:
    """About four characters a token, at least one."""
    return max(1, math.ceil(len(text) / 4))


def request_text(body: Mapping[str, Any]) -> str:
    """All the text a request carries (system and messages), for the input-token estimate."""
    parts: list[str] = []
    system = body.get("system")
    if isinstance(system, str):
        parts.append(system)
    elif isinstance(system, list):
        parts.extend(str(b.get("text", "")) for b in system if isinstance(b, dict))
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return "\n".join(parts)


def last_user_text(body: Mapping[str, Any]) -> str:
    messages = body.get("messages") or []
    if not messages or not isinstance(messages[-1], dict):
        return ""
    content = messages[-1].get("content")
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return str(content or "")


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines() or [""])


def echo_text(body: Mapping[str, Any], helper: str | None = None) -> str:
    """The default reply: a deterministic Markdown account of what the request carried."""
    lines = [
        "**cvstream mock** received this request:",
        "",
        f"- model: `{body.get('model')}`",
        f"- max_tokens: {body.get('max_tokens')}",
    ]
    if helper:
        lines.append(f"- sdk helper: {helper}")
    if body.get("thinking"):
        lines.append(f"- thinking: `{json.dumps(body['thinking'], sort_keys=True)}`")
    if body.get("output_config"):
        lines.append(f"- output_config: `{json.dumps(body['output_config'], sort_keys=True)}`")
    system = body.get("system")
    if system:
        text = system if isinstance(system, str) else json.dumps(system)
        lines += ["", "System:", "", _quote(text)]
    lines += ["", "User:", "", _quote(last_user_text(body)), ""]
    return "\n".join(lines)


# Weak openings a CV writer would replace, and what the mock puts instead (the rest of the bullet is kept).
_WEAK = (
    ("was responsible for ", "Owned "),
    ("responsible for ", "Owned "),
    ("worked on ", "Delivered "),
    ("helped with ", "Contributed to "),
    ("helped ", "Helped "),
    ("did ", "Delivered "),
)
_NUMBERED = re.compile(r"\[(\d{1,6})\] (.*)")


def offline_bullet(text: str, mark: str = "[offline]") -> str:
    """A bullet that looks rewritten (a stronger, capitalised opening) and says it came from the mock."""
    text = " ".join(text.split())
    for weak, strong in _WEAK:
        if text.lower().startswith(weak):
            text = strong + text[len(weak) :]
            break
    if text[:1].islower():
        text = text[0].upper() + text[1:]
    return f"{mark} {text}"


def _system_text(body: Mapping[str, Any]) -> str:
    system = body.get("system")
    if isinstance(system, list):  # text blocks (with cache_control, say)
        return "\n".join(str(b.get("text", "")) for b in system if isinstance(b, dict))
    return system if isinstance(system, str) else ""


def enhance_reply(body: Mapping[str, Any], *, enhance: bool = False) -> str | None:
    """The reply to an `enhance` request, shaped like the real one; None for any other request.

    A whole CV's numbered bullets are known by their own tags, whatever the system text (the user's with
    --system-file, the conversation's with -c). A flat bullets prompt is plain lines, known by enhance's
    system text, or by `enhance`: the --offline mock of an `enhance` run is told that every request is one.
    """
    from cvstream.documents.prompt import BULLETS_CLOSE, BULLETS_OPEN
    from cvstream.prompt import ENHANCE_SYSTEM, JOB_OPEN

    user = last_user_text(body)
    if BULLETS_OPEN in user and BULLETS_CLOSE in user:
        inside = user.split(BULLETS_OPEN, 1)[1].split(BULLETS_CLOSE, 1)[0]
        lines = [m for line in inside.splitlines() if (m := _NUMBERED.fullmatch(line))]
        mark = "(offline)" if user.startswith("Format: LaTeX") else "[offline]"  # `\item [` would be a label
        if lines:
            return "".join(f"[{m.group(1)}] {offline_bullet(m.group(2), mark)}\n" for m in lines)
    if enhance or _system_text(body).startswith(ENHANCE_SYSTEM.split("\n", 1)[0]):
        bullets = [line for line in user.split(f"\n\n{JOB_OPEN}", 1)[0].splitlines() if line.strip()]
        return "".join(f"- {offline_bullet(line)}\n" for line in bullets)
    return None


def reply_text(body: Mapping[str, Any], helper: str | None = None, *, echo: bool = False, enhance: bool = False) -> str:
    """What a generated reply says: the enhance-shaped answer, or (with `echo`, or for other requests) the echo."""
    if not echo:
        reply = enhance_reply(body, enhance=enhance)
        if reply is not None:
            return reply
    return echo_text(body, helper)


def split_deltas(text: str) -> list[str]:
    """Split text into token-sized pieces (a word with the spaces before it); joined they give `text`."""
    return _PIECES.findall(text)


def _cut(text: str, max_tokens: int, stop_reason: str | None) -> tuple[list[str], str]:
    """The reply's token pieces, cut at `max_tokens` (the stop reason then says so)."""
    pieces = split_deltas(text)
    if len(pieces) > max_tokens:
        return pieces[:max_tokens], "max_tokens"
    return pieces, stop_reason or "end_turn"


def sse(event: str, payload: Mapping[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def _usage(input_tokens: int, output_tokens: int, cache: CacheUse | None = None) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache.write if cache else 0,
        "cache_read_input_tokens": cache.read if cache else 0,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def message_start(model: str, message_id: str, input_tokens: int, cache: CacheUse | None = None) -> Frame:
    message: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(input_tokens, 1, cache),
    }
    return Frame(sse("message_start", {"type": "message_start", "message": message}))


def build_stream(
    *,
    text: str,
    model: str,
    message_id: str,
    input_tokens: int,
    max_tokens: int,
    thinking: str | None = None,
    stop_reason: str | None = None,
    cache: CacheUse | None = None,
) -> list[Frame]:
    """The frames of a complete streamed reply; the text is cut at `max_tokens` pieces."""
    frames = [message_start(model, message_id, input_tokens, cache)]
    index = 0
    output = 0
    if thinking is not None:
        frames.append(
            Frame(
                sse(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                    },
                )
            )
        )
        for piece in split_deltas(thinking):
            delta = {"type": "thinking_delta", "thinking": piece}
            frames.append(
                Frame(sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
            )
            output += 1
        signature = {"type": "signature_delta", "signature": "bW9jay1zaWduYXR1cmU="}
        frames.append(
            Frame(sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": signature}))
        )
        frames.append(Frame(sse("content_block_stop", {"type": "content_block_stop", "index": 0})))
        index = 1
    frames.append(
        Frame(
            sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
        )
    )
    frames.append(Frame(sse("ping", {"type": "ping"})))
    pieces, reason = _cut(text, max_tokens, stop_reason)
    for piece in pieces:
        delta = {"type": "text_delta", "text": piece}
        frames.append(
            Frame(
                sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}),
                True,
            )
        )
    output += len(pieces)
    frames.append(Frame(sse("content_block_stop", {"type": "content_block_stop", "index": index})))
    frames.append(
        Frame(
            sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": reason, "stop_sequence": None},
                    "usage": _usage(input_tokens, max(output, 1), cache),
                },
            )
        )
    )
    frames.append(Frame(sse("message_stop", {"type": "message_stop"})))
    return frames


def parse_transcript(raw: bytes) -> list[Frame]:
    """Split a recorded SSE body into its events, byte for byte (an unterminated tail is kept as is)."""
    frames: list[Frame] = []
    start = 0
    for match in _EVENT_END.finditer(raw):
        chunk = raw[start : match.end()]
        frames.append(Frame(chunk, b'"text_delta"' in chunk))
        start = match.end()
    if start < len(raw):
        tail = raw[start:]
        frames.append(Frame(tail, b'"text_delta"' in tail))
    return frames


def transcript_text(frames: list[Frame]) -> str:
    """The text of a transcript's text deltas (for `stream: false` replies)."""
    out: list[str] = []
    for frame in frames:
        if not frame.is_text_delta:
            continue
        for line in frame.data.decode("utf-8", "replace").splitlines():
            if line.startswith("data:"):
                try:
                    out.append(json.loads(line[5:])["delta"]["text"])
                except (ValueError, KeyError, TypeError):
                    pass
    return "".join(out)


def message_body(
    *,
    text: str,
    model: str,
    message_id: str,
    input_tokens: int,
    max_tokens: int,
    stop_reason: str | None,
    cache: CacheUse | None = None,
) -> bytes:
    """A non-streaming `Message` reply."""
    pieces, reason = _cut(text, max_tokens, stop_reason)
    body = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "".join(pieces)}],
        "stop_reason": reason,
        "stop_sequence": None,
        "usage": _usage(input_tokens, max(len(pieces), 1), cache),
    }
    return json.dumps(body, ensure_ascii=False).encode()


def error_body(error_type: str, message: str, request_id: str) -> bytes:
    return json.dumps(
        {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}
    ).encode()


def error_event(error_type: str, message: str) -> Frame:
    return Frame(sse("error", {"type": "error", "error": {"type": error_type, "message": message}}))
