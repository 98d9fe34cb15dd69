"""The SQLite engine: one file, WAL, ``BEGIN IMMEDIATE`` as the write lock.

Sequence numbers are ``max(sequence) + 1`` of the execution, read inside the
write transaction: SQLite has one writer at a time, so no other process can
take a number between the read and the commit.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from otel_obs.redaction import finite_json

from .. import schema, statements
from .base import Statements

#: SQLite page cache of a dedicated writer (a writer process), in KiB; a writer
#: inside the agent's process keeps SQLite's default (2 MiB).
DEDICATED_CACHE_KIB = 65_536
#: Not ASCII-escaped: a lone surrogate then fails the statement (and the batch is made
#: safe) instead of reaching SQLite as an escape it would store as invalid UTF-8.
_PARAMS_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False)
_SURROGATE = re.compile("[\ud800-\udfff]")
#: The range of SQLite's integers.
_INT_MIN, _INT_MAX = -(1 << 63), (1 << 63) - 1


class SQLiteEngine:
    name = "sqlite"
    statements = Statements(
        heartbeat=statements.HEARTBEAT_SQL,
        wave_count=statements.WAVE_COUNT_SQL,
        wave_statistics=statements.WAVE_STATISTICS_SQL,
        skill_count=statements.SKILL_COUNT_SQL,
        link=statements.LINK_SQL,
        waiting=statements.WAITING_SQL,
        released=statements.RELEASED_SQL,
        unmapped=statements.UNMAPPED_SQL,
        link_lookup=statements.LINK_LOOKUP_SQL,
        pending=statements.PENDING_SQL,
    )
    #: What a write of a batch may meet that is not a bug: SQLite's errors, the file's,
    #: and values SQLite cannot bind ("value" ones are made safe).
    errors: tuple[type[BaseException], ...] = (
        sqlite3.Error,
        OSError,
        OverflowError,
        UnicodeError,
        TypeError,
        ValueError,
    )
    transient = frozenset({"disk_full", "locked"})
    checkpoints = True

    def begin(self, conn: Any) -> None:
        """``BEGIN IMMEDIATE``: the file's write lock at once, not at the first write."""
        conn.execute("BEGIN IMMEDIATE")

    def open_writer(self, location: Any, *, busy_timeout_ms: int, dedicated: bool) -> Any:
        """A connection to the file, in WAL mode, its schema up to date (raises on failure)."""
        path = Path(location)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            if dedicated:
                # The index pages of a large store stay cached instead of re-read.
                conn.execute(f"PRAGMA cache_size = -{DEDICATED_CACHE_KIB}")
                # Checkpoints run on a thread of their own (see wal_checkpoint).
                conn.execute("PRAGMA wal_autocheckpoint = 0")
            schema.migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def writable_problem(self, location: Any) -> str | None:
        """Why a writer could not write this file (None when it can), in one line.

        The store is opened as the writer would open it (created, its schema brought
        up to date) and written once: a command that "succeeded" while its writer
        dropped every row in the background would lose data silently.
        """
        path = Path(location)
        if path.exists():
            if path.is_dir():
                return "is a directory, not a store file"
            if not path.is_file():
                return "is not a regular file (a FIFO, socket or device)"
            with open(path, "rb") as head:
                magic = head.read(16)
            if magic and magic != b"SQLite format 3\x00":
                return "is not a SQLite database"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            return f"cannot create its folder: {error.strerror or error}"
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=10)
        except sqlite3.Error as error:
            return f"cannot open it: {error}"
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
            ).fetchone()[0]
            if version > schema.SCHEMA_VERSION:
                return (
                    f"its schema version {version} is newer than this otel-obs "
                    f"writes ({schema.SCHEMA_VERSION}); upgrade otel-obs, or use another store"
                )
            if version == 0 and tables:
                return "is another application's SQLite database (no otel-obs schema)"
            conn.execute("PRAGMA journal_mode = WAL")
            schema.migrate(conn)
            # One real write (the version, unchanged): a read-only file, folder or mount
            # fails here.
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except (sqlite3.Error, schema.SchemaTooNewError) as error:
            return f"cannot write to it: {error}"
        finally:
            conn.close()
        return None

    def identity(self, location: Any) -> tuple[int, int] | None:
        """The file's device and inode: another file at the path is another store."""
        try:
            st = os.stat(location)
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def binds_rows(self, dedicated: bool) -> bool:
        # A dedicated writer binds each row. Inside the agent's process, one statement
        # per group over a JSON array instead: SQLite then runs the whole group without
        # the GIL, where executemany hands the GIL back and forth once per row and
        # starves (and is starved by) the agent's threads.
        return dedicated

    def write_rows(self, conn: Any, sql: str, params: list[Any]) -> None:
        conn.executemany(sql, params)

    def rows_text(self, params: list[Any]) -> str:
        return finite_json(_PARAMS_ENCODER, params)

    def upsert_sql(self, table: str, phase: str, columns: tuple[str, ...], bound: bool) -> str:
        return statements.upsert_sql(table, phase, columns, bound)

    def claim_sequences(self, conn: Any, executions: Iterable[str]) -> dict[str, int]:
        return {
            execution_id: conn.execute(
                "SELECT COALESCE(MAX(sequence), 0) FROM transcript_entries WHERE execution_id = ?",
                (execution_id,),
            ).fetchone()[0]
            for execution_id in executions
        }

    def stored_entries(self, conn: Any, execution_id: str, ids: list[str]) -> set[str]:
        stored: set[str] = set()
        for i in range(0, len(ids), 500):  # within SQLite's limit of bound parameters
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            stored.update(
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM transcript_entries WHERE execution_id = ? AND id IN ({marks})",
                    (execution_id, *chunk),
                )
            )
        return stored

    def save_sequences(self, conn: Any, last: Mapping[str, int]) -> None:
        """Nothing to save: the entries themselves hold the numbers."""

    def safe_row(self, table: str, row: dict[str, Any] | list[Any]) -> int:
        return safe_row(row, safe_value)

    def failure_kind(self, exc: BaseException) -> str:
        return failure_kind(exc)


