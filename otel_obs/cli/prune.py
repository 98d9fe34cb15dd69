"""``otel-obs prune``: remove whole executions, so a store does not only grow.

An execution goes whole: its rows in every table that has an ``execution_id``
(the lineage's links included), its JSONL transcript and the row spool beside it. Each execution is
deleted in short transactions taken like a writer's (``BEGIN IMMEDIATE`` with the
busy timeout), of at most ROWS_PER_TRANSACTION rows each, with a pause between two
(WRITER_GAP_S), so writers that run meanwhile wait for at most one short delete,
never for the whole prune. An execution's own row goes last: it stays listed until
everything else of it is gone. The freed pages are
reused by the store at once; ``--vacuum`` also gives them back to the file
system, which rewrites the file and holds writers off while it runs.

On a PostgreSQL store writers lock rows, not the store: each execution goes in
one transaction (its counter of sequence numbers with it), and writers of other
executions never wait. ``--vacuum`` runs ``VACUUM`` on the tables afterwards;
the freed bytes are the database's size before and after.
"""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..exporters.engines.base import transaction
from ..exporters.engines.postgres import POSTGRES, PgConnection
from ..exporters.jsonl import rows_path, transcript_path
from ..exporters.schema import TABLES
from ..store_location import ServerStore, StoreLocation

#: The pause between two executions' deletes. SQLite's busy handler lets a waiting writer
#: poll the lock at most every 100 ms: a shorter gap could let the prune take the lock
#: again before the writer sees it free, and the writer would wait for several deletes.
WRITER_GAP_S = 0.11
#: The most rows one delete transaction removes: it holds writers off for about as long
#: as a writer's own batch takes.
ROWS_PER_TRANSACTION = 100

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w`` as a duration (ValueError naming the text)."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(
            f"--older-than: {text!r} is not a duration such as 30d, 12h, 90m, 45s or 2w"
        )
    return timedelta(seconds=float(match[1]) * _UNITS[match[2]])


@dataclass
class Pruned:
    """What a prune removed (or, in a dry run, would remove)."""

    executions: list[str] = field(default_factory=list)
    rows_by_table: dict[str, int] = field(default_factory=dict)
    transcript_files: int = 0
    transcript_bytes: int = 0
    freed_bytes: int = 0
    #: The longest a writer had to wait for one execution's delete (ms).
    longest_lock_ms: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "executions": self.executions,
            "rows_by_table": self.rows_by_table,
            "rows": sum(self.rows_by_table.values()),
            "transcript_files": self.transcript_files,
            "transcript_bytes": self.transcript_bytes,
            "freed_bytes": self.freed_bytes,
            "longest_lock_ms": round(self.longest_lock_ms, 3),
        }


def chosen(conn: Any, older_than: timedelta | None, keep_last: int | None) -> list[str]:
    """The executions to remove: started before now - ``older_than``, or all but the
    ``keep_last`` newest (both given: either)."""
    rows = conn.execute(
        "SELECT id, started_at FROM task_list_execution_runs ORDER BY started_at DESC, id"
    ).fetchall()
    out: list[str] = []
    cutoff = None
    if older_than is not None:
        cutoff = (datetime.now(timezone.utc) - older_than).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for index, (execution_id, started_at) in enumerate(rows):
        too_many = keep_last is not None and index >= keep_last
        too_old = cutoff is not None and started_at is not None and started_at < cutoff
        if too_many or too_old:
            out.append(execution_id)
    return out


def _tables_with_execution(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """(table, the column naming the execution, what picks a row: rowid or the primary key)
    of every table that holds executions' rows; the executions' own table last, so an
    execution stays listed until everything else of it is gone."""
    found = []
    for table in TABLES:
        info = conn.execute(f"PRAGMA table_info({table})").fetchall()
        columns = {row[1] for row in info}
        key = "id" if table == "task_list_execution_runs" else "execution_id"
        if key not in columns:
            continue
        rowid = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = ? AND sql LIKE '%WITHOUT ROWID%'", (table,)
        ).fetchone()
        primary = [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]]
        pick = f"({', '.join(primary)})" if rowid else "rowid"
        found.append((table, key, pick))
    found.sort(key=lambda t: t[0] == "task_list_execution_runs")
    return found


def prune(
    db_path: StoreLocation,
    transcripts_dir: Path,
    *,
    older_than: timedelta | None = None,
    keep_last: int | None = None,
    dry_run: bool = False,
    vacuum: bool = False,
    busy_timeout_ms: int = 10_000,
) -> Pruned:
    """Remove the chosen executions (see the module docstring); what was removed."""
    if older_than is None and keep_last is None:
        raise ValueError("give --older-than AGE or --keep-last N (or both)")
    if keep_last is not None and keep_last < 0:
        raise ValueError(f"--keep-last must be 0 or more, got {keep_last}")
    if isinstance(db_path, ServerStore):
        return _prune_server(db_path, transcripts_dir, older_than, keep_last, dry_run, vacuum)
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=busy_timeout_ms / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        conn.execute("PRAGMA synchronous = NORMAL")  # as the store's writers commit (WAL)
        result = Pruned(executions=chosen(conn, older_than, keep_last))
        tables = _tables_with_execution(conn)
        free_before = _free_bytes(conn)
        for index, execution_id in enumerate(result.executions):
            if index and not dry_run:
                time.sleep(WRITER_GAP_S)  # a writer waiting for the lock gets it first
            _remove(conn, tables, execution_id, result, dry_run)
            _remove_files(transcripts_dir, execution_id, result, dry_run)
        if not dry_run and result.executions:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            if vacuum:
                size = db_path.stat().st_size
                conn.execute("VACUUM")
                result.freed_bytes = max(0, size - db_path.stat().st_size)
            else:
                result.freed_bytes = max(0, _free_bytes(conn) - free_before)
        return result
    finally:
        conn.close()


