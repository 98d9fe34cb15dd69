"""What a report shows, read from the store: the SQL tools' answers plus the timeline rows.

The findings and charts are exactly what ``ObservabilitySkills`` answers (so
the report and ``otel-obs errors`` never disagree). The timeline needs every
task, tool use, failed assertion, error entry and lock event of the execution
with its time offset; no SQL tool lists those for a whole execution, so they
are read here, on the same kind of read-only connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..queries.jsonable import to_jsonable
from ..queries.readonly import bounded, connect_read_only
from ..queries.runner import ObservabilitySkills
from ..store_location import ServerStore

Row = dict[str, Any]

#: Milliseconds between a column and the execution's start (``:t0``).
_MS = "(julianday({col}) - julianday(:t0)) * 86400000.0"

_START_SQL = """
SELECT COALESCE(
    (SELECT started_at FROM task_list_execution_runs WHERE id = :execution_id),
    (SELECT MIN(timestamp) FROM transcript_entries WHERE execution_id = :execution_id)
) AS t0
"""

_TIMELINE_SQL: dict[str, str] = {
    "instances": f"""
        SELECT id, wave_number, status, {_MS.format(col="spawned_at")} AS start_ms,
               {_MS.format(col="COALESCE(terminated_at, last_heartbeat_at)")} AS end_ms
        FROM build_agent_instances WHERE execution_id = :execution_id
        ORDER BY wave_number IS NULL, wave_number, spawned_at, id""",
    "waves": f"""
        SELECT wave_number, status, {_MS.format(col="started_at")} AS start_ms,
               {_MS.format(col="completed_at")} AS end_ms
        FROM parallel_execution_waves WHERE execution_id = :execution_id
        ORDER BY wave_number""",
    "tasks": f"""
        SELECT id, title, action, file, status, instance_id, wave_number, duration_ms, error,
               {_MS.format(col="started_at")} AS start_ms,
               {_MS.format(col="completed_at")} AS end_ms
        FROM tasks WHERE execution_id = :execution_id AND started_at IS NOT NULL
        ORDER BY started_at, id""",
    "tool_uses": f"""
        SELECT u.id, u.instance_id, u.wave_number, u.task_id, u.tool, u.input_summary,
               u.output_summary, u.result_status, u.error_message, u.block_reason, u.file_path,
               u.duration_ms, {_MS.format(col="u.start_time")} AS start_ms,
               {_MS.format(col="u.end_time")} AS end_ms,
               s.skill_name, s.skill_file, s.line_number
        FROM tool_uses AS u
        LEFT JOIN skill_traces AS s ON s.execution_id = u.execution_id AND s.id = u.within_skill
        WHERE u.execution_id = :execution_id
        ORDER BY u.start_time, u.id""",
    "assertion_failures": f"""
        SELECT id, task_id, instance_id, category, description, evidence,
               {_MS.format(col="timestamp")} AS at_ms
        FROM assertion_results WHERE execution_id = :execution_id AND result = 'fail'
        ORDER BY timestamp, id""",
    "error_entries": f"""
        SELECT id, instance_id, task_id, summary, {_MS.format(col="timestamp")} AS at_ms
        FROM transcript_entries WHERE execution_id = :execution_id AND entry_type = 'error'
        ORDER BY sequence""",
    "lock_events": f"""
        SELECT id, event_type, source AS instance_id, task_id,
               json_extract(payload, '$.file_path') AS file_path,
               {_MS.format(col="timestamp")} AS at_ms
        FROM message_bus_log
        WHERE execution_id = :execution_id AND event_type IN ('lock_acquire', 'lock_release')
        ORDER BY timestamp, id""",
}


@dataclass
class ReportData:
    """Everything one report shows, as plain JSON-able values."""

    execution_id: str
    summary: Row
    agents: list[Row]
    validation: list[Row]
    errors: list[Row]
    blocked: list[Row]
    incomplete: list[Row]
    health: Row
    anomalies: Row
    tool_usage: list[Row]
    percentiles: list[Row]
    timeline: dict[str, list[Row]] = field(default_factory=dict)
    #: Model calls' tokens and cost by agent (C001) and by model (C003).
    cost_by_agent: list[Row] = field(default_factory=list)
    cost_by_model: list[Row] = field(default_factory=list)
    #: What changed since an earlier run (``otel-obs diff``'s answer), when asked for.
    comparison: Row | None = None

    @property
    def assertion_pass_rate(self) -> float | None:
        """Passed assertions as a percentage of passed + failed (A001); None without any."""
        passed = int(self.summary.get("assertions_passed") or 0)
        failed = int(self.summary.get("assertions_failed") or 0)
        return None if passed + failed == 0 else round(100.0 * passed / (passed + failed), 1)


def collect(db_path: Path | str | ServerStore, execution_id: str) -> ReportData:
    """Read everything the report of ``execution_id`` shows (read-only)."""
    with ObservabilitySkills(db_path) as skills:
        data = ReportData(
            execution_id=execution_id,
            summary=to_jsonable(skills.execution_summary(execution_id)),
            agents=skills.agent_lifecycle(execution_id),
            validation=to_jsonable(skills.validate(execution_id)),
            errors=to_jsonable(skills.find_errors(execution_id)),
            blocked=skills.find_blocked(execution_id),
            incomplete=to_jsonable(skills.find_incomplete(execution_id)),
            health=to_jsonable(skills.parallel_health(execution_id)),
            anomalies=to_jsonable(skills.detect_anomalies(execution_id)),
            tool_usage=skills.tool_usage_stats(execution_id),
            percentiles=skills.duration_percentiles(execution_id),
            cost_by_agent=skills.cost_by_agent(execution_id),
            cost_by_model=skills.cost_by_model(execution_id),
        )
    data.timeline = read_timeline(db_path, execution_id)
    return data


def read_timeline(db_path: Path | str | ServerStore, execution_id: str) -> dict[str, list[Row]]:
    """The timeline's rows, times as milliseconds since the execution started."""
    conn = connect_read_only(db_path)
    try:
        with bounded(conn, "the report's timeline"):
            t0 = conn.execute(_START_SQL, {"execution_id": execution_id}).fetchone()["t0"]
            params = {"execution_id": execution_id, "t0": t0}
            return {
                name: [dict(row) for row in conn.execute(sql, params)]
                for name, sql in _TIMELINE_SQL.items()
            }
    finally:
        conn.close()