def safe_row(row: dict[str, Any] | list[Any], safe: Any) -> int:
    """Replace, in place, each value of ``row`` that ``safe`` changes; how many were replaced."""
    made = 0
    keys: Iterable[Any] = row.keys() if isinstance(row, dict) else range(len(row))
    for key in list(keys):
        value = row[key]
        replaced = safe(value)
        if replaced is not value:
            row[key] = replaced
            made += 1
    return made


def safe_value(value: Any) -> Any:
    """``value`` if SQLite can hold it, else what it is stored as (the same object when fine)."""
    if value is None or type(value) is float:
        return value
    if type(value) is str:
        if value.isascii():
            return value
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:  # lone surrogates: not text SQLite (or UTF-8) can hold
            return _SURROGATE.sub("\ufffd", value)
    if type(value) is int:
        return value if _INT_MIN <= value <= _INT_MAX else str(value)
    if isinstance(value, bytes | bool):
        return value
    return safe_value(str(value))


def failure_kind(exc: BaseException) -> str:
    """A short name for a storage failure, so each kind is warned about once."""
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        return "readonly"
    if "locked" in text or "busy" in text:
        return "locked"
    if "full" in text:
        return "disk_full"
    if "disk i/o" in text or "i/o error" in text:
        return "io"
    if "malformed" in text or "not a database" in text:
        return "corrupt"
    if isinstance(exc, OverflowError | UnicodeError | TypeError | ValueError) or (
        isinstance(exc, sqlite3.InterfaceError | sqlite3.ProgrammingError) and "binding" in text
    ):
        return "value"
    if isinstance(exc, FileNotFoundError | NotADirectoryError | FileExistsError):
        return "unavailable"
    if "unable to open" in text:
        return "unavailable"
    return "error"


SQLITE = SQLiteEngine()

__all__ = ["DEDICATED_CACHE_KIB", "SQLITE", "SQLiteEngine", "failure_kind", "safe_value"]
