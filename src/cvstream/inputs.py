"""Reading the user's files and stdin, with every check that must fail before a request is sent.

Rules (README, "Input rules"): text must be UTF-8 (invalid bytes are refused, not replaced: a
garbled prompt still costs tokens), must not contain NUL bytes, and must be at most `MAX_INPUT_BYTES`.
"""

from __future__ import annotations

import errno
import os
import shlex
from pathlib import Path
from typing import BinaryIO

from cvstream.errors import UsageError

MAX_INPUT_BYTES = 1024 * 1024  # 1 MiB: far beyond any context window's worth of CV text


def decode_input(data: bytes, label: str) -> str:
    """Check and decode the bytes of one input; `label` names it in errors."""
    if len(data) > MAX_INPUT_BYTES:
        raise UsageError(
            f"{label} is {len(data):,} bytes, over the limit of {MAX_INPUT_BYTES:,} bytes",
            "split it into smaller parts",
        )
    if b"\x00" in data:
        raise UsageError(f"{label} looks binary (it contains NUL bytes)", "pass a UTF-8 text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{label} is not valid UTF-8 (bad byte at offset {exc.start})",
            f"convert it first, for example: iconv -f latin1 -t utf-8 {shlex.quote(label)} > fixed.txt",
        ) from None
    return text.removeprefix("\ufeff")  # a byte order mark (Windows editors add one) is not part of the text


def read_file(path: str, cwd: Path) -> str:
    """Read a text file given on the command line."""
    return decode_input(read_bytes(path, cwd), path)


def read_bytes(path: str, cwd: Path) -> bytes:
    """Read a file given on the command line, with the same checks of existence, type, size and access."""
    full = Path(path) if os.path.isabs(path) else cwd / path
    if not full.exists():
        if full.is_symlink():
            try:
                full.resolve(strict=True)
            except RuntimeError:  # Python 3.11 reports a loop this way
                raise UsageError(f"{path}: a symbolic link loop", "point the link at a real file") from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise UsageError(f"{path}: a symbolic link loop", "point the link at a real file") from None
            raise UsageError(f"{path}: a broken symbolic link", "point the link at a real file")
        raise UsageError(f"{path}: no such file", "check the path")
    if full.is_dir():
        raise UsageError(f"{path} is a directory, not a file", "pass a text file")
    try:
        size = full.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise UsageError(
                f"{path} is {size:,} bytes, over the limit of {MAX_INPUT_BYTES:,} bytes",
                "split it into smaller parts",
            )
        with full.open("rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except PermissionError:
        raise UsageError(f"{path}: permission denied", "check the file's permissions") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror})") from None
    return data


def read_stdin(stdin: BinaryIO) -> str:
    return decode_input(stdin.read(MAX_INPUT_BYTES + 1), "stdin")
