"""Where the history lives and how it is opened: permissions, WAL, busy timeout, versioned schema.

The database is `$CVSTREAM_HOME/history.db` if that is set, else `history.db` in the platform's user
data directory (platformdirs: `~/.local/share/cvstream/` on Linux). A new directory is made 0700 and a
new file 0600 (SQLite gives its -wal and -shm files the database file's mode).

Several cvstream processes write at once (`enhance --jobs`, scripts, tmux panes), so the database runs
in WAL mode (readers never block the writer) with `synchronous=NORMAL` (a commit survives a killed
process; only a power cut can lose the last ones) and a long busy timeout, and every write is a short
transaction that takes the write lock at its start, which is what keeps "database is locked" away.

The schema is versioned with `PRAGMA user_version`; `MIGRATIONS[i]` takes version i to i + 1 and runs
inside one `BEGIN IMMEDIATE` transaction, so two processes opening an old file at once migrate it once.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

DB_NAME = "history.db"
SETTINGS_NAME = "settings.json"
BUSY_TIMEOUT_S = 30.0
WAL_LIMIT_BYTES = 8 * 1024 * 1024  # the WAL is truncated to this after a checkpoint

_INDEXED = "CASE WHEN {0}.indexed THEN {0}.answer ELSE '' END"  # what the index held for a row (schema 2-3)
# What the index holds for a row from schema 4 on: nothing of the answer while it is listed as unindexed.
_HELD = "CASE WHEN EXISTS (SELECT 1 FROM answers_unindexed u WHERE u.id = {0}.id) THEN '' ELSE {0}.answer END"

# Version 1: the answers table. Version 2: the full-text index over the message and the answer, and the
# indexes `log --model` and `log stats` read. Version 3: the batch answers' index, so `log stats` prices
# them (at half price) without reading every answer. Version 4: the answers not yet in the full-text index
# are listed in a table of their own (the `indexed` column is no longer read): marking an answer indexed
# rewrote its row, the whole text again, at the end of every answer. Version 5: the insert trigger lists an
# answer inserted streaming (`partial`, not `indexed`) itself, and setting `indexed` ends the listing, so a
# cvstream of schema 2 or 3 still recording when a newer one migrated the file keeps the index exact.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE answers (
            id TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            created REAL NOT NULL,
            command TEXT NOT NULL,
            label TEXT,
            model TEXT NOT NULL,
            method TEXT,
            system TEXT,
            message TEXT NOT NULL,
            answer TEXT NOT NULL DEFAULT '',
            thinking TEXT NOT NULL DEFAULT '',
            stop_reason TEXT,
            status TEXT NOT NULL,
            error_kind TEXT,
            error_message TEXT,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_tokens INTEGER NOT NULL DEFAULT 0,
            ttft REAL,
            duration REAL,
            params TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX answers_conversation ON answers (conversation_id, id)",
        "CREATE INDEX answers_created ON answers (created)",
    ),
    (
        # The answer's text is indexed once, when it ends (`indexed` = 1): the text so far, rewritten every 2 s
        # while it streams, is not, or a long answer would be tokenized again at every update.
        "ALTER TABLE answers ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0",
        """CREATE VIRTUAL TABLE answers_fts USING fts5(
            message, answer, content='answers', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2'
        )""",
        "UPDATE answers SET indexed = 1",
        "INSERT INTO answers_fts (answers_fts) VALUES ('rebuild')",
        # The index must be told exactly what it holds for a row, so each trigger says it the same way.
        f"""CREATE TRIGGER answers_fts_insert AFTER INSERT ON answers BEGIN
            INSERT INTO answers_fts (rowid, message, answer) VALUES (new.rowid, new.message, {_INDEXED.format("new")});
        END""",
        f"""CREATE TRIGGER answers_fts_delete AFTER DELETE ON answers BEGIN
            INSERT INTO answers_fts (answers_fts, rowid, message, answer)
            VALUES ('delete', old.rowid, old.message, {_INDEXED.format("old")});
        END""",
        f"""CREATE TRIGGER answers_fts_update AFTER UPDATE OF message, indexed ON answers BEGIN
            INSERT INTO answers_fts (answers_fts, rowid, message, answer)
            VALUES ('delete', old.rowid, old.message, {_INDEXED.format("old")});
            INSERT INTO answers_fts (rowid, message, answer) VALUES (new.rowid, new.message, {_INDEXED.format("new")});
        END""",
        # Both cover `log stats` (by model, by day), whose scans then read a small index instead of every
        # answer's text; the first also serves `log --model`.
        """CREATE INDEX answers_model ON answers (
            model, created, status, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens
        )""",
        """CREATE INDEX answers_stats ON answers (
            created, model, status, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens
        )""",
    ),
    (
        """CREATE INDEX answers_batch ON answers (
            created, model, status, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens
        ) WHERE command = 'batch'""",
    ),
    (
        # An answer streaming in is listed here from before its row is written until it ends: while listed,
        # the index holds its message only (its text is rewritten every 2 s); when it ends the listing is
        # deleted and the trigger below indexes the text once, reading the row without writing it.
        "CREATE TABLE answers_unindexed (id TEXT PRIMARY KEY) WITHOUT ROWID",
        "INSERT INTO answers_unindexed (id) SELECT id FROM answers WHERE NOT indexed",
        "DROP TRIGGER answers_fts_insert",
        "DROP TRIGGER answers_fts_delete",
        "DROP TRIGGER answers_fts_update",
        f"""CREATE TRIGGER answers_fts_insert AFTER INSERT ON answers BEGIN
            INSERT INTO answers_fts (rowid, message, answer) VALUES (new.rowid, new.message, {_HELD.format("new")});
        END""",
        f"""CREATE TRIGGER answers_fts_delete AFTER DELETE ON answers BEGIN
            INSERT INTO answers_fts (answers_fts, rowid, message, answer)
            VALUES ('delete', old.rowid, old.message, {_HELD.format("old")});
            DELETE FROM answers_unindexed WHERE id = old.id;
        END""",
        f"""CREATE TRIGGER answers_fts_update AFTER UPDATE OF message ON answers BEGIN
            INSERT INTO answers_fts (answers_fts, rowid, message, answer)
            VALUES ('delete', old.rowid, old.message, {_HELD.format("old")});
            INSERT INTO answers_fts (rowid, message, answer) VALUES (new.rowid, new.message, {_HELD.format("new")});
        END""",
        # (The answer's row is gone when the listing is deleted by the trigger above: then both select nothing.)
        """CREATE TRIGGER answers_fts_index AFTER DELETE ON answers_unindexed BEGIN
            INSERT INTO answers_fts (answers_fts, rowid, message, answer)
            SELECT 'delete', rowid, message, '' FROM answers WHERE id = old.id;
            INSERT INTO answers_fts (rowid, message, answer)
            SELECT rowid, message, answer FROM answers WHERE id = old.id;
        END""",
    ),
    (
        # A process of schema 2 or 3 (started before the upgrade, as a long `serve --log`) inserts its answer
        # `partial` without listing it, rewrites its text, then sets `indexed`: unlisted, its first text went
        # into the index and the rewritten one was later "deleted" from it, which FTS5 takes as a corrupt index
        # (`log rm` and `log prune` then fail). A row inserted streaming is listed here whoever inserts it
        # (a batch result is inserted `complete` or `failed`: indexed at once); `indexed` set ends the listing.
        "DROP TRIGGER answers_fts_insert",
        f"""CREATE TRIGGER answers_fts_insert AFTER INSERT ON answers BEGIN
            INSERT OR IGNORE INTO answers_unindexed (id) SELECT new.id WHERE new.status = 'partial' AND NOT new.indexed;
            INSERT INTO answers_fts (rowid, message, answer) VALUES (new.rowid, new.message, {_HELD.format("new")});
        END""",
        """CREATE TRIGGER answers_indexed AFTER UPDATE OF indexed ON answers WHEN new.indexed AND NOT old.indexed
        BEGIN
            DELETE FROM answers_unindexed WHERE id = new.id;
        END""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class HistoryError(Exception):
    """The history cannot be used: `path` names the file, the message says why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


def data_dir(environ: Mapping[str, str]) -> Path:
    home = environ.get("CVSTREAM_HOME")
    if home:
        return Path(home).expanduser()
    from platformdirs import user_data_path

    return user_data_path("cvstream", appauthor=False)


def db_path(environ: Mapping[str, str]) -> Path:
    return data_dir(environ) / DB_NAME


def logging_enabled(environ: Mapping[str, str]) -> tuple[bool, str]:
    """Whether answers are recorded, and why: CVSTREAM_LOG=0 wins, then `cvstream log off|on`."""
    value = environ.get("CVSTREAM_LOG")
    if value is not None and value.strip() != "":
        on = value.strip().lower() not in ("0", "false", "no", "off")
        return on, "CVSTREAM_LOG"
    settings = read_settings(environ)
    if "log" in settings:
        return bool(settings["log"]), "cvstream log " + ("on" if settings["log"] else "off")
    return True, "default"


def read_settings(environ: Mapping[str, str]) -> dict[str, object]:
    try:
        loaded = json.loads((data_dir(environ) / SETTINGS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def write_setting(environ: Mapping[str, str], name: str, value: object) -> Path:
    """Store one setting beside the database (atomically: a crash leaves the old file or the new one)."""
    directory = data_dir(environ)
    _make_dir(directory)
    settings = read_settings(environ)
    settings[name] = value
    target = directory / SETTINGS_NAME
    tmp = target.with_name(f".{SETTINGS_NAME}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(settings, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, target)
    return target


def _make_dir(directory: Path) -> None:
    if not directory.is_dir():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def connect(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """An open, migrated connection in autocommit mode; raises HistoryError with the reason."""
    try:
        if not path.exists():
            if not create:
                raise HistoryError(path, "no history yet (nothing has been recorded)")
            _make_dir(path.parent)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # 0600 before SQLite writes a byte
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    except OSError as exc:
        raise HistoryError(path, exc.strerror or str(exc)) from exc
    except sqlite3.Error as exc:
        raise HistoryError(path, str(exc)) from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        _wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
        _no_checkpoint_on_close(conn)
        migrate(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        raise HistoryError(path, str(exc)) from exc
    except HistoryError:
        conn.close()
        raise
    return conn


def _no_checkpoint_on_close(conn: sqlite3.Connection) -> None:
    """Leave the WAL to SQLite's automatic checkpoints (every ~4 MB) instead of one per process.

    The last connection to close checkpoints the WAL into the database and fsyncs it: 10-20 ms at the
    end of every run on an ordinary disk, for a few kilobytes. Python 3.12+ can turn that off
    (`Connection.setconfig`); on 3.11 the checkpoint stays. Safe either way: a WAL left behind is the
    normal state of a WAL database, read by the next connection.
    """
    option = getattr(sqlite3, "SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE", None)
    setconfig = getattr(conn, "setconfig", None)
    if option is not None and setconfig is not None:
        setconfig(option, True)


def _wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL once (it is stored in the file); a race with another process doing the same is retried."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    version = user_version(conn)
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        reason = f"it was written by a newer cvstream (schema {version}, this one knows {SCHEMA_VERSION})"
        raise HistoryError(path, reason)
    with write_transaction(conn):
        version = user_version(conn)  # another process may have migrated while we waited for the lock
        for step in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[step]:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE (the write lock at the start: no "database is locked" midway) .. COMMIT; on any
    failure ROLLBACK, unless SQLite already rolled back itself (a full disk, out of memory), and re-raise."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
