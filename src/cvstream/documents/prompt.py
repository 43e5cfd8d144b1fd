"""Pure prompt building for whole documents: numbered bullets grouped under their context.

The user message looks like this (the job description part only with --job):

    Format: Markdown
    <bullets>
    # Experience › Acme Corp — Backend Engineer (2021–2024)
    [1] built the billing service in Python and Postgres
    [2] led a team of 4 engineers

    # Education
    [3] ...
    </bullets>

    <job_description>
    ...
    </job_description>
"""

from __future__ import annotations

from cvstream.documents.model import Document
from cvstream.prompt import JOB_CLOSE, JOB_OPEN

BULLETS_OPEN = "<bullets>"
BULLETS_CLOSE = "</bullets>"

DOCUMENT_SYSTEM = """\
You are an expert CV and résumé writer. The user sends the bullet points of a CV, numbered and grouped
under the section and role they belong to (the lines starting with "#" name that context).
Rewrite each bullet so that it is concise, specific and achievement-oriented.

Rules:
- Keep every fact the user gave: employers, products, tools, technologies, scope and results.
  Never invent facts, employers, tools or outcomes.
- Start each bullet with a strong, precise past-tense action verb (present tense for a current role
  if the user wrote it that way).
- Quantify only with numbers the user gave. Never make up metrics, percentages or amounts.
- Keep inline markup exactly as it is written in the bullet's format: Markdown bold, italics, links and
  code; LaTeX commands such as \\textbf{...}, \\href{...}{...} and \\% (braces must stay balanced; never
  add a % comment). Rewrite the words around the markup.
- If a job description is given, tailor word choice and emphasis to it, without adding facts.
- Answer with exactly one line per bullet, in the same order: "[n] rewritten bullet", where n is the
  bullet's number. Never merge, split, skip or renumber bullets; never repeat the context lines.
- Output only those lines. No title, no preamble, no explanations, no closing remarks."""

FORMAT_NAMES = {"markdown": "Markdown", "text": "plain text", "latex": "LaTeX", "docx": "plain text (Word)"}


def document_message(document: Document, job: str | None = None) -> str:
    lines = [f"Format: {FORMAT_NAMES[document.kind]}", BULLETS_OPEN]
    context: str | None = None
    for bullet in document.bullets:
        if bullet.context != context:
            if context is not None:
                lines.append("")
            context = bullet.context
            lines.append(f"# {context}" if context else "# (no section)")
        lines.append(f"[{bullet.number}] {bullet.text}")
    lines.append(BULLETS_CLOSE)
    message = "\n".join(lines)
    if job is not None and job.strip():
        message += f"\n\n{JOB_OPEN}\n{job.strip()}\n{JOB_CLOSE}"
    return message
