"""Exit statuses and the errors cvstream reports.

Every failure the user can meet is a `CvstreamError`: a one-line `message` (what happened) and an
optional one-line `hint` (what to do), plus the `ExitStatus` the process ends with. Code that meets
a failure raises one of these; `run.py` and `cli.py` print it and exit. Nothing here imports the SDK:
`source.py` translates SDK and transport exceptions into these classes.
"""

from __future__ import annotations

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
    INTERRUPTED = 130  # Ctrl-C
    BROKEN_PIPE = 141  # stdout closed by the reader (`| head`)


class CvstreamError(Exception):
    """A failure with a message for the user, a hint and an exit status."""

    status: ExitStatus = ExitStatus.API_ERROR
    upstream_status: int | None = None  # the API's HTTP status, when it answered with an error
    retry_after: float | None = None  # seconds the API asked us to wait, if it said

    def __init__(self, message: str, hint: str | None = None, *, status: ExitStatus | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if status is not None:
            self.status = status

    def lines(self) -> list[str]:
        out = [f"error: {self.message}"]
        if self.hint:
            out.append(f"hint: {self.hint}")
        return out


class UsageError(CvstreamError):
    """Bad arguments or input: reported before any request is sent."""

    status = ExitStatus.USAGE


class AuthError(CvstreamError):
    status = ExitStatus.AUTH


class ApiError(CvstreamError):
    status = ExitStatus.API_ERROR


class RateLimitError(CvstreamError):
    status = ExitStatus.RATE_LIMITED


class NetworkError(CvstreamError):
    status = ExitStatus.NETWORK


class IncompleteError(CvstreamError):
    status = ExitStatus.INCOMPLETE


class Interrupted(CvstreamError):
    """Ctrl-C: the text so far is kept and the usage so far printed."""

    status = ExitStatus.INTERRUPTED
