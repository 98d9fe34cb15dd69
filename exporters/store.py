"""The store: one SQLite file (WAL) plus JSONL transcripts, written by one thread.

Agent threads only append to a queue; a single writer thread per store maps
what they queued into rows (:mod:`.mapping`) and writes each batch in one
``BEGIN IMMEDIATE`` transaction. Batching is what makes the store cheap for the
agent and fast overall: one commit per batch, one ``executemany`` per table and
column set, and a tool use that starts and ends within a batch written once.

Sequence numbers are handed out here, inside the write transaction, as
``max(sequence) + 1`` of the execution, in queue order; several processes
writing one execution therefore interleave batches but never share or skip a
number. An entry already stored (same id) is ignored by ``INSERT OR IGNORE``
before it takes a number, so re-delivery leaves no gap.

Storage trouble never reaches the agent: each kind of failure is logged once,
counted in :meth:`Store.stats`, and the writer keeps going. When SQLite is
unusable the transcript lines still go to JSONL (with a null sequence).
"""

from __future__ import annotations

import atexit
import fcntl
import json
import logging
import operator
import os
import random
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from otel_obs import conventions as c
from otel_obs.redaction import finite_json

from . import mapping, schema
from .mapping import (
    END,
    ENTITY_TABLES,
    KEYS,
    Rows,
    map_span_finished,
    map_span_start,
    map_span_start_end,
    map_tool_start_end,
)
from .span_record import events_of
from .store_queue import FORK_ORPHANS, Item, QueueFront
from .wal_checkpoint import Checkpointer

logger = logging.getLogger(__name__)

DEFAULT_FLUSH_INTERVAL_MS = 100
DEFAULT_QUEUE_CAPACITY = 100_000
DEFAULT_BATCH_ITEMS = 20_000
DEFAULT_BUSY_TIMEOUT_MS = 10_000
#: How long ``put`` waits for room in a full queue before it drops (and counts) the item.
DEFAULT_BLOCK_TIMEOUT_MS = 5_000
#: SQLite page cache of a store without a writer thread (a writer process), in KiB;
#: others keep SQLite's default (2 MiB) inside the agent's process.
DEDICATED_CACHE_KIB = 65_536
#: How long an unusable database is left alone before the writer tries it again.
REOPEN_INTERVAL_S = 2.0
TRANSCRIPT_FILE = "transcript.jsonl"

#: Tables in the order a batch writes them (entries last among the facts so
#: that everything they mention exists first; no foreign keys depend on it).
WRITE_ORDER: tuple[str, ...] = (
    "task_list_execution_runs",
    "parallel_execution_waves",
    "build_agent_instances",
    "tasks",
    "task_relationships",
    "wave_task_assignments",
    "skill_traces",
    "tool_uses",
    "task_file_impacts",
    "assertion_chains",
    "assertion_results",
    "message_bus_log",
    "transcript_entries",
)

# Timestamps written by the store share one fixed-width format, so text order is
# time order and exact to the microsecond (julianday() rounds to ~50 µs, too
# coarse to order two events of one agent).
_HEARTBEAT_SQL = """
UPDATE build_agent_instances SET
    last_heartbeat_at = max(last_heartbeat_at, ?1),
    current_task_id = CASE WHEN ?1 >= last_heartbeat_at THEN ?2 ELSE current_task_id END
WHERE execution_id = ?3 AND id = ?4
"""

_WAVE_COUNT_SQL = """
UPDATE parallel_execution_waves SET task_count = (
    SELECT count(*) FROM wave_task_assignments
    WHERE execution_id = ?1 AND wave_number = ?2)
WHERE execution_id = ?1 AND wave_number = ?2
"""

