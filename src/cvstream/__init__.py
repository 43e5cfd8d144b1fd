"""cvstream: stream Claude completions into a terminal and into other programs."""

import os
import sys

__version__ = "0.1.0"


def sdk_version() -> str:
    """The installed SDK's version from its dist-info METADATA (importlib.metadata costs ~25 ms to import)."""
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for name in names:
            if name.startswith("anthropic-") and name.endswith(".dist-info"):
                try:
                    with open(os.path.join(folder, name, "METADATA"), encoding="utf-8") as metadata:
                        for line in metadata:
                            if line.startswith("Version:"):
                                return line.split(":", 1)[1].strip()
                except OSError:
                    pass
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("anthropic")
    except PackageNotFoundError:
        return "not installed"
