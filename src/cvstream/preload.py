"""Start importing the SDK (~1 s) on a thread, so stdin and files are read while it loads.

The cyclic garbage collector is paused while the SDK imports: the import allocates a few hundred
thousand objects that all live as long as the process, and collecting among them costs about a fifth
of the import's time for nothing (README, Performance). The objects are then frozen (`gc.freeze()`),
so later collections do not walk them again, and collection resumes.
"""

from __future__ import annotations

import gc
import importlib
import sys
import threading


def preload_sdk(module: str = "cvstream.source") -> None:
    """Import `module` (which imports the SDK) on a daemon thread; its first use waits for it."""
    if module in sys.modules:
        return
    threading.Thread(target=_import, args=(module,), name="cvstream-preload", daemon=True).start()


def _import(module: str) -> None:
    gc.disable()
    try:
        importlib.import_module(module)
    finally:
        gc.freeze()
        gc.enable()