_WAVE_STATISTICS_SQL = """
INSERT OR REPLACE INTO wave_statistics (
    execution_id, wave_number, task_count, completed_count, failed_count, blocked_count,
    agent_count, started_at, completed_at, duration_ms, mean_task_ms)
SELECT w.execution_id, w.wave_number, w.task_count,
    (SELECT count(*) FROM tasks WHERE execution_id = ?1 AND wave_number = ?2
        AND status = 'completed'),
    (SELECT count(*) FROM tasks WHERE execution_id = ?1 AND wave_number = ?2
        AND status = 'failed'),
    (SELECT count(*) FROM tasks WHERE execution_id = ?1 AND wave_number = ?2
        AND status = 'blocked'),
    (SELECT count(*) FROM (
        SELECT instance_id FROM tasks WHERE execution_id = ?1 AND wave_number = ?2
            AND instance_id IS NOT NULL
        UNION SELECT id FROM build_agent_instances WHERE execution_id = ?1
            AND wave_number = ?2)),
    w.started_at, w.completed_at,
    CASE WHEN w.completed_at IS NOT NULL
         THEN (julianday(w.completed_at) - julianday(w.started_at)) * 86400000.0 END,
    (SELECT avg(duration_ms) FROM tasks WHERE execution_id = ?1 AND wave_number = ?2
        AND duration_ms IS NOT NULL)
FROM parallel_execution_waves w WHERE w.execution_id = ?1 AND w.wave_number = ?2
"""

_SKILL_COUNT_SQL = """
UPDATE skill_traces SET tool_use_count = (SELECT count(*) FROM tool_uses WHERE within_skill = ?1)
WHERE id = ?1
"""

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def transcript_path(transcripts_dir: Path, execution_id: str) -> Path:
    """Where an execution's JSONL transcript lives (the id made safe as a folder name)."""
    name = _SAFE_NAME.sub("_", execution_id) or "_"
    if name in (".", ".."):
        name = "_"
    return transcripts_dir / name / TRANSCRIPT_FILE


