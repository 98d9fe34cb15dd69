"""The few reads the command line needs beyond ``ObservabilitySkills``.

Listing executions is not one of the 39 SQL tools (they all look at one
execution or one task list), so the CLI asks ``task_list_execution_runs``
itself — through a read-only connection, like every tool, so a diagnosis can
never change the store it diagnoses.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from ..exporters import schema
from ..exporters.engines import engine_for
from ..queries.readonly import StoreUnavailableError
from ..queries.readonly import connect_read_only as read_only
from ..store_location import ServerStore, StoreLocation

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


def server_store_problem(store: ServerStore) -> str | None:
    """Why ``store`` cannot be read as an otel-obs store (None when it can): one line
    naming the server and the database, never the password."""
    try:
        read_only(store).close()
    except StoreUnavailableError as error:
        return str(error)
    return None


def store_problem(db_path: Path) -> str | None:
    """Why ``db_path`` is not an otel-obs store (None when it is one).

    A store has a schema version (``PRAGMA user_version``) and every table of
    the schema. An empty file, another application's SQLite database or a file
    that is not SQLite at all would otherwise surface as "no such table" deep
    inside a query.
    """
    try:
        conn = read_only(db_path)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        return f"not a SQLite database: {error}"
    if version < 1:
        return "no otel-obs schema version" if tables else "an empty database"
    missing = [t for t in schema.TABLES if t not in tables]
    if missing:
        return f"it lacks the table(s) {', '.join(missing)}"
    return None


def unwritable_store_problem(db_path: StoreLocation) -> str | None:
    """Why a command that writes ``db_path`` must not (None when it may): what the
    engine's writer would meet (see ``Engine.writable_problem``), checked before the
    command starts, since the writer would otherwise refuse the store in the
    background and the command "succeed" with nothing stored."""
    return engine_for(db_path).writable_problem(db_path)


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
    except sqlite3.OperationalError:
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


def check_tool_call(tool_id: str, params: dict[str, str]) -> None:
    """Refuse an unknown tool id or a bad parameter before opening any store.

    The registry's ValueError already names the bad value and the valid ones;
    checking first means the agent learns that even when ``--db`` is wrong too.
    """
    from ..queries.registry import get_tool

    get_tool(tool_id).bind(params)
