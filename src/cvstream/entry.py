"""The console script's entry (`cvstream = "cvstream.entry:run"`) and `python -m cvstream`'s.

It imports nothing itself, so it is in place before cvstream's modules load: a Ctrl-C in that first tenth
of a second (Python raises KeyboardInterrupt wherever the main thread is, inside an import too) ends with
status 130 and no traceback, as a Ctrl-C does once cvstream runs (`cli.main` handles it from there on).
"""

from __future__ import annotations

import os
import sys
import threading

INTERRUPTED = 130  # ExitStatus.INTERRUPTED: errors.py may be the very module that was loading


def run() -> int:
    try:
        from cvstream.cli import main

        return main()
    except KeyboardInterrupt:
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass
        if any(thread.daemon and thread.is_alive() for thread in threading.enumerate()):
            os._exit(INTERRUPTED)  # as signals.end_process: no interpreter finalization under the SDK's import
        return INTERRUPTED
