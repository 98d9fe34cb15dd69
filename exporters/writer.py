"""The store's writer: one connection, one transaction per batch, sequence numbers, JSONL.

A :class:`StoreWriter` has no threads and no queue. Whoever owns it — the
consumer thread of a :class:`.thread_store.ThreadStore`, or the loop of a
writer process (:mod:`.writer_process`) — hands it batches of queued items
(:mod:`.items`), which it maps into rows and writes in one ``BEGIN
IMMEDIATE`` transaction: one commit per batch, one statement per table and
column set.

The store is a SQLite file or a PostgreSQL database: what differs (the
connection, the schema's bookkeeping, the statements' dialect, how sequence
numbers are claimed, which failures pass) is the engine's
(:mod:`.engines`); everything here holds for both.

Sequence numbers are handed out here, inside the write transaction, in queue
order, from the last number of the execution that the engine holds for the
transaction; several processes (or machines) writing one execution therefore
interleave batches but never share or skip a number. An entry already stored
(same execution, same id) is left out before it takes a number, so
re-delivery leaves no gap.

Storage trouble never raises: each kind of failure is logged once and
counted in :meth:`StoreWriter.stats`. Any exception inside a write rolls the
transaction back, so the write lock is never held between batches. What
happens to the batch depends on the trouble:

- a passing fault (a full disk, a lock held past the busy timeout): the batch
  is kept and tried again with backoff, later batches joining it in order,
  for up to ``retry_window_ms``. Meanwhile the owner takes nothing new off
  its queue (:attr:`StoreWriter.pending`), so the queue absorbs the outage
  and only a full queue drops, and counts, what it cannot hold;
- a value SQLite cannot hold (an integer beyond 64 bits, a lone surrogate in
  a text): the batch is made safe — such integers stored as text, such
  characters as U+FFFD, each counted in ``values_made_safe`` — and written;
- anything else, or a fault that outlasts the window: the batch's rows are
  dropped and counted, and its transcript lines still go to JSONL (with a
  null sequence).

Every batch's other rows go, with its transcript lines, to the row spool
beside each transcript (:class:`.jsonl.RowLines`), whether SQLite took them or
not: ``otel-obs import`` rebuilds the store from the two.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

from otel_obs import settings
from otel_obs._internal_errors import internal_errors
from otel_obs.store_location import StoreArg, store_location

from .engines import engine_for
from .items import FlushMarker, Item, Op, apply, coalesce
from .jsonl import LockedFiles, RowLines, TranscriptLines, append
from .lineage import Lineage, is_foreign
from .mapping import Rows, iso_from_ns, map_events, map_span_end
from .statements import WRITE_ORDER
from .wal_checkpoint import Checkpointer

logger = logging.getLogger(__name__)

#: How long an unusable database is left alone before the writer tries it again.
REOPEN_INTERVAL_S = 2.0
#: Failure kinds after which the connection is closed (the next write opens a new one).
RECONNECT = frozenset({"readonly", "io", "corrupt", "disconnected", "denied"})
#: The first wait before a kept batch is tried again, and the longest.
RETRY_FIRST_S = 0.05
RETRY_MAX_S = 2.0
#: What a connection abandoned in a forked child is kept in, never closed: closing
#: it there can checkpoint and remove the WAL the parent is still writing
#: (https://www.sqlite.org/howtocorrupt.html, section 2.6).
FORK_ORPHANS: list[Any] = []


def writer_stats() -> dict[str, Any]:
    """A writer's counters, at zero."""
    return {
        "items": 0,
        "batches": 0,
        "rows_written": 0,
        "entries_written": 0,
        "jsonl_lines": 0,
        "spool_lines": 0,
        "spool_rows": 0,
        "spool_dropped_rows": 0,
        "failures": 0,
        "failures_by_kind": {},
        "dropped_rows": 0,
        "mapping_errors": 0,
        "retries": 0,
        "values_made_safe": 0,
    }


