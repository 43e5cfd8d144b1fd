"""The Typer app and `main()`; the commands live in `commands/`, one module each, listed in COMMANDS there.

Nothing heavy is imported here: `--help`, `--version`, completion and `mock` never load the SDK. `main()`
wraps the app so exit codes hold everywhere (README, "Exit codes"): usage errors 2, Ctrl-C 130, a closed
stdout 141, internal errors 70, and no traceback unless --debug.
"""

from __future__ import annotations

import errno
import gc
import sys
from collections.abc import Iterable
from typing import Annotated, Any

import typer

from cvstream import __version__, sdk_version
from cvstream.commands import COMMANDS, commands_needed, register
from cvstream.context import Env, check_arguments
from cvstream.errors import CvstreamError, ExitStatus
from cvstream.signals import Signalled, end_process, signals_as_exceptions


def build_app(commands: Iterable[str] | str = tuple(COMMANDS)) -> typer.Typer:
    """The app with the given commands registered (all of them by default), or LISTING (see commands/)."""
    app = typer.Typer(
        name="cvstream",
        help="Stream Claude completions into your terminal and into other programs.",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    register(app, commands)
    return app


def _version(value: bool) -> None:
    if value:
        python = ".".join(str(p) for p in sys.version_info[:3])
        if sys.stdout is None:  # the shell closed it (`>&-`): echo would print nothing and exit 0
            raise OSError(errno.EBADF, "stdout is closed")
        typer.echo(f"cvstream {__version__} (anthropic SDK {sdk_version()}, Python {python})")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Show cvstream's, the SDK's and Python's versions.",
            callback=_version,
            is_eager=True,
            metavar="",
        ),
    ] = False,
) -> None:
    """Stream Claude completions into your terminal and into other programs.

    Answers render as Markdown on a terminal and as plain text in a pipe; --sse and --json are for programs.
    """


def _report(env: Env, args: list[str], error: BaseException, shown: CvstreamError) -> None:
    from cvstream.config import known_secrets
    from cvstream.report import Reporter

    try:
        secrets = known_secrets(env.environ, env.cwd)
    except Exception:  # a broken environment must not hide the error being reported
        secrets = tuple(env.environ.get(name, "") for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"))
    reporter = Reporter(env, secrets=secrets)
    if "--debug" in args:
        reporter.traceback(error)
    reporter.error(shown)


def main(argv: list[str] | None = None, env: Env | None = None) -> int:
    """Run cvstream; return the exit status (the console script passes it to sys.exit)."""
    if argv is not None:
        return _main(list(argv), env)
    status = _main(sys.argv[1:], env)
    gc.freeze()  # the process ends now: Python's last collection need not walk the SDK's objects (0.3 s)
    end_process(status)
    return status


def _main(args: list[str], env: Env | None) -> int:
    try:
        env = env or Env.from_process()
    except CvstreamError as exc:
        sys.stderr.write("\n".join(exc.lines()) + "\n")
        return int(exc.status)
    try:
        check_arguments(args)
        command = typer.main.get_command(build_app(commands_needed(args, env.environ)))
        with signals_as_exceptions():  # SIGTERM/SIGHUP before a run starts: the same clean stop as Ctrl-C
            result: Any = command.main(args=args, prog_name="cvstream", standalone_mode=False, obj=env)
        env.flush_stdout()
    except typer.Abort:
        return ExitStatus.INTERRUPTED
    except SystemExit as exc:  # click turns a write to a closed pipe into exit 1: it is 141 here, as elsewhere
        if exc.code == 1 and env.stdout_reader_gone():
            env.silence_stdout()
            return ExitStatus.BROKEN_PIPE
        raise
    except typer.TyperException as exc:  # click's usage errors, as Typer re-exports them
        show = getattr(exc, "show", None)
        show(file=env.stderr) if show else env.stderr.write(f"error: {exc.format_message()}\n")
        code = getattr(exc, "exit_code", 2)
        return ExitStatus.USAGE if code == 2 else int(code)
    except CvstreamError as exc:
        _report(env, args, exc, exc)
        return int(exc.status)
    except BrokenPipeError:
        env.silence_stdout()
        return ExitStatus.BROKEN_PIPE
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED
    except Signalled as exc:
        return exc.status
    except OSError as exc:  # stdout full or closed, a vanished working directory
        env.silence_stdout()
        _report(
            env,
            args,
            exc,
            CvstreamError(f"cannot write the output ({exc.strerror or exc})", status=ExitStatus.OUTPUT, kind="output"),
        )
        return ExitStatus.OUTPUT
    except Exception as exc:  # a bug: say so in one line, traceback only with --debug
        internal = CvstreamError(
            f"unexpected failure: {type(exc).__name__}: {exc}",
            "run again with --debug and report it",
            status=ExitStatus.INTERNAL,
            kind="internal",
        )
        _report(env, args, exc, internal)
        return ExitStatus.INTERNAL
    return ExitStatus.OK if result is None else int(result)
