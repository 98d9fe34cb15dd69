"""The reads beyond the SQL tools: which executions a store holds, and what it could
not map.

Listing executions is not one of the SQL tools (they all look at one execution
or one task list), so the command line asks ``task_list_execution_runs`` here,
and ``serve`` reports at its exit what spans made no row. Through a read-only
connection, like every tool, so a diagnosis can never change the store it
diagnoses.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ..store_location import StoreLocation
from .readonly import connect_read_only as read_only

_EXECUTIONS_SQL = """
SELECT r.id,
       r.task_list_id,
       r.status,
       r.started_at,
       r.completed_at,
       ROUND((julianday(COALESCE(r.completed_at, r.started_at)) - julianday(r.started_at))
             * 86400000.0, 1) AS duration_ms,
       (SELECT COUNT(*) FROM build_agent_instances a WHERE a.execution_id = r.id) AS instances,
       (SELECT COUNT(*) FROM parallel_execution_waves w WHERE w.execution_id = r.id) AS waves
FROM task_list_execution_runs r
WHERE (:task_list_id IS NULL OR r.task_list_id = :task_list_id)
ORDER BY julianday(r.started_at) DESC, r.id
LIMIT :limit
"""


def list_executions(
    db_path: StoreLocation, task_list_id: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Executions newest first, with how many agent instances and waves each had."""
    conn = read_only(db_path)
    try:
        rows = conn.execute(_EXECUTIONS_SQL, {"task_list_id": task_list_id, "limit": limit})
        return [dict(row) for row in rows]
    finally:
        conn.close()


def unmapped_spans(db_path: StoreLocation) -> tuple[list[dict[str, Any]], int]:
    """Spans that made no row, by instrumentation scope and name (most first), and how many
    spans of other instrumentations still wait for their parent. A store older than these
    tables has neither: nothing to show."""
    conn = read_only(db_path)
    try:
        rows = conn.execute(
            "SELECT scope, name, span_count AS spans, first_seen_at, last_seen_at"
            " FROM unmapped_spans ORDER BY span_count DESC, scope, name"
        )
        found = [dict(row) for row in rows]
        waiting = conn.execute("SELECT count(*) FROM pending_spans").fetchone()[0]
        return found, waiting
    except sqlite3.OperationalError:  # a SQLite store older than these tables
        return [], 0
    finally:
        conn.close()


def execution_exists(db_path: StoreLocation, execution_id: str) -> bool:
    """Whether the store has recorded anything of ``execution_id``."""
    conn = read_only(db_path)
    try:
        found = conn.execute(
            "SELECT 1 FROM task_list_execution_runs WHERE id = ?", (execution_id,)
        ).fetchone()
        return found is not None
    finally:
        conn.close()
