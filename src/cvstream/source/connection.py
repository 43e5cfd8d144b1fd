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

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": [{"role": "user", "content": self.user}],
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
