"""The Typer app and `main()`: commands are registered here and live in `commands/`, one module each.

Nothing heavy is imported here: `--help`, `--version`, completion and `mock` never load the SDK.
`main()` wraps the whole app so exit codes hold everywhere (README, "Exit codes"): usage errors 2,
Ctrl-C 130, a closed stdout 141, internal errors 70, and no traceback unless --debug.
"""

from __future__ import annotations

import errno
import gc
import importlib
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

import typer

from cvstream import __version__
from cvstream.context import Env
from cvstream.errors import CvstreamError, ExitStatus, UsageError
from cvstream.signals import Signalled, signals_as_exceptions

# Each command: its module in cvstream.commands exports a function (registered with the module's
# EPILOG) or a Typer group named `app`; the line `cvstream --help` shows for it. A run imports only the
# module of the command it names, and `cvstream --help` imports none (a test checks the two listings agree).
COMMANDS: dict[str, tuple[str, str]] = {
    "enhance": ("enhance", "Rewrite CV bullets: strong verbs, every fact kept, one bullet out per bullet in."),
    "ask": ("ask", "Ask anything; piped stdin is included below the instruction."),
    "mock": ("mock", "Run a loopback Anthropic Messages API for trying cvstream and testing scripts without a key."),
    "serve": ("serve", "Serve the web app's streaming route, so its front-end streams through cvstream unchanged."),
    "completion": (
        "completion",
        "Print the completion script for a shell (generated from this app; see README, Shell completions).",
    ),
    "config": ("app", "Show every setting's resolved value and where it came from."),
    "batch": ("app", "Thousands of inputs through the Message Batches API: half price, results within 24 hours."),
    "models": ("app", "List the models (from the Models API, cached for a day); `models show ID` shows one."),
    "count": (
        "app",
        "Count the input tokens of an `ask` or `enhance` run before sending it (free: nothing is generated).",
    ),
    "log": ("app", "Find, show and manage recorded answers (every answer is kept unless logging is off)."),
}
LISTING = "listing"  # build_app(LISTING): every command as a name and its line, for the top-level help
ROOT_FLAGS = {"--version", "-V", "--help", "-h", "--install-completion", "--show-completion"}


def build_app(commands: Iterable[str] | str = tuple(COMMANDS)) -> typer.Typer:
    """The app with the given commands registered (all of them by default), or LISTING."""
    app = typer.Typer(
        name="cvstream",
        help="Stream Claude completions into your terminal and into other programs.",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    if commands == LISTING:
        for name, (_, summary) in COMMANDS.items():
            app.command(name, help=summary)(_listed)
        return app
    for name in commands:
        module = importlib.import_module(f"cvstream.commands.{name}")
        target = getattr(module, COMMANDS[name][0])
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name, epilog=module.EPILOG)(target)
    return app


def _listed() -> None:
    """Never run: a named command is always built for real (commands_needed)."""


def commands_needed(args: list[str], environ: Mapping[str, str]) -> Iterable[str] | str:
    """What a run with these arguments reaches: the command it names, none for --version, else LISTING."""
    if "_CVSTREAM_COMPLETE" in environ:  # shell completion walks the whole tree
        return tuple(COMMANDS)
    for arg in args:
        if arg in ("--version", "-V"):
            return ()
        if arg not in ROOT_FLAGS:
            return (arg,) if arg in COMMANDS else LISTING  # an unknown name: click names the real ones
        if arg in ("--help", "-h"):
            return LISTING
    return LISTING


def _sdk_version() -> str:
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


def _version(value: bool) -> None:
    if value:
        python = ".".join(str(p) for p in sys.version_info[:3])
        if sys.stdout is None:  # the shell closed it (`>&-`): echo would print nothing and exit 0
            raise OSError(errno.EBADF, "stdout is closed")
        typer.echo(f"cvstream {__version__} (anthropic SDK {_sdk_version()}, Python {python})")
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
    try:
        return _main(list(sys.argv[1:] if argv is None else argv), env)
    finally:
        if argv is None:  # the process ends now: Python's last collection need not walk the SDK's objects
            gc.freeze()  # (0.3 s at exit once the SDK is loaded; README, Performance)


def _main(args: list[str], env: Env | None) -> int:
    try:
        env = env or Env.from_process()
    except CvstreamError as exc:
        sys.stderr.write("\n".join(exc.lines()) + "\n")
        return int(exc.status)
    try:
        _check_arguments(args)
        command = typer.main.get_command(build_app(commands_needed(args, env.environ)))
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
