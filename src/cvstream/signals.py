"""Ctrl-C, SIGTERM and SIGHUP raised in the main thread as exceptions, for one clean stop; and the
process's end (`end_process`).

Python raises a signal's exception between any two bytecodes. While the run hands one event to the
history and the sink (`deferred`), that would lose the event from stdout after the history kept it (a
delta gone from the middle of the text), so there the exception waits until the step ends. A step that
does not end within `LONGEST_STEP` seconds is blocked in a write (a full pipe): it is raised there,
where the text is already in the stream's buffer.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

from cvstream.errors import ExitStatus

_SIGNALS = {signal.SIGTERM: ExitStatus.TERMINATED, signal.SIGHUP: ExitStatus.HANGUP}
LONGEST_STEP = 0.2  # seconds a signal may wait for the step it arrived in


class Signalled(BaseException):
    """SIGTERM or SIGHUP, raised in the main thread like KeyboardInterrupt for Ctrl-C."""

    def __init__(self, status: ExitStatus) -> None:
        super().__init__(status.name)
        self.status = status


class _Step:
    """The main thread's step in progress: while `active`, a signal's exception waits in `pending`."""

    active = False
    pending: BaseException | None = None


STEP = _Step()


def step_over() -> None:
    """End a deferred step (call it in a `finally`): a signal that arrived during it is raised now."""
    STEP.active = False
    if STEP.pending is not None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        pending, STEP.pending = STEP.pending, None
        raise pending


def _raise(exc: BaseException) -> None:
    if not STEP.active:
        raise exc
    if STEP.pending is None:
        STEP.pending = exc
        signal.setitimer(signal.ITIMER_REAL, LONGEST_STEP)


def _step_too_long(signum: int, frame: FrameType | None) -> None:
    if STEP.active and STEP.pending is not None:  # blocked in a write: stop here
        pending, STEP.pending = STEP.pending, None
        raise pending


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP as exceptions (only the main thread can install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT:
            _raise(KeyboardInterrupt())
        else:
            _raise(Signalled(_SIGNALS[signal.Signals(signum)]))

    handlers = {sig: handler for sig in (*_SIGNALS, signal.SIGINT)}
    handlers[signal.SIGALRM] = _step_too_long
    previous = {}
    for sig, new in handlers.items():
        if sig == signal.SIGINT and signal.getsignal(sig) is signal.SIG_IGN:
            continue  # started in the background (`cmd &`): Ctrl-C is not ours to take
        previous[sig] = signal.signal(sig, new)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def end_process(status: int) -> None:
    """End the process here, stdout and stderr flushed, when a daemon thread is still running: the SDK
    still importing after an early error, a response being closed after Ctrl-C. Finalizing the
    interpreter under such a thread crashed it (SIGSEGV) or hung it (the thread held a lock the
    finalizers wanted), under load; nothing is left to finalize (files and the history are closed)."""
    if not any(thread.daemon and thread.is_alive() for thread in threading.enumerate()):
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a reader gone: the status already says so
            pass
    os._exit(status)