class StoreWriter:
    """Writes batches of queued items into one store (SQLite or PostgreSQL) and its JSONL
    transcripts.

    ``dedicated``: the writer is all its process does (a writer process). It
    then binds rows with ``executemany`` (nothing in the process to starve of
    the GIL), keeps a large page cache, and checkpoints the WAL on a thread of
    its own instead of inside commits.
    """

    def __init__(
        self,
        db_path: StoreArg,
        transcripts_dir: str | os.PathLike[str],
        *,
        busy_timeout_ms: int | None = None,
        retry_window_ms: int | None = None,
        dedicated: bool = False,
    ) -> None:
        self.db_path = store_location(db_path, "db_path")
        self._engine = engine_for(self.db_path)
        self.transcripts_dir = Path(transcripts_dir)
        self._busy_timeout_ms = settings.BUSY_TIMEOUT_MS.resolve(busy_timeout_ms)
        self._retry_window_s = settings.RETRY_WINDOW_MS.resolve(retry_window_ms) / 1000
        #: A batch kept after a passing fault, the flushes waiting for it, and when
        #: it is tried next / given up.
        self._pending: Rows | None = None
        self._pending_markers: list[FlushMarker] = []
        self._retry_at = 0.0
        self._retry_delay = RETRY_FIRST_S
        self._give_up_at = 0.0
        self._giving_up = False
        self._dedicated = dedicated
        self._conn: Any = None
        self._checkpointer: Checkpointer | None = None
        self._db_identity: Any = None
        self._next_open_attempt = 0.0
        self._sql_cache: dict[tuple[str, str, tuple[str, ...], bool], str] = {}
        self._lines = TranscriptLines(self.transcripts_dir)
        self._spool = RowLines(self.transcripts_dir)
        self._warned: set[str] = set()
        self._stats = writer_stats()
        self._lineage = Lineage(
            settings.LINK_WAIT_MS.resolve(None), self._engine.statements, self._engine.errors
        )

    # ------------------------------------------------------------------
    # interface
    # ------------------------------------------------------------------

    def open(self) -> bool:
        """Create the file and its schema now, not at the first write; False when unusable.

        A reader may open the store as soon as it is configured (and flushed).
        Failures are counted like any other, never raised.
        """
        with internal_errors("store.open"):  # _connection counts storage failures itself
            return self._connection() is not None
        return False

    @property
    def pending(self) -> bool:
        """True while a batch waits to be tried again (take nothing new meanwhile)."""
        return self._pending is not None

    def retry_in(self) -> float:
        """Seconds until the kept batch is tried again (0 when there is none)."""
        return max(0.0, self._retry_at - time.monotonic()) if self._pending is not None else 0.0

    def retry(self) -> None:
        """Try the kept batch again, if it is time; give it up once its window has passed."""
        if self._pending is None or time.monotonic() < self._retry_at:
            return
        self._stats["retries"] += 1
        self._flush_pending(Rows())

    def give_up(self) -> None:
        """Try the kept batch once more, then drop it (counted; its lines go to JSONL)."""
        if self._pending is not None:
            self._giving_up = True
            self._retry_at = 0.0
            try:
                self.retry()
            finally:
                self._giving_up = False

    def write_items(self, items: list[Item]) -> None:
        """Map ``items`` into one batch, write it, then set the batch's flush markers.

        An item that cannot be mapped is counted (``mapping_errors``) and left
        out; the rest of the batch is written. After a passing fault the batch
        is kept (:attr:`pending`) and its markers are set once it is written or
        given up.
        """
        rows = Rows()
        markers: list[FlushMarker] = []
        count = 0
        for item in coalesce(items):
            if item[0] is Op.FLUSH:
                markers.append(item[1])
                continue
            count += 1
            with internal_errors("store.mapping") as caught:
                if item[0] in _FINISHED_OPS and is_foreign(item[1]):
                    self._admit(item[1], rows)
                else:
                    apply(item, rows)
            if caught.error is not None:
                self._stats["mapping_errors"] += 1
        self._map_ready(self._lineage.expired(rows, self._conn), rows)
        self._stats["items"] += count
        self._pending_markers.extend(markers)
        if self._pending is not None:
            self._flush_pending(rows)
        elif rows:
            self._write(rows)
        if self._pending is None:
            self._set_markers()

    def _admit(self, span: Any, rows: Rows) -> None:
        """A finished span of another instrumentation: its events now, its rows once its
        ancestors say whose it is (:mod:`.lineage`)."""
        if span.events:
            map_events(span, rows)
        self._map_ready(self._lineage.admit(span, rows, self._connection()), rows)

    def _map_ready(self, ready: list[Any], rows: Rows) -> None:
        for record in ready:
            with internal_errors("store.mapping") as caught:
                map_span_end(record, rows)
            if caught.error is not None:
                self._stats["mapping_errors"] += 1

    def _flush_pending(self, rows: Rows) -> None:
        """Write the kept batch with ``rows`` after it (one batch, in order)."""
        pending, self._pending = self._pending, None
        assert pending is not None
        self._write(pending.merge(rows))
        if self._pending is None:
            self._set_markers()

    def _set_markers(self) -> None:
        markers, self._pending_markers = self._pending_markers, []
        for marker in markers:
            marker.set()

    def stats(self) -> dict[str, Any]:
        """Counters: what was written, what failed (by kind) and what was dropped."""
        out = dict(self._stats)
        out["failures_by_kind"] = dict(self._stats["failures_by_kind"])
        out["sqlite_ok"] = self._conn is not None
        out.update(self._lineage.stats)
        return out

    def close(self) -> None:
        """Give up a kept batch, close the connection (and the checkpoint thread).

        Spans of other instrumentations still waiting for their parent are kept in
        the store, for its next writer. The writer can open the connection again.
        """
        self.give_up()
        waiting = Rows()
        self._lineage.close(waiting)
        if waiting:
            self._write(waiting)
            self.give_up()
        self._close_connection()

    def _close_connection(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        if self._conn is not None:
            try:
                self._conn.close()
            except self._engine.errors:  # pragma: no cover
                pass
        self._conn = None

    def abandon(self) -> None:
        """In a forked child: let go of the parent's connection without closing it."""
        if self._conn is not None:
            FORK_ORPHANS.append(self._conn)
            self._conn = None
        self._checkpointer = None

    # ------------------------------------------------------------------
    # the connection
    # ------------------------------------------------------------------

    def _connection(self) -> Any:
        """The open connection, reopening it if the file vanished; None when unusable."""
        if self._conn is not None:
            identity = self._engine.identity(self.db_path)
            if identity == self._db_identity:
                return self._conn
            self._fail("vanished", f"database file {self.db_path} vanished or was replaced")
            self._close_connection()
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
            except self._engine.errors as exc:
                kind = self._engine.failure_kind(exc)
                if kind == "locked" and time.monotonic() < deadline:
                    time.sleep(random.uniform(0.005, 0.02))
                    continue
                self._fail(kind, f"cannot open {self.db_path}: {exc}")
                return None
        self._conn = conn
        self._db_identity = self._engine.identity(self.db_path)
        if self._dedicated and self._engine.checkpoints:
            self._checkpointer = Checkpointer(Path(str(self.db_path)), self._busy_timeout_ms)
        return conn

    def _open_connection(self) -> Any:
        """A connection to the store, its schema up to date (raises on failure)."""
        return self._engine.open_writer(
            self.db_path, busy_timeout_ms=self._busy_timeout_ms, dedicated=self._dedicated
        )

    def _write(self, rows: Rows) -> None:
        """Write ``rows`` as one batch; keep them after a passing fault, else drop (counted)."""
        conn = self._connection()
        numbered: dict[tuple[str, str], int] | None = None
        kind = "unavailable"
        if conn is not None:
            # A storage failure is counted by its kind; anything else is a bug, counted
            # as an internal error and as a failure of kind "error" (its rows dropped).
            with internal_errors("store.write") as caught:
                try:
                    numbered = self._write_batch(conn, rows)
                except self._engine.errors as exc:
                    kind = self._failed(conn, exc, rows)
                    if kind == "value" and self._make_safe(rows):
                        try:
                            numbered = self._write_batch(conn, rows)
                        except self._engine.errors as again:
                            kind = self._failed(conn, again, rows)
                finally:
                    if numbered is None and conn.in_transaction:
                        self._failed_transaction_ends(conn)
            if caught.error is not None:  # the transaction has ended (finally, above)
                numbered, kind = None, "error"
                self._fail(kind, f"write to {self.db_path} failed: {caught.error!r}")
        if numbered is not None:
            self._retry_delay = RETRY_FIRST_S
            self._catch_up_checkpoint(conn)
            return
        if kind in self._engine.transient and self._keep(rows):
            return
        self._drop(rows)

    def _failed(self, conn: Any, exc: BaseException, rows: Rows) -> str:
        """End the failed transaction, count the failure; its kind."""
        # Whatever went wrong, the transaction ends here: a lock held past
        # this batch would stall every other writer of the store.
        self._failed_transaction_ends(conn)
        kind = self._engine.failure_kind(exc)
        self._fail(kind, f"write to {self.db_path} failed: {exc}")
        if kind in RECONNECT:
            self._close_connection()
        return kind

    def _failed_transaction_ends(self, conn: Any) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except self._engine.errors:
                pass

    def _keep(self, rows: Rows) -> bool:
        """Keep ``rows`` to try again after a passing fault; False once its window has passed."""
        now = time.monotonic()
        if self._giving_up:
            return False
        if self._give_up_at == 0.0:
            self._give_up_at = now + self._retry_window_s
        elif now >= self._give_up_at:
            self._give_up_at = 0.0
            return False
        self._pending = rows
        self._retry_at = now + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, RETRY_MAX_S)
        return True

    def _drop(self, rows: Rows) -> None:
        """Count ``rows`` as dropped; their transcript lines still go to JSONL, unnumbered."""
        self._give_up_at = 0.0
        self._retry_delay = RETRY_FIRST_S
        self._stats["dropped_rows"] += len(rows)
        entries = rows.tables.get("transcript_entries", {})
        if entries:
            # The store unusable: keep the transcript anyway, without sequence numbers.
            lines = self._lines.encode((row, None) for _, row in entries.values())
            self._stats["jsonl_lines"] += append(lines, self._fail)
        # And the other rows to the spool, for otel-obs import to put back.
        self._spool.take()
        for table in WRITE_ORDER:
            bucket = rows.tables.get(table)
            if bucket and table != "transcript_entries":
                for (phase, columns), params in grouped(bucket).items():
                    self._to_spool(table, phase, columns, params, None)
        self._spool_extras(rows)
        files = LockedFiles(self._spool.take(), self._fail)
        try:
            self._write_spool(files)
        finally:
            files.close()

    def _to_spool(
        self, table: str, phase: str, columns: tuple[str, ...], params: list[Any], text: str | None
    ) -> None:
        """A statement's rows to the spool (a failure is counted, never raised)."""
        with internal_errors("store.spool") as caught:
            self._spool.add(table, phase, columns, params, text)
        if caught.error is not None:
            self._stats["spool_dropped_rows"] += len(params)
            self._fail("spool", f"cannot spool {table} rows: {caught.error!r}")

    def _spool_extras(self, rows: Rows) -> None:
        """The batch's heartbeats and span links to the spool (a failure counted, never raised)."""
        with internal_errors("store.spool") as caught:
            self._spool.heartbeats(rows.heartbeats)
            self._spool.links(rows.links.values())
        if caught.error is not None:
            self._stats["spool_dropped_rows"] += len(rows.heartbeats) + len(rows.links)
            self._fail("spool", f"cannot spool heartbeats or links: {caught.error!r}")

    def _write_spool(self, files: LockedFiles) -> None:
        """Append the (locked) spool lines; count them and the rows left out."""
        stats, spool = self._stats, self._spool
        stats["spool_rows"] += spool.rows
        stats["spool_dropped_rows"] += spool.dropped
        if spool.dropped:
            self._warn_once(
                "spool_cap", "otel-obs store: rows longer than a spool line left out of JSONL"
            )
        spool.rows = spool.dropped = 0
        stats["spool_lines"] += files.write()

    def _catch_up_checkpoint(self, conn: Any) -> None:
        """Checkpoint in line when the checkpoint thread falls behind a writer that never pauses."""
        checkpointer = self._checkpointer
        if checkpointer is None or not checkpointer.behind():
            return
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # the data is committed; the WAL is merely long
            self._warn_once("checkpoint", "otel-obs store: checkpoint failed: %s", exc)
        checkpointer.caught_up()

    def _write_batch(self, conn: Any, rows: Rows) -> dict[tuple[str, str], int]:
        """Write one batch in one transaction; the new entries' sequences by (execution, id)."""
        tables = rows.tables
        spool = self._spool
        engine = self._engine
        sql = engine.statements
        spool.take()  # nothing left from a batch that failed
        spool.rows = spool.dropped = 0
        engine.begin(conn)
        written = 0
        numbered: dict[tuple[str, str], int] = {}
        for table in WRITE_ORDER:
            bucket = tables.get(table)
            if not bucket:
                continue
            if table == "transcript_entries":
                groups = numbered_entries(conn, bucket, numbered, engine)
            else:
                groups = grouped(bucket)
            spooled = table != "transcript_entries"
            for (phase, columns), params in groups.items():
                text = None
                if engine.binds_rows(self._dedicated):
                    engine.write_rows(conn, self._sql(table, phase, columns, True), params)
                else:
                    text = engine.rows_text(params)
                    conn.execute(self._sql(table, phase, columns, False), (text,))
                written += len(params)
                if spooled and params:
                    self._to_spool(table, phase, columns, params, text)
        if rows.heartbeats:
            conn.executemany(
                sql.heartbeat,
                [
                    (ts, task_id, execution_id, instance_id)
                    for (execution_id, instance_id), (ts, task_id) in rows.heartbeats.items()
                ],
            )
        if rows.touched_waves:
            waves = sorted(rows.touched_waves)
            conn.executemany(sql.wave_count, waves)
            conn.executemany(sql.wave_statistics, waves)
        if rows.touched_skills:
            conn.executemany(sql.skill_count, sorted(rows.touched_skills))
        if rows.links or rows.waiting or rows.released or rows.unmapped:
            written += _write_lineage(conn, rows, sql)
        lines_by_file = self._lines.encode(
            (row, numbered[key])
            for key, (_, row) in (tables.get("transcript_entries") or {}).items()
            if key in numbered
        )
        self._spool_extras(rows)
        # Lock the transcript files (then the spools) before committing, so appends
        # from several processes land in the files in sequence (commit) order.
        files = LockedFiles(lines_by_file, self._fail)
        spool_files = LockedFiles(spool.take(), self._fail)
        try:
            conn.execute("COMMIT")
            self._stats["batches"] += 1
            self._stats["rows_written"] += written
            self._stats["entries_written"] += len(numbered)
            if self._checkpointer is not None:
                self._checkpointer.wrote(written)
            self._stats["jsonl_lines"] += files.write()
            self._write_spool(spool_files)
        finally:
            files.close()
            spool_files.close()
        return numbered

    def _make_safe(self, rows: Rows) -> bool:
        """Make every value of ``rows`` one the engine can hold; False when none needed it."""
        made = 0
        safe_row = self._engine.safe_row
        for table, bucket in rows.tables.items():
            for entry in bucket.values():
                made += safe_row(table, entry[1])
        for heartbeat in rows.heartbeats.values():
            made += safe_row("", heartbeat)
        safe_heartbeats = {self._safe_key(key): value for key, value in rows.heartbeats.items()}
        made += sum(1 for key in rows.heartbeats if key not in safe_heartbeats)
        rows.heartbeats = safe_heartbeats
        for name in ("touched_waves", "touched_skills"):
            keys = getattr(rows, name)
            safe = {self._safe_key(key) for key in keys}
            if safe != keys:
                made += len(keys - safe)
                setattr(rows, name, safe)
        self._stats["values_made_safe"] += made
        return made > 0

    def _safe_key(self, key: Any) -> Any:
        parts = list(key) if type(key) is tuple else [key]
        self._engine.safe_row("", parts)
        return tuple(parts) if type(key) is tuple else parts[0]

    def _sql(self, table: str, phase: str, columns: tuple[str, ...], bound: bool) -> str:
        key = (table, phase, columns, bound)
        sql = self._sql_cache.get(key)
        if sql is None:
            sql = self._sql_cache[key] = self._engine.upsert_sql(table, phase, columns, bound)
        return sql

    # ------------------------------------------------------------------
    # failures
    # ------------------------------------------------------------------

    def _fail(self, kind: str, message: str, dropped: int = 0) -> None:
        stats = self._stats
        stats["failures"] += 1
        stats["failures_by_kind"][kind] = stats["failures_by_kind"].get(kind, 0) + 1
        stats["dropped_rows"] += dropped
        self._warn_once(kind, "otel-obs store: %s", message)

    def _warn_once(self, kind: str, message: str, *args: Any) -> None:
        if kind in self._warned:
            return
        self._warned.add(kind)
        logger.warning(message, *args)


