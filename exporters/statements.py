"""The SQL a store writes with: table order, the upsert for each table, the derived counts.

Entity tables (``mapping.ENTITY_TABLES``) are upserts that merge a span's
start and end rows into one row whichever arrives first (a tool use's failure
outliving a row that says done: ``mapping.FAILURE_KEPT``); fact tables are
``INSERT OR IGNORE`` (a re-delivered fact changes nothing); transcript entries
are plain inserts (numbered just before, see :mod:`.writer`).
"""

from __future__ import annotations

from . import mapping
from .mapping import END, ENTITY_TABLES, KEYS

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
    "llm_calls",
    "task_file_impacts",
    "assertion_chains",
    "assertion_results",
    "message_bus_log",
    "transcript_entries",
)

# Timestamps written by the store share one fixed-width format, so text order is
# time order and exact to the microsecond (julianday() rounds to ~50 µs, too
# coarse to order two events of one agent).
HEARTBEAT_SQL = """
UPDATE build_agent_instances SET
    last_heartbeat_at = max(last_heartbeat_at, ?1),
    current_task_id = CASE WHEN ?1 >= last_heartbeat_at THEN ?2 ELSE current_task_id END
WHERE execution_id = ?3 AND id = ?4
"""

# The lineage of spans of other instrumentations (see lineage.py): a link is decided
# once (a later decision, after a restart, says the same); a waiting span is kept until
# released; unmapped spans are counted.
LINK_SQL = "INSERT OR IGNORE INTO span_links VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
WAITING_SQL = (
    "INSERT OR IGNORE INTO pending_spans (trace_id, span_id, parent_span_id, record)"
    " VALUES (?, ?, ?, ?)"
)
RELEASED_SQL = "DELETE FROM pending_spans WHERE trace_id = ? AND span_id = ?"
LINK_LOOKUP_SQL = (
    "SELECT kind, execution_id, instance_id, task_id, call_id FROM span_links"
    " WHERE trace_id = ? AND span_id = ?"
)
PENDING_SQL = "SELECT trace_id, span_id, parent_span_id, record FROM pending_spans"
UNMAPPED_SQL = """
INSERT INTO unmapped_spans (scope, name, span_count, first_seen_at, last_seen_at)
VALUES (?1, ?2, ?3, ?4, ?4)
ON CONFLICT (scope, name) DO UPDATE SET
    span_count = unmapped_spans.span_count + excluded.span_count,
    last_seen_at = excluded.last_seen_at
"""

WAVE_COUNT_SQL = """
UPDATE parallel_execution_waves SET task_count = (
    SELECT count(*) FROM wave_task_assignments
    WHERE execution_id = ?1 AND wave_number = ?2)
WHERE execution_id = ?1 AND wave_number = ?2
"""

WAVE_STATISTICS_SQL = """
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

# A skill trace's tool uses are those of its execution that name it (ids are per execution).
SKILL_COUNT_SQL = """
UPDATE skill_traces SET tool_use_count = (
    SELECT count(*) FROM tool_uses WHERE execution_id = ?1 AND within_skill = ?2)
WHERE execution_id = ?1 AND id = ?2
"""


def upsert_sql(table: str, phase: str, columns: tuple[str, ...], bound: bool = False) -> str:
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
        # Numbered just before (see writer.numbered_entries): a conflict here would
        # be a bug, so it fails the batch loudly.
        return f"INSERT INTO transcript_entries ({names}) {select}"
    if table not in ENTITY_TABLES:
        return f"INSERT OR IGNORE INTO {table} ({names}) {select}"
    keys = KEYS[table]
    attempt = mapping.ATTEMPT_TABLES.get(table)
    kept = mapping.FAILURE_KEPT.get(table)
    if kept is not None and kept[0] not in columns:
        kept = None  # a row that states no outcome (a start) leaves the outcome as it is
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
        if kept is not None and column in kept[3]:
            # A failure outlives a row that says done, whichever came first (see
            # mapping.FAILURE_KEPT): the failed row's value, else the other's.
            status, failed, done = (f"{table}.{kept[0]}", f"'{kept[1]}'", f"'{kept[2]}'")
            value = (
                f"CASE WHEN {status} = {failed} AND excluded.{kept[0]} = {done}"
                f" THEN COALESCE({table}.{column}, excluded.{column})"
                f" WHEN {status} = {done} AND excluded.{kept[0]} = {failed}"
                f" THEN COALESCE(excluded.{column}, {table}.{column}) ELSE {value} END"
            )
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


__all__ = [
    "HEARTBEAT_SQL",
    "SKILL_COUNT_SQL",
    "WAVE_COUNT_SQL",
    "WAVE_STATISTICS_SQL",
    "LINK_LOOKUP_SQL",
    "LINK_SQL",
    "PENDING_SQL",
    "RELEASED_SQL",
    "UNMAPPED_SQL",
    "WAITING_SQL",
    "WRITE_ORDER",
    "upsert_sql",
]
