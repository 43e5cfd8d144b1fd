"""Exit statuses and the errors cvstream reports.

Every failure the user can meet is a `CvstreamError`: a one-line `message` (what happened) and an
optional one-line `hint` (what to do), the `ExitStatus` the process ends with, and structured fields
(`kind`, `upstream_status`, `retry_after`, `request_id`) that each edge turns into its own words or HTTP
status: the CLI prints `error:`/`hint:` lines, `serve` picks a status code from `kind`. Nothing here
imports the SDK: `source.py` translates SDK and transport exceptions into these classes.

Redaction happens once, here: `redact()` is given every secret cvstream knows of (the key from any
source) and every error built from outside text is passed through it when it is made, so sinks, files,
logs and HTTP responses only ever see the redacted message.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum


class ExitStatus(IntEnum):
    """The documented exit codes (README, "Exit codes")."""

    OK = 0
    API_ERROR = 1  # the API answered with an error (400, 404, 413, 500, ...)
    USAGE = 2  # bad arguments or input, found before any request
    AUTH = 3  # no key, or the key was rejected (401, 403)
    RATE_LIMITED = 4  # rate limited or overloaded, after retries
    NETWORK = 5  # cannot connect, DNS, TLS, timeout
    INCOMPLETE = 6  # the answer stopped before its end (truncated, reset, malformed)
    OUTPUT = 7  # cannot write the output (a full disk, a non-writable --out-dir, stdout full)
    SOME_FAILED = 8  # `cvstream batch`: the batch ran, but some requests errored, expired or were canceled
    INTERNAL = 70  # a bug in cvstream (EX_SOFTWARE): report it
    HANGUP = 129  # SIGHUP
    INTERRUPTED = 130  # Ctrl-C (SIGINT)
    BROKEN_PIPE = 141  # stdout closed by the reader (`| head`)
    TERMINATED = 143  # SIGTERM


class CvstreamError(Exception):
    """A failure with a message for the user, a hint and an exit status."""

    status: ExitStatus = ExitStatus.API_ERROR
    kind: str = "api"  # what went wrong, for the edges: api, usage, auth, rate_limited, overloaded, ...

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        status: ExitStatus | None = None,
        kind: str | None = None,
        upstream_status: int | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if status is not None:
            self.status = status
        if kind is not None:
            self.kind = kind
        self.upstream_status = upstream_status  # the API's HTTP status, when it answered with an error
        self.retry_after = retry_after  # seconds the API asked us to wait, if it said
        self.request_id = request_id
        self.label: str | None = None  # the input it belongs to, when there are several

    def lines(self) -> list[str]:
        where = f"{self.label}: " if self.label else ""
        out = [f"error: {where}{self.message}"]
        if self.hint:
            out.append(f"hint: {self.hint}")
        return out

    def redacted(self, secrets: Iterable[str]) -> CvstreamError:
        """Remove every secret from the message and hint (in place; returns self for chaining)."""
        self.message = redact(self.message, secrets)
        if self.hint:
            self.hint = redact(self.hint, secrets)
        self.args = (self.message,)
        return self


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every real-length secret replaced (a one-letter test key would mangle every line)."""
    for secret in secrets:
        if len(secret) >= 8:
            text = text.replace(secret, "[redacted]")
    return text


class UsageError(CvstreamError):
    """Bad arguments or input: reported before any request is sent."""

    status = ExitStatus.USAGE
    kind = "usage"


class AuthError(CvstreamError):
    status = ExitStatus.AUTH
    kind = "auth"


class ApiError(CvstreamError):
    status = ExitStatus.API_ERROR
    kind = "api"


class RateLimitError(CvstreamError):
    """Rate limited (kind "rate_limited") or overloaded (kind "overloaded")."""

    status = ExitStatus.RATE_LIMITED
    kind = "rate_limited"


class NetworkError(CvstreamError):
    """Cannot connect (kind "connection"), or timed out / stalled (kind "timeout")."""

    status = ExitStatus.NETWORK
    kind = "connection"


class IncompleteError(CvstreamError):
    status = ExitStatus.INCOMPLETE
    kind = "incomplete"


class OutputError(CvstreamError):
    """The answer could not be written (disk full, permissions, a bad --out-dir)."""

    status = ExitStatus.OUTPUT
    kind = "output"


class Interrupted(CvstreamError):
    """Ctrl-C, SIGTERM or SIGHUP: the text so far is kept and the usage so far printed."""

    status = ExitStatus.INTERRUPTED
    kind = "interrupted"