class Store(QueueFront):
    """A SQLite + JSONL store fed through a queue and written by one background thread.

    ``put`` is all an agent thread ever does; it never blocks (unless asked to)
    and never raises for storage reasons. ``flush`` waits until everything put
    before it is committed to SQLite and appended to JSONL.
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str],
        transcripts_dir: str | os.PathLike[str],
        *,
        flush_interval_ms: int = DEFAULT_FLUSH_INTERVAL_MS,
        queue_capacity: int = DEFAULT_QUEUE_CAPACITY,
        batch_items: int = DEFAULT_BATCH_ITEMS,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        block_timeout_ms: int = DEFAULT_BLOCK_TIMEOUT_MS,
        background: bool = True,
    ) -> None:
        self._init_queue(
            db_path,
            transcripts_dir,
            flush_interval_ms=flush_interval_ms,
            queue_capacity=queue_capacity,
            batch_items=batch_items,
            busy_timeout_ms=busy_timeout_ms,
            block_timeout_ms=block_timeout_ms,
            wake_items=batch_items,
        )
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: sqlite3.Connection | None = None
        self._checkpointer: Checkpointer | None = None
        self._db_identity: tuple[int, int] | None = None
        self._next_open_attempt = 0.0
        self._sql_cache: dict[tuple[str, str, tuple[str, ...], bool], str] = {}
        # With no agent thread in this process to starve (a writer process),
        # executemany's bound parameters beat a JSON array that SQLite must parse.
        self._executemany = not background
        self._paths: dict[str, Path] = {}
        self._stats: dict[str, Any] = {
            "items": 0,
            "batches": 0,
            "rows_written": 0,
            "entries_written": 0,
            "jsonl_lines": 0,
            "failures": 0,
            "failures_by_kind": {},
            "dropped_rows": 0,
            **self._queue_stats(),
            "mapping_errors": 0,
        }
        self._background = background
        self._thread = threading.Thread(
            target=self._run, name=f"otel-obs-store:{self.db_path.name}", daemon=True
        )
        if background:
            self._thread.start()
            atexit.register(self.close)

    # ------------------------------------------------------------------
    # agent side
    # ------------------------------------------------------------------

    def _drop_inherited(self) -> None:
        if self._conn is not None:
            FORK_ORPHANS.append(self._conn)  # the parent's: never closed here
            self._conn = None
        self._checkpointer = None

    def _restart(self) -> None:
        # Not SQLite in this process again: the SQLite library's state came
        # over from the parent with the fork (its record of which locks this
        # process holds), so a connection opened here can misjudge its locks,
        # and "database is locked" on open made a child drop its rows. A writer
        # process starts clean; this store hands everything to one.
        from .writer_process import ProcessStore

        self._delegate = ProcessStore(self.db_path, self.transcripts_dir, **self._settings)

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything queued before this call is stored; False on timeout."""
        if self._delegate is not None:
            return self._delegate.flush(timeout_s)
        if not self._background:
            return True
        if not self._thread.is_alive():
            return not self._queue
        marker = threading.Event()
        self._queue.append(marker)
        self._wake.set()
        return marker.wait(timeout_s)

    def close(self, timeout_s: float = 30.0) -> bool:
        """Flush, stop the writer and close the database; safe to call twice."""
        with self._close_lock:
            if self._closed:
                return True
            self._closed = True
        try:
            atexit.unregister(self.close)
        except Exception:  # pragma: no cover - interpreter shutting down
            pass
        if self._delegate is not None:
            return self._delegate.close(timeout_s)
        if not self._background:
            self._stopping = True
            self._drop_connection()
            return True
        done = self.flush(timeout_s)
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout_s)
        return done

    def stats(self) -> dict[str, Any]:
        """Counters: what was written, what failed (by kind) and what was dropped."""
        if self._delegate is not None:
            return self._delegate.stats()
        out = dict(self._stats)
        out["failures_by_kind"] = dict(self._stats["failures_by_kind"])
        out["queue_depth"] = len(self._queue)
        out["writer"] = "thread"
        out["sqlite_ok"] = self._conn is not None
        return out

    # ------------------------------------------------------------------
    # writer thread
    # ------------------------------------------------------------------

    def open(self) -> bool:
        """Create the file and its schema now, not at the first write; False when unusable.

        A reader may open the store as soon as it is configured (and flushed).
        Failures are counted like any other, never raised.
        """
        try:
            return self._connection() is not None
        except Exception:  # pragma: no cover - _connection already counts
            logger.exception("otel-obs store: opening the database failed")
            return False

    def _run(self) -> None:
        self.open()
        while True:
            self._wake.wait(self._interval_s)
            self._wake.clear()
            try:
                self._drain()
            except Exception:  # pragma: no cover - a bug must not stop the writer
                logger.exception("otel-obs store: writer error")
            if self._stopping and not self._queue:
                break
        self._drop_connection()

    def _drain(self) -> None:
        queue = self._queue
        popleft = queue.popleft
        while queue:
            items: list[Any] = []
            count = 0
            limit = self._batch_items
            while queue and count < limit:
                item = popleft()
                items.append(item)
                count += 1
            self._room.set()
            self.write_items(self._claim(items))

    def write_items(self, items: list[Any]) -> None:
        """Map ``items`` (queued tuples and flush markers) into one batch and write it.

        The writer thread calls this for each batch it takes off the queue; a
        writer process calls it directly for each batch it receives. Markers
        (anything with a ``set()``, e.g. a ``threading.Event``) are set once
        everything before them is written.
        """
        rows = Rows()
        markers: list[Any] = []
        count = 0
        for item in coalesce(items):
            if type(item) is not tuple:
                markers.append(item)
                continue
            count += 1
            function = item[0]
            if function is map_span_start_end:
                function = map_tool_start_end  # its rows, for less work (see coalesce)
            try:
                function(*item[1:], rows)
            except Exception as exc:
                self._stats["mapping_errors"] += 1
                self._warn_once("mapping", "could not map a queued span: %r", exc)
        self._stats["items"] += count
        if rows:
            self._write(rows)
        for marker in markers:
            marker.set()

    def close_connection(self) -> None:
        """Close the database connection (for a store without a writer thread)."""
        self._drop_connection()

    # ------------------------------------------------------------------
    # SQLite
    # ------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection | None:
        """The open connection, reopening it if the file vanished; None when unusable."""
        if self._conn is not None:
            identity = _file_identity(self.db_path)
            if identity == self._db_identity:
                return self._conn
            self._fail("vanished", f"database file {self.db_path} vanished or was replaced")
            self._drop_connection()
            self._next_open_attempt = 0.0
        now = time.monotonic()
        if now < self._next_open_attempt:
            return None
        self._next_open_attempt = now + REOPEN_INTERVAL_S
        # Several processes opening a new file at once: switching it to WAL
        # answers "database is locked" at once, without waiting as SQLite's
        # busy timeout does elsewhere. Such a lock is tried again, for as long
        # as the busy timeout, rather than turned into rows dropped.
        deadline = now + self._busy_timeout_ms / 1000
        while True:
            try:
                conn = self._open_connection()
                break
            except (OSError, sqlite3.Error) as exc:
                if _failure_kind(exc) == "locked" and time.monotonic() < deadline:
                    time.sleep(random.uniform(0.005, 0.02))
                    continue
                self._fail(_failure_kind(exc), f"cannot open {self.db_path}: {exc}")
                return None
        self._conn = conn
        self._db_identity = _file_identity(self.db_path)
        if not self._background:
            self._checkpointer = Checkpointer(self.db_path, self._busy_timeout_ms)
        return conn

    def _open_connection(self) -> sqlite3.Connection:
        """A connection to the file, in WAL mode, its schema up to date (raises on failure)."""
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.db_path,
            isolation_level=None,
            check_same_thread=False,
            timeout=self._busy_timeout_ms / 1000,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            if not self._background:
                # A store that is all its process does (a writer process): the
                # index pages of a large store stay cached instead of re-read.
                conn.execute(f"PRAGMA cache_size = -{DEDICATED_CACHE_KIB}")
                # Checkpoints run on a thread of their own (see wal_checkpoint).
                conn.execute("PRAGMA wal_autocheckpoint = 0")
            schema.migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _write(self, rows: Rows) -> None:
        entries = rows.tables.get("transcript_entries", {})
        conn = self._connection()
        numbered: dict[str, int] | None = None
        if conn is not None:
            try:
                numbered = self._write_sqlite(conn, rows)
            except (sqlite3.Error, OSError) as exc:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                self._fail(_failure_kind(exc), f"write to {self.db_path} failed: {exc}", len(rows))
                if _failure_kind(exc) in ("readonly", "io", "corrupt"):
                    self._drop_connection()
        if conn is None:
            self._stats["dropped_rows"] += len(rows)
        elif numbered is not None:
            self._catch_up_checkpoint(conn)
        if numbered is None and entries:
            # SQLite unusable: keep the transcript anyway, without sequence numbers.
            lines = self._jsonl_lines((row, None) for _, row in entries.values())
            self._append_jsonl(lines)

    def _catch_up_checkpoint(self, conn: sqlite3.Connection) -> None:
        """Checkpoint in line when the checkpoint thread falls behind a writer that never pauses."""
        checkpointer = self._checkpointer
        if checkpointer is None or not checkpointer.behind():
            return
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # the data is committed; the WAL is merely long
            self._warn_once("checkpoint", "otel-obs store: checkpoint failed: %s", exc)
        checkpointer.caught_up()

    def _drop_connection(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:  # pragma: no cover
                pass
        self._conn = None

    def _write_sqlite(self, conn: sqlite3.Connection, rows: Rows) -> dict[str, int]:
        """Write one batch in one transaction; return the new entries' sequences by id."""
        tables = rows.tables
        dumps = _dump_params
        conn.execute("BEGIN IMMEDIATE")
        written = 0
        numbered: dict[str, int] = {}
        for table in WRITE_ORDER:
            bucket = tables.get(table)
            if not bucket:
                continue
            if table == "transcript_entries":
                groups = _numbered_entries(conn, bucket, numbered)
            else:
                groups = _grouped(bucket)
            for (phase, columns), params in groups.items():
                # One statement per group over a JSON array, not executemany:
                # SQLite then runs the whole group without the GIL, where
                # executemany hands the GIL back and forth once per row and
                # starves (and is starved by) the agent's threads.
                if self._executemany:
                    conn.executemany(self._sql(table, phase, columns, True), params)
                else:
                    conn.execute(self._sql(table, phase, columns, False), (dumps(params),))
                written += len(params)
        if rows.heartbeats:
            conn.executemany(
                _HEARTBEAT_SQL,
                [
                    (ts, task_id, execution_id, instance_id)
                    for (execution_id, instance_id), (ts, task_id) in rows.heartbeats.items()
                ],
            )
        if rows.touched_waves:
            waves = sorted(rows.touched_waves)
            conn.executemany(_WAVE_COUNT_SQL, waves)
            conn.executemany(_WAVE_STATISTICS_SQL, waves)
        if rows.touched_skills:
            conn.executemany(_SKILL_COUNT_SQL, [(s,) for s in sorted(rows.touched_skills)])
        lines_by_file = self._jsonl_lines(
            (row, numbered[key])
            for key, (_, row) in (tables.get("transcript_entries") or {}).items()
            if key in numbered
        )
        # Lock the transcript files before committing, so appends from several
        # processes land in the files in sequence order.
        handles = self._open_jsonl(lines_by_file)
        try:
            conn.execute("COMMIT")
            self._stats["batches"] += 1
            self._stats["rows_written"] += written
            self._stats["entries_written"] += len(numbered)
            if self._checkpointer is not None:
                self._checkpointer.wrote(written)
            self._write_handles(handles, lines_by_file)
        finally:
            _close_handles(handles)
        return numbered

    def _sql(self, table: str, phase: str, columns: tuple[str, ...], bound: bool) -> str:
        key = (table, phase, columns, bound)
        sql = self._sql_cache.get(key)
        if sql is None:
            sql = self._sql_cache[key] = _build_sql(table, phase, columns, bound)
        return sql

    # ------------------------------------------------------------------
    # JSONL
    # ------------------------------------------------------------------

    def _jsonl_lines(
        self, rows: Iterable[tuple[dict[str, Any], int | None]]
    ) -> dict[Path, list[str]]:
        """JSONL lines for (transcript row, sequence) pairs, grouped by transcript file.

        ``details`` and ``skill_ref`` are already JSON object text (the mapping
        guarantees it), so they are spliced in rather than parsed and dumped again.
        """
        out: dict[Path, list[str]] = {}
        paths = self._paths
        text, scalar, values_of, template = _encode_text, _encode_scalar, _line_values, _LINE
        for row, sequence in rows:
            # Each value encoded on its own (strings by one C call) into a
            # prebuilt template: the same text as the encoder writes for a dict
            # of these keys, without building that dict for every line.
            values = [
                text(value) if type(value) is str else "null" if value is None else scalar(value)
                for value in values_of(row)
            ]
            values.insert(2, "null" if sequence is None else scalar(sequence))
            get = row.get
            values.append(get("details") or "{}")
            values.append(get("skill_ref") or "null")
            line = template % tuple(values)
            if "\u2028" in line or "\u2029" in line:
                # Valid JSON either way, but line-splitting readers (str.splitlines,
                # editors) break a record at these separators: escape them.
                line = line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
            execution_id = row["execution_id"]
            path = paths.get(execution_id)
            if path is None:
                path = paths[execution_id] = transcript_path(self.transcripts_dir, execution_id)
            lines = out.get(path)
            if lines is None:
                lines = out[path] = []
            lines.append(line)
        return out

    def _open_jsonl(self, lines_by_file: dict[Path, list[str]]) -> dict[Path, Any]:
        handles: dict[Path, Any] = {}
        for path in sorted(lines_by_file):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by caller
            except OSError as exc:
                self._fail("jsonl", f"cannot open transcript {path}: {exc}")
                continue
            try:
                fcntl.flock(handle, fcntl.LOCK_EX)
            except OSError as exc:  # pragma: no cover - flock unsupported
                self._warn_once("flock", "cannot lock %s: %s", path, exc)
            handles[path] = handle
        return handles

    def _write_handles(
        self, handles: dict[Path, Any], lines_by_file: dict[Path, list[str]]
    ) -> None:
        for path, handle in handles.items():
            lines = lines_by_file[path]
            try:
                handle.write("".join(lines))
                handle.flush()
                self._stats["jsonl_lines"] += len(lines)
            except OSError as exc:
                self._fail("jsonl", f"cannot append to transcript {path}: {exc}", len(lines))

    def _append_jsonl(self, lines_by_file: dict[Path, list[str]]) -> None:
        handles = self._open_jsonl(lines_by_file)
        try:
            self._write_handles(handles, lines_by_file)
        finally:
            _close_handles(handles)

    # ------------------------------------------------------------------
    # failures
    # ------------------------------------------------------------------

    def _fail(self, kind: str, message: str, dropped: int = 0) -> None:
        stats = self._stats
        stats["failures"] += 1
        stats["failures_by_kind"][kind] = stats["failures_by_kind"].get(kind, 0) + 1
        stats["dropped_rows"] += dropped
        self._warn_once(kind, "otel-obs store: %s", message)


def coalesce(items: list[Any]) -> list[Any]:
    """``items`` with each tool span whose start and end are both here mapped once.

    The start item becomes :func:`.mapping.map_span_start_end` (same rows, about
    half the work) and the end item goes; :meth:`Store.write_items` maps it by
    its fast path, :func:`.mapping.map_tool_start_end`. (The item keeps the
    generic function's name: a sender coalesces before the pipe, whose wire
    format names the functions it carries.) Only tool spans without events
    qualify: their end adds no transcript entry, so mapping all of it at the
    start's place changes no sequence number.

    The live path mostly joins them earlier, in the queue itself
    (:meth:`.store_queue.QueueFront.put_end`); this pairs what still comes
    as two items (a start taken by a consumer that then met its end in the
    same batch, spans put directly).
    """
    # One pass: a start item's place is kept by span id (the SDK hands on_end a
    # new ReadableSpan, not the span on_start saw), and its end, met later,
    # takes that place.
    out: list[Any] = []
    starts: dict[int, int] = {}
    for item in items:
        if type(item) is tuple and len(item) == 2:
            function = item[0]
            if function is map_span_start:
                context = item[1].context
                if context is not None:
                    starts[context.span_id] = len(out)
            elif function is map_span_finished and starts:
                context = item[1].context
                at = None if context is None else starts.pop(context.span_id, None)
                if at is not None and _is_plain_tool(item[1]):
                    out[at] = (map_span_start_end, item[1])
                    continue
        out.append(item)
    return out


def _is_plain_tool(span: Any) -> bool:
    if events_of(span):
        return False
    attrs = getattr(getattr(span, "_attributes", None), "_dict", None)
    if attrs is None:
        attrs = span.attributes or {}
    return attrs.get(c.KIND) == c.KIND_TOOL


def _numbered_entries(
    conn: sqlite3.Connection, bucket: dict[Any, list[Any]], numbered: dict[str, int]
) -> dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]]:
    """Give the batch's new entries their sequence numbers, in queue order.

    Runs inside the write transaction, so ``max(sequence)`` cannot move
    under us even with other processes writing the same execution. Ids
    already stored are left out first, so a re-delivery takes no number.
    """
    ids = list(bucket)
    stored: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        stored.update(
            r[0]
            for r in conn.execute(f"SELECT id FROM transcript_entries WHERE id IN ({marks})", chunk)
        )
    last: dict[str, int] = {}
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}
    key: tuple[str, tuple[str, ...]] = ("", ())
    group: list[tuple[Any, ...]] = []
    for entry_id, (phase, row) in bucket.items():
        if entry_id in stored:
            continue
        execution_id = row["execution_id"]
        sequence = last.get(execution_id)
        if sequence is None:
            sequence = conn.execute(
                "SELECT COALESCE(MAX(sequence), 0) FROM transcript_entries WHERE execution_id = ?",
                (execution_id,),
            ).fetchone()[0]
        sequence += 1
        last[execution_id] = numbered[entry_id] = sequence
        names = tuple(row)
        if phase != key[0] or names != key[1]:
            # Entries mostly share one column order: look the group up only
            # when it changes (the names compare by identity).
            key = (phase, names)
            group = groups.setdefault((phase, (*names, "sequence")), [])
        group.append((*row.values(), sequence))
    return groups


