"""The process environment as one object (streams, tty-ness, variables, cwd), so tests can replace it.

Also the two rich consoles built from it, with the colour rules applied everywhere, stderr included:
colour only on a terminal; NO_COLOR removes it; FORCE_COLOR forces it; TERM=dumb means plain text.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

if TYPE_CHECKING:
    from rich.console import Console


@dataclass
class Env:
    stdin: BinaryIO
    stdout: BinaryIO
    stderr: TextIO
    environ: Mapping[str, str] = field(default_factory=dict)
    cwd: Path = field(default_factory=Path.cwd)
    stdin_isatty: bool = False
    stdout_isatty: bool = False
    stderr_isatty: bool = False

    @classmethod
    def from_process(cls) -> Env:
        """The real process; a closed stdin reads as empty, a closed stdout fails at the first write."""
        from cvstream.errors import UsageError

        try:
            cwd = Path.cwd()
        except FileNotFoundError:
            raise UsageError("the working directory no longer exists", "cd to an existing directory") from None
        stderr = sys.stderr if sys.stderr is not None else io.TextIOWrapper(io.BytesIO())
        return cls(
            stdin=sys.stdin.buffer if sys.stdin is not None else io.BytesIO(),
            stdout=sys.stdout.buffer if sys.stdout is not None else _Closed(),  # type: ignore[arg-type]
            stderr=stderr,
            environ=os.environ,
            cwd=cwd,
            stdin_isatty=sys.stdin is not None and sys.stdin.isatty(),
            stdout_isatty=sys.stdout is not None and sys.stdout.isatty(),
            stderr_isatty=sys.stderr is not None and sys.stderr.isatty(),
        )

    def flush_stdout(self) -> None:
        """Flush now, so a full disk is reported as an error rather than at interpreter exit."""
        self.stdout.flush()
        if self.stdout is getattr(sys.stdout, "buffer", None):
            sys.stdout.flush()

    @property
    def dumb_terminal(self) -> bool:
        return self.environ.get("TERM", "") in ("dumb", "unknown")

    def _console(self, file: TextIO, isatty: bool) -> Console:
        from rich.console import Console

        environ = dict(self.environ)
        force = True if isatty and not self.dumb_terminal else None
        return Console(
            file=file,
            force_terminal=force,
            no_color="NO_COLOR" in environ or None,
            highlight=False,
            soft_wrap=False,
            _environ=environ,
        )

    def stdout_reader_gone(self) -> bool:
        """Did stdout's reader close it? Either the pipe says so (a write would fail with EPIPE), or stdout
        was already pointed at /dev/null after a failed write (rich's Console does that, then exits 1)."""
        import select

        try:
            fd = self.stdout.fileno()
            poller = select.poll()
            poller.register(fd, select.POLLOUT)
            if any(events & select.POLLERR for _, events in poller.poll(0)):
                return True
            now, devnull = os.fstat(fd), os.stat(os.devnull)
            return (now.st_dev, now.st_ino) == (devnull.st_dev, devnull.st_ino)
        except (OSError, ValueError, AttributeError):  # not a file descriptor (tests), or already closed
            return False

    def silence_stdout(self) -> None:
        """After a broken pipe: point fd 1 at /dev/null so the interpreter's final flush cannot fail."""
        if sys.stdout is None or self.stdout is not sys.stdout.buffer:
            return
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass

    def stderr_console(self) -> Console:
        return self._console(self.stderr, self.stderr_isatty)

    def stdout_console(self) -> Console:
        if self.stdout is getattr(sys.stdout, "buffer", None):
            return self._console(sys.stdout, self.stdout_isatty)
        return self._console(_Utf8Writer(self.stdout), self.stdout_isatty)  # type: ignore[arg-type]


class _Closed(io.RawIOBase):
    """stdout when the shell closed it (`>&-`): every write fails with a clear reason."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raise OSError(errno.EBADF, "stdout is closed")


class _Utf8Writer(io.TextIOBase):
    """Text on top of a byte stream that, unlike TextIOWrapper, never closes it."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def write(self, text: str) -> int:
        self._out.write(text.encode())
        return len(text)

    def flush(self) -> None:
        self._out.flush()

    def isatty(self) -> bool:
        return self._out.isatty()


def env_of(ctx: Any) -> Env:
    """The Env `main()` hands every command (a fresh one when Typer runs a command some other way)."""
    env = getattr(ctx, "obj", None)
    return env if isinstance(env, Env) else Env.from_process()


def check_arguments(args: list[str]) -> None:
    """Arguments that are not UTF-8 (the OS hands them over as surrogate escapes) are refused up front."""
    from cvstream.errors import UsageError

    for position, arg in enumerate(args, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
            raise UsageError(
                f"argument {position} is not valid UTF-8: {shown}", "convert it, for example with iconv"
            ) from None
