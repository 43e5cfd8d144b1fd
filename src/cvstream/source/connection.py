"""What to send (`Request`) and where (`Connection`): plain values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2

from cvstream.config import shown_url

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 180.0  # a silent gap this long mid-stream is a stall (the API pings far more often)
DEFAULT_MAX_RETRIES: int = anthropic.DEFAULT_MAX_RETRIES
DEFAULT_MAX_RETRY_WAIT = 60.0


@dataclass(frozen=True, slots=True)
class Request:
    model: str
    max_tokens: int
    user: str
    system: str | None = None
    thinking: bool = False
    effort: str | None = None
    history: tuple[tuple[str, str], ...] = ()  # earlier (user, assistant) turns, oldest first (--continue)

    def messages(self) -> list[dict[str, Any]]:
        """The earlier turns, then the new message. A cache breakpoint on the last earlier turn lets each
        follow-up read the conversation so far from the prompt cache instead of paying for it again."""
        messages: list[dict[str, Any]] = []
        for number, (user, assistant) in enumerate(self.history, 1):
            block: dict[str, Any] = {"type": "text", "text": assistant}
            if number == len(self.history):
                block["cache_control"] = {"type": "ephemeral"}
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": [block]}]
        messages.append({"role": "user", "content": self.user})
        return messages

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": self.messages(),
        }
        if self.system:
            params["system"] = self.system
        if self.thinking:
            params["thinking"] = {"type": "adaptive"}
        if self.effort:
            params["output_config"] = {"effort": self.effort}
        return params


@dataclass(frozen=True, slots=True)
class Connection:
    api_key: str | None = None
    auth_token: str | None = None
    base_url: str | None = None
    timeout: float | None = None  # connect and per-read, seconds
    max_retries: int = DEFAULT_MAX_RETRIES
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.api_key, self.auth_token) if s)

    @property
    def shown_url(self) -> str:
        """The base URL without any credentials in it, for messages."""
        return shown_url(self.base_url)

    def timeouts(self) -> httpx2.Timeout:
        if self.timeout is not None:
            return httpx2.Timeout(self.timeout, connect=self.timeout)
        return httpx2.Timeout(DEFAULT_READ_TIMEOUT, connect=DEFAULT_CONNECT_TIMEOUT)
