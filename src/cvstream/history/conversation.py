"""The conversation `ask -c`/`--cid` continues, read back from the history.

`continuation` reads a conversation back as the `messages` history to send (user and assistant texts,
oldest first), with its system text and model. Imported only when a run continues one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cvstream.errors import CvstreamError, UsageError
from cvstream.history.db import HistoryError, connect, db_path


@dataclass(frozen=True)
class Continuation:
    conversation_id: str
    turns: tuple[tuple[str, str], ...]  # (user, assistant) pairs, oldest first
    system: str | None  # the latest turn's system text
    model: str  # the latest turn's model
    partial: tuple[str, ...] = ()  # ids of partial answers sent as they were received
    skipped: int = 0  # failed turns with no answer text (nothing to send for them)


def continuation(environ: Mapping[str, str], cid: str | None) -> Continuation:
    """The conversation `cid` (a unique id prefix), or if None the latest `ask`/`enhance` one."""
    from cvstream.history import queries

    path = db_path(environ)
    hint = "`cvstream log` lists recorded answers; start a conversation without -c/--cid"
    if not path.exists():
        raise UsageError("cannot continue: no conversation is recorded yet", hint)
    try:
        conn = connect(path, create=False)
    except HistoryError as exc:
        raise CvstreamError(f"cannot continue: cannot open the history {exc.path} ({exc.reason})", hint) from None
    try:
        if cid is None:
            conversation_id = queries.latest_conversation(conn)  # the latest ask/enhance one, never a batch result
            if conversation_id is None:
                raise UsageError(
                    "cannot continue: no ask or enhance conversation is recorded yet",
                    "--cid ID continues any recorded answer, a batch result too (`cvstream log` lists them)",
                )
        else:
            try:
                conversation_id = queries.resolve_conversation(conn, cid)
            except queries.IdLookupError as exc:
                raise UsageError(f"cannot continue: {exc}", hint) from None
        rows = queries.conversation(conn, conversation_id)
    finally:
        conn.close()
    kept = [r for r in rows if r["answer"]]
    last = rows[-1]
    return Continuation(
        conversation_id=conversation_id,
        turns=tuple((str(r["message"]), str(r["answer"])) for r in kept),
        system=last["system"],
        model=str(last["model"]),
        partial=tuple(str(r["id"]) for r in kept if r["status"] != "complete"),
        skipped=len(rows) - len(kept),
    )