def _grouped(bucket: dict[Any, list[Any]]) -> dict[tuple[str, tuple[str, ...]], list[Any]]:
    """A table's rows as parameter tuples, grouped by phase and column order (one statement
    each). Consecutive rows mostly share both, so the group is looked up when they change."""
    groups: dict[tuple[str, tuple[str, ...]], list[Any]] = {}
    key: tuple[str, tuple[str, ...]] = ("", ())
    group: list[Any] = []
    for phase, row in bucket.values():
        names = tuple(row)
        if phase != key[0] or names != key[1]:
            key = (phase, names)
            group = groups.setdefault(key, [])
        group.append(tuple(row.values()))
    return groups


def _build_sql(table: str, phase: str, columns: tuple[str, ...], bound: bool = False) -> str:
    """The statement that writes rows of ``columns`` into ``table``.

    Rows arrive as one JSON array of arrays (``?1``), unpacked by ``json_each``
    (values keep their JSON types: text, integer, real, null) or, with
    ``bound``, one row of parameters per execution (``executemany``).
    """
    names = ", ".join(columns)
    if bound:
        select = f"VALUES ({', '.join('?' * len(columns))})"
    else:
        source = ", ".join(f"value ->> {i}" for i in range(len(columns)))
        select = f"SELECT {source} FROM json_each(?1)"
    if table == "transcript_entries":
        # Numbered just before (see _numbered_entries): a conflict here would
        # be a bug, so it fails the batch loudly.
        return f"INSERT INTO transcript_entries ({names}) {select}"
    if table not in ENTITY_TABLES:
        return f"INSERT OR IGNORE INTO {table} ({names}) {select}"
    keys = KEYS[table]
    attempt = mapping.ATTEMPT_TABLES.get(table)
    sets = []
    for column in columns:
        if column in keys:
            continue
        if column in mapping.EARLIEST_COLUMNS:
            value = (
                f"CASE WHEN {table}.{column} IS NULL OR excluded.{column}"
                f" < {table}.{column} THEN excluded.{column} ELSE {table}.{column} END"
            )
        elif phase == END:
            value = f"COALESCE(excluded.{column}, {table}.{column})"
        else:
            value = f"COALESCE({table}.{column}, excluded.{column})"
        if attempt is not None:
            # A later attempt replaces the row, an earlier one leaves it (see
            # mapping.ATTEMPT_TABLES); the same attempt merges as above.
            value = (
                f"CASE WHEN excluded.{attempt} > {table}.{attempt} THEN excluded.{column}"
                f" WHEN excluded.{attempt} < {table}.{attempt} THEN {table}.{column}"
                f" ELSE {value} END"
            )
        sets.append(f"{column} = {value}")
    if attempt is not None:
        for column in mapping.ATTEMPT_END_COLUMNS.get(table, ()):
            if column not in columns:
                sets.append(
                    f"{column} = CASE WHEN excluded.{attempt} > {table}.{attempt}"
                    f" THEN NULL ELSE {table}.{column} END"
                )
    conflict = ", ".join(keys)
    action = f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING"
    # "WHERE true" lets SQLite's parser tell the upsert clause from a join.
    where = "" if bound else " WHERE true"
    return f"INSERT INTO {table} ({names}) {select}{where} ON CONFLICT ({conflict}) {action}"