def _remove_files(transcripts_dir: Path, execution_id: str, result: Pruned, dry: bool) -> None:
    """The execution's JSONL transcript and row spool (and their folder, once empty)."""
    for path in (
        transcript_path(transcripts_dir, execution_id),
        rows_path(transcripts_dir, execution_id),
    ):
        if path.is_file():
            result.transcript_files += 1
            result.transcript_bytes += path.stat().st_size
            if not dry:
                path.unlink(missing_ok=True)
    folder = transcript_path(transcripts_dir, execution_id).parent
    if not dry and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _prune_server(
    location: ServerStore,
    transcripts_dir: Path,
    older_than: timedelta | None,
    keep_last: int | None,
    dry_run: bool,
    vacuum: bool,
) -> Pruned:
    """:func:`prune` on a PostgreSQL store: one transaction per execution."""
    conn = PgConnection(POSTGRES.connect(location, application="otel-obs prune"))
    try:
        result = Pruned(executions=chosen(conn, older_than, keep_last))
        tables = [
            (table, "id" if table == "task_list_execution_runs" else "execution_id")
            for table in (*TABLES, "entry_counters")
            if table != "task_list_execution_runs"
        ] + [("task_list_execution_runs", "id")]
        size_before = _database_bytes(conn)
        for execution_id in result.executions:
            locked_at = time.perf_counter()
            with transaction(conn) if not dry_run else nullcontext():
                for table, key in tables:
                    if not _has_column(conn, table, key):
                        continue
                    if dry_run:
                        n = conn.execute(
                            f"SELECT count(*) FROM {table} WHERE {key} = ?", (execution_id,)
                        ).fetchone()[0]
                    else:
                        n = conn.execute(
                            f"DELETE FROM {table} WHERE {key} = ?", (execution_id,)
                        ).rowcount
                    if n and table != "entry_counters":
                        result.rows_by_table[table] = result.rows_by_table.get(table, 0) + n
            held_ms = (time.perf_counter() - locked_at) * 1000
            result.longest_lock_ms = max(result.longest_lock_ms, held_ms)
            _remove_files(transcripts_dir, execution_id, result, dry_run)
        if not dry_run and result.executions and vacuum:
            for table, _ in tables:
                conn.execute(f"VACUUM {table}")
            result.freed_bytes = max(0, size_before - _database_bytes(conn))
        return result
    finally:
        conn.close()


def _has_column(conn: PgConnection, table: str, column: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = ? AND column_name = ?",
            (table, column),
        ).fetchone()
        is not None
    )


def _database_bytes(conn: PgConnection) -> int:
    return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])


def _remove(
    conn: sqlite3.Connection,
    tables: list[tuple[str, str, str]],
    execution_id: str,
    result: Pruned,
    dry: bool,
) -> None:
    """One execution, in short write transactions of at most ROWS_PER_TRANSACTION rows
    each, with a pause between two (a waiting writer goes first)."""
    if dry:
        for table, key, _ in tables:
            n = conn.execute(
                f"SELECT count(*) FROM {table} WHERE {key} = ?", (execution_id,)
            ).fetchone()[0]
            if n:
                result.rows_by_table[table] = result.rows_by_table.get(table, 0) + n
        return
    pending = list(tables)
    first = True
    while pending:
        if not first:
            time.sleep(WRITER_GAP_S)
        first = False
        _begin(conn, execution_id)
        locked_at = time.perf_counter()
        try:
            budget = ROWS_PER_TRANSACTION
            while pending and budget > 0:
                table, key, pick = pending[0]
                n = conn.execute(
                    f"DELETE FROM {table} WHERE {pick} IN "
                    f"(SELECT {pick.strip('()')} FROM {table} WHERE {key} = ? LIMIT ?)",
                    (execution_id, budget),
                ).rowcount
                if n:
                    result.rows_by_table[table] = result.rows_by_table.get(table, 0) + n
                budget -= n
                if budget > 0:
                    pending.pop(0)  # fewer than asked: the table holds no more of it
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        held_ms = (time.perf_counter() - locked_at) * 1000
        result.longest_lock_ms = max(result.longest_lock_ms, held_ms)


def _begin(conn: sqlite3.Connection, execution_id: str) -> None:
    """``BEGIN IMMEDIATE``, tried again while another writer holds the store."""
    for attempt in range(50):
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            time.sleep(min(0.01 * (attempt + 1), 0.2))
    raise sqlite3.OperationalError(f"the store stayed locked; {execution_id!r} not removed")


def _free_bytes(conn: sqlite3.Connection) -> int:
    pages = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return pages * conn.execute("PRAGMA page_size").fetchone()[0]


__all__ = ["Pruned", "chosen", "parse_age", "prune"]
