"""The Typer app and `main()`: commands are registered here and live in `commands/`, one module each.

Nothing heavy is imported here: `--help`, `--version`, completion and `mock` never load the SDK.
`main()` wraps the whole app so exit codes hold everywhere (README, "Exit codes"): usage errors 2,
Ctrl-C 130, a closed stdout 141, internal errors 70, and no traceback unless --debug.
"""

from __future__ import annotations

import errno
import sys
from typing import Annotated, Any

import typer

from cvstream import __version__
from cvstream.commands import ask, batch, completion, config, count, enhance, log, mock, models, serve
from cvstream.context import Env
from cvstream.errors import CvstreamError, ExitStatus, UsageError
from cvstream.signals import Signalled, signals_as_exceptions

app = typer.Typer(
    name="cvstream",
    help="Stream Claude completions into your terminal and into other programs.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command(epilog=enhance.EPILOG)(enhance.enhance)
app.command(epilog=ask.EPILOG)(ask.ask)
app.command(epilog=mock.EPILOG)(mock.mock)
app.command(epilog=serve.EPILOG)(serve.serve)
app.add_typer(config.app, name="config")
app.command(epilog=completion.EPILOG)(completion.completion)
app.add_typer(batch.batch_app)
app.add_typer(models.app, name="models")
app.add_typer(count.app, name="count")
app.add_typer(log.app, name="log")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            sdk = version("anthropic")
        except PackageNotFoundError:
            sdk = "not installed"
        python = ".".join(str(p) for p in sys.version_info[:3])
        if sys.stdout is None:  # the shell closed it (`>&-`): echo would print nothing and exit 0
            raise OSError(errno.EBADF, "stdout is closed")
        typer.echo(f"cvstream {__version__} (anthropic SDK {sdk}, Python {python})")
        raise typer.Exit()


@app.callback()
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


def _check_arguments(args: list[str]) -> None:
    """Arguments that are not UTF-8 (the OS hands them over as surrogate escapes) are refused up front."""
    for position, arg in enumerate(args, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
            raise UsageError(
                f"argument {position} is not valid UTF-8: {shown}", "convert it, for example with iconv"
            ) from None


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
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        env = env or Env.from_process()
    except CvstreamError as exc:
        sys.stderr.write("\n".join(exc.lines()) + "\n")
        return int(exc.status)
    try:
        _check_arguments(args)
        command = typer.main.get_command(app)
        with signals_as_exceptions():  # SIGTERM/SIGHUP before a run starts: the same clean stop as Ctrl-C
            result: Any = command.main(args=args, prog_name="cvstream", standalone_mode=False, obj=env)
        env.flush_stdout()
    except typer.Abort:
        return ExitStatus.INTERRUPTED
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
