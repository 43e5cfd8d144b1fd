"""signals.py: a signal's exception waits for the step in hand, unless the step is blocked."""

from __future__ import annotations

import os
import signal
import time

import pytest

from cvstream.errors import ExitStatus
from cvstream.signals import STEP, Signalled, signals_as_exceptions, step_over


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("sig", "raised"), [(signal.SIGTERM, Signalled), (signal.SIGINT, KeyboardInterrupt)])
def test_a_signal_during_a_step_is_raised_when_the_step_ends(sig: signal.Signals, raised: type) -> None:
    done = []
    with signals_as_exceptions(), pytest.raises(raised):
        STEP.active = True
        try:
            os.kill(os.getpid(), sig)  # its handler runs at the next bytecode: inside the step
            done.append("the rest of the step")
        finally:
            step_over()
    assert done == ["the rest of the step"] and STEP.pending is None and not STEP.active


@pytest.mark.timeout(20)
def test_a_step_blocked_in_a_call_is_interrupted_after_longest_step() -> None:
    with signals_as_exceptions(), pytest.raises(Signalled) as raised:
        STEP.active = True
        try:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(15)  # stands for a write blocked on a full pipe: SIGALRM ends it
        finally:
            step_over()
    assert raised.value.status == ExitStatus.HANGUP and STEP.pending is None


@pytest.mark.timeout(20)
def test_outside_a_step_a_signal_is_raised_at_once_and_the_handlers_are_restored_after() -> None:
    before = [signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM)]
    with signals_as_exceptions(), pytest.raises(Signalled):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(15)
    assert [signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM)] == before
