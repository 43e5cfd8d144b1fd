"""Pure: prompt-cache accounting for `cvstream mock`, the way the API does it (see `cache_use`)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The smallest prefix (in tokens) each model caches; shorter ones are silently not cached, as by the API.
_MIN_CACHEABLE = (
    ("claude-opus-4-6", 4096),
    ("claude-opus-4-5", 4096),
    ("claude-haiku-4-5", 4096),
    ("claude-sonnet-4-6", 2048),
    ("claude-3-5-haiku", 2048),
    ("claude-3-haiku", 2048),
)
DEFAULT_MIN_CACHEABLE = 1024
CACHE_TTL_S = 300.0  # "ephemeral": five minutes, refreshed by each read


@dataclass(frozen=True, slots=True)
class CacheUse:
    read: int = 0  # cache_read_input_tokens
    write: int = 0  # cache_creation_input_tokens

    @property
    def total(self) -> int:
        return self.read + self.write


def min_cacheable(model: str) -> int:
    return next((n for prefix, n in _MIN_CACHEABLE if model.startswith(prefix)), DEFAULT_MIN_CACHEABLE)


def _blocks(body: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
    """The request's content blocks in cache order (tools, system, messages): (identity, text, marked)."""
    out: list[tuple[str, str, bool]] = []

    def add(role: str, block: Any) -> None:
        if not isinstance(block, dict):
            block = {"type": "text", "text": str(block)}
        marked = isinstance(block.get("cache_control"), dict)
        plain = {k: v for k, v in block.items() if k != "cache_control"}
        text = str(plain.get("text", "")) if plain.get("type", "text") == "text" else json.dumps(plain)
        out.append((role + ":" + json.dumps(plain, sort_keys=True), text, marked))

    for tool in body.get("tools") or []:
        add("tool", tool)
    system = body.get("system")
    for block in [system] if isinstance(system, str) else system or []:
        add("system", block)
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        for block in [content] if isinstance(content, str) else content or []:
            add(str(message.get("role")), block)
    return out


def cache_use(body: Mapping[str, Any], cache: dict[str, float], now: float) -> CacheUse:
    """Prompt-cache accounting the way the API does it, over `cache` (prefix hash -> expiry; updated).

    A prefix ending at a block marked with `cache_control` is written on first use if it is at least
    the model's minimum cacheable length, and read by later requests that begin with it; a request
    also reads the longest cached prefix ending at an earlier block boundary (the API looks back up
    to 20 blocks), so a conversation's turn N reads what turn N-1 wrote and writes only the new part.
    Approximation: a prefix's token count is its text length / 4 (rounded up), like the mock's
    input-token estimate; the API's tokenizer counts differently, so compare ratios, not exact figures.
    """
    blocks = _blocks(body)
    marks = [i for i, (_, _, marked) in enumerate(blocks) if marked]
    if not marks:
        return CacheUse()
    digest = hashlib.sha256(str(body.get("model")).encode())
    hashes: list[str] = []
    tokens: list[int] = []
    chars = 0
    for identity, text, _ in blocks[: marks[-1] + 1]:
        digest.update(identity.encode() + b"\0")
        hashes.append(digest.copy().hexdigest())
        chars += len(text)
        tokens.append(math.ceil(chars / 4))
    lookback = range(max(0, marks[-1] - 20), marks[-1] + 1)
    hit = max((i for i in lookback if cache.get(hashes[i], 0.0) > now), default=-1)
    read = tokens[hit] if hit >= 0 else 0
    if hit >= 0:
        cache[hashes[hit]] = now + CACHE_TTL_S
    write = 0
    for mark in marks:
        if mark > hit and tokens[mark] >= min_cacheable(str(body.get("model"))):
            cache[hashes[mark]] = now + CACHE_TTL_S
            write = tokens[mark] - read
    return CacheUse(read, write)
