"""Pure diffs of a rewritten document: a unified diff for `patch`/`git apply`, word changes for the terminal."""

from __future__ import annotations

import difflib

_NO_NEWLINE = "\\ No newline at end of file\n"


def unified(name: str, before: str, after: str) -> str:
    """A unified diff `patch -p1` and `git apply` accept (a/NAME, b/NAME), or "" when nothing changed."""
    if before == after:
        return ""
    old = before.splitlines(keepends=True)
    new = after.splitlines(keepends=True)
    out: list[str] = []
    for line in difflib.unified_diff(old, new, f"a/{name}", f"b/{name}"):
        if line.startswith(("---", "+++", "@@")):
            out.append(line if line.endswith("\n") else line + "\n")
        elif line.endswith("\n"):
            out.append(line)
        else:  # the file's last line has no newline: say so, as diff(1) does
            out.append(line + "\n" + _NO_NEWLINE)
    return "".join(out)


def word_changes(before: str, after: str) -> list[tuple[str, str]]:
    """(kind, text) pieces, kind one of "same", "removed", "added"; words keep the space before them."""
    old, new = before.split(), after.split()
    pieces: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pieces.append(("same", " ".join(old[i1:i2])))
            continue
        if i2 > i1:
            pieces.append(("removed", " ".join(old[i1:i2])))
        if j2 > j1:
            pieces.append(("added", " ".join(new[j1:j2])))
    return pieces
