"""SIGTERM and SIGHUP raised in the main thread as exceptions, so they get Ctrl-C's clean stop."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from cvstream.errors import ExitStatus

_SIGNALS = {signal.SIGTERM: ExitStatus.TERMINATED, signal.SIGHUP: ExitStatus.HANGUP}


class Signalled(BaseException):
    """SIGTERM or SIGHUP, raised in the main thread like KeyboardInterrupt for Ctrl-C."""

    def __init__(self, status: ExitStatus) -> None:
        super().__init__(status.name)
        self.status = status


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """SIGTERM and SIGHUP get the same clean stop as Ctrl-C (only the main thread can install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        raise Signalled(_SIGNALS[signal.Signals(signum)])

    previous = {sig: signal.signal(sig, handler) for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