#: The ops whose span has ended: a foreign span's rows are decided then (see :mod:`.lineage`).
_FINISHED_OPS = frozenset({Op.END, Op.SPAN})


def _write_lineage(conn: Any, rows: Rows, sql: Any) -> int:
    """The batch's lineage rows (links, waiting spans, unmapped counts); how many."""
    conn.executemany(sql.link, rows.links.values())
    waiting = [
        (trace, span, parent, text)
        for (trace, span), (parent, text) in rows.waiting.items()
        if (trace, span) not in rows.released
    ]
    conn.executemany(sql.waiting, waiting)
    conn.executemany(sql.released, sorted(rows.released))
    now = iso_from_ns(time.time_ns())
    conn.executemany(
        sql.unmapped, [(scope, name, n, now) for (scope, name), n in rows.unmapped.items()]
    )
    return len(rows.links) + len(waiting) + len(rows.released) + len(rows.unmapped)


def numbered_entries(
    conn: Any, bucket: dict[Any, Any], numbered: dict[tuple[str, str], int], engine: Any
) -> dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]]:
    """Give the batch's new entries their sequence numbers, in queue order.

    Runs inside the write transaction: the engine holds each execution's last
    number for it (SQLite's write lock; PostgreSQL's counter rows), so no other
    writer can take a number meanwhile. Entries already stored (the same id in
    the same execution) are then left out, so a re-delivery takes no number.
    """
    # The rows' own values, not the keys: a batch made safe (see _make_safe) changed them.
    ids_by_execution: dict[str, list[str]] = {}
    for _, row in bucket.values():
        execution_id = row["execution_id"]
        ids = ids_by_execution.get(execution_id)
        if ids is None:
            ids = ids_by_execution[execution_id] = []
        ids.append(row["id"])
    claimed = engine.claim_sequences(conn, ids_by_execution)
    stored: set[tuple[str, str]] = set()
    for execution_id, ids in ids_by_execution.items():
        stored.update((execution_id, i) for i in engine.stored_entries(conn, execution_id, ids))
    last: dict[str, int] = {}
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}
    key: tuple[str, tuple[str, ...]] = ("", ())
    group: list[tuple[Any, ...]] = []
    for entry_key, (phase, row) in bucket.items():
        execution_id = row["execution_id"]
        if (execution_id, row["id"]) in stored:
            continue
        sequence = last.get(execution_id)
        if sequence is None:
            sequence = claimed[execution_id]
        sequence += 1
        last[execution_id] = numbered[entry_key] = sequence
        names = tuple(row)
        if phase != key[0] or names != key[1]:
            # Entries mostly share one column order: look the group up only
            # when it changes (the names compare by identity).
            key = (phase, names)
            group = groups.setdefault((phase, (*names, "sequence")), [])
        group.append((*row.values(), sequence))
    engine.save_sequences(conn, last)
    return groups


def grouped(bucket: dict[Any, Any]) -> dict[tuple[str, tuple[str, ...]], list[Any]]:
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


__all__ = ["FORK_ORPHANS", "StoreWriter", "writer_stats"]
