"""`cvstream ask`: a free prompt, with piped stdin included below it."""

from __future__ import annotations

from typing import Annotated

import typer

from cvstream.context import Env, env_of
from cvstream.errors import UsageError
from cvstream.flags import (
    BudgetFlags,
    HistoryFlags,
    InputFlags,
    NetworkFlags,
    OutputFlags,
    RequestFlags,
    SettingFlags,
    with_flags,
)

EPILOG = (
    "Examples:\n\n"
    '  cvstream ask "explain SSE in one paragraph"\n\n'
    '  git log -20 | cvstream ask "write release notes" > notes.md\n\n'
    '  cvstream ask --json "hi" | jq -c .type\n\n'
    '  while read -r q; do cvstream ask --no-stdin "$q"; done < questions.txt'
)


# `ask`'s own argument, shared with `cvstream count ask`.
PromptArg = Annotated[
    list[str] | None,
    typer.Argument(help="The instruction (words are joined by spaces).", show_default=False),
]


def read_inputs(
    env: Env, prompt: list[str] | None, request: RequestFlags, stdin: InputFlags
) -> tuple[list[tuple[str, str]], str | None]:
    """`ask`'s one input (label, user message) and its system text: what `ask` sends and `count ask` counts."""
    from cvstream.inputs import read_stdin
    from cvstream.launch import system_text
    from cvstream.prompt import ask_message

    piped = not env.stdin_isatty and not stdin.no_stdin
    stdin_text = read_stdin(env.stdin) if piped else None
    user = ask_message(list(prompt or []), stdin_text)
    if not user.strip():
        raise UsageError("no prompt given", 'pass one (cvstream ask "...") or pipe text on stdin')
    return [("prompt", user)], system_text(env, request, None)


@with_flags
def ask(
    ctx: typer.Context,
    prompt: PromptArg = None,
    settings: SettingFlags = SettingFlags(),
    request: RequestFlags = RequestFlags(),
    output: OutputFlags = OutputFlags(),
    network: NetworkFlags = NetworkFlags(),
    history: HistoryFlags = HistoryFlags(),
    stdin: InputFlags = InputFlags(),
    budget: BudgetFlags = BudgetFlags(),
) -> int:
    """Ask anything; piped stdin is included below the instruction.

    With both, the message is the instruction, a blank line, then the piped text inside
    <input> ... </input> tags. In a `while read` loop pass --no-stdin (or `< /dev/null`), or the
    first question reads the rest of the loop's input.
    """
    from cvstream.preload import preload_sdk

    preload_sdk()
    from cvstream.launch import output_mode, stream_answers

    env = env_of(ctx)
    mode = output_mode(env, output)
    inputs, system = read_inputs(env, prompt, request, stdin)
    return stream_answers(
        env,
        inputs,
        system,
        settings=settings,
        budget=budget,
        request=request,
        network=network,
        output=output,
        mode=mode,
        history=history,
        command="ask",
    )
