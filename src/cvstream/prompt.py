"""Pure prompt building: bullets, arguments and stdin text in; user message and system text out.

Reads no files and knows nothing of the SDK; `inputs.py` reads files, `cli.py` and `serve.py` call these.
"""

from __future__ import annotations

import re

ENHANCE_SYSTEM = """\
You are an expert CV and résumé writer. The user sends CV bullet points, one per line.
Rewrite each bullet so that it is concise, specific and achievement-oriented.

Rules:
- Keep every fact the user gave: employers, products, tools, technologies, scope and results.
  Never invent facts, employers, tools or outcomes.
- Start each bullet with a strong, precise past-tense action verb (present tense for a current role
  if the user wrote it that way).
- Quantify only with numbers the user gave. Never make up metrics, percentages or amounts.
- Write exactly one output bullet per input bullet, in the same order.
- If a job description is given, tailor word choice and emphasis to it, without adding facts.
- Output only the rewritten bullets, each on its own line starting with "- ".
  No title, no preamble, no explanations, no closing remarks."""

# `-`, `*`, `+`, `•`, `1.` or `1)` at the start of a line, with the spaces around it.
_MARKER = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+|^\s*(?:[-*+•]|\d+[.)])$")

JOB_OPEN = "<job_description>"
JOB_CLOSE = "</job_description>"
INPUT_OPEN = "<input>"
INPUT_CLOSE = "</input>"


def parse_bullets(text: str) -> list[str]:
    """The non-empty lines of `text`, list markers and surrounding spaces stripped."""
    bullets = []
    for line in text.splitlines():
        stripped = _MARKER.sub("", line, count=1).strip()
        if stripped:
            bullets.append(stripped)
    return bullets


def enhance_message(bullets: list[str], job: str | None = None) -> str:
    """The user message for `enhance`: the bullets joined by newlines, as the web app does.

    A job description, when given, follows as a second part inside <job_description> tags.
    """
    message = "\n".join(bullets)
    if job is not None and job.strip():
        message += f"\n\n{JOB_OPEN}\n{job.strip()}\n{JOB_CLOSE}"
    return message


def ask_message(words: list[str], stdin_text: str | None) -> str:
    """The user message for `ask`.

    Layout with both an instruction and piped input:

        <instruction words>

        <input>
        <stdin text>
        </input>

    With only one of them, the message is that text alone.
    """
    instruction = " ".join(words).strip()
    piped = stdin_text.strip("\n") if stdin_text is not None else ""
    if instruction and piped.strip():
        return f"{instruction}\n\n{INPUT_OPEN}\n{piped}\n{INPUT_CLOSE}"
    return instruction or piped