_PARAMS_ENCODER = json.JSONEncoder(allow_nan=False)


def _dump_params(params: list[Any]) -> str:
    """A statement's rows as one JSON array (json_each reads it; NaN would make it malformed)."""
    return finite_json(_PARAMS_ENCODER, params)


#: ``json.dumps(..., ensure_ascii=False)`` without building an encoder per line.
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _scalar_encoder() -> Callable[[Any], str]:
    """``_LINE_ENCODER.encode`` of one value, calling the C encoder directly when there is one.

    ``JSONEncoder.encode`` builds a new C encoder object for every call (a few
    Python calls and a dozen arguments); one built here and reused writes the
    same text for a fraction of a microsecond less per value.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return _LINE_ENCODER.encode
    encode = make(
        None,  # no circular-reference check: a line's values are scalars
        _LINE_ENCODER.default,
        json.encoder.encode_basestring,  # ensure_ascii=False
        None,
        ": ",
        ", ",
        False,
        False,
        False,  # no NaN: not JSON (the mapping keeps it out of float columns)
    )

    def encode_value(value: Any) -> str:
        try:
            return "".join(encode(value, 0))
        except ValueError:
            return "null"

    return encode_value


#: One JSON value as ``_LINE_ENCODER`` writes it; strings go straight to the C string encoder.
_encode_scalar = _scalar_encoder()
_encode_text: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]

_ENTRY_LINE_COLUMNS = (
    "id",
    "execution_id",
    "sequence",
    "timestamp",
    "instance_id",
    "wave_number",
    "task_id",
    "entry_type",
    "category",
    "summary",
    "skill_trace_id",
    "tool_use_id",
    "duration_ms",
    "token_estimate",
    "trace_id",
    "span_id",
)
#: A transcript row's line values in line order, without ``sequence`` (third, numbered apart).
_LINE_VALUES = operator.itemgetter(*(name for name in _ENTRY_LINE_COLUMNS if name != "sequence"))


def _line_values(row: dict[str, Any]) -> Any:
    """A transcript row's line values (None for a column the row lacks)."""
    try:
        return _LINE_VALUES(row)
    except KeyError:
        return tuple(row.get(name) for name in _ENTRY_LINE_COLUMNS if name != "sequence")


#: A transcript line with a ``%s`` per value: the columns, then ``details`` and ``skill_ref``
#: (JSON object text already, spliced as they are).
_LINE = (
    "{"
    + ", ".join(
        f"{json.dumps(name)}: %s" for name in (*_ENTRY_LINE_COLUMNS, "details", "skill_ref")
    )
    + "}\n"
)


def _close_handles(handles: dict[Path, Any]) -> None:
    for handle in handles.values():
        try:
            fcntl.flock(handle, fcntl.LOCK_UN)
        except OSError:  # pragma: no cover
            pass
        try:
            handle.close()
        except OSError:  # pragma: no cover
            pass


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _failure_kind(exc: BaseException) -> str:
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
    if isinstance(exc, FileNotFoundError | NotADirectoryError | FileExistsError):
        return "unavailable"
    if "unable to open" in text:
        return "unavailable"
    return "error"


__all__ = ["Item", "Store", "transcript_path"]
