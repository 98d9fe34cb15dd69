"""ObservabilitySkills: the SQL tools (the spec's 39 and 5 cost tools), run read-only.

Every tool is reachable by id (``run("T003", execution_id=…)``) and through a
method named for what it answers (``first_error_context``); the spec's
higher-level methods (``validate``, ``find_errors``, ``parallel_health`` …)
combine tools into typed reports (:mod:`otel_obs.queries.results`).

Connections are opened with ``mode=ro`` (on PostgreSQL: read-only
transactions): a diagnosis must never change the store it diagnoses, even when
a tool is run by an agent with odd parameters. The store is a SQLite path or a
``postgresql://`` URL (:class:`~otel_obs.store_location.ServerStore`); a tool's
one SQL text answers the same on both (:mod:`.dialects`).
Every tool runs under a time bound (``OTEL_OBS_TOOL_TIMEOUT_MS``): past it the
tool is stopped with a :class:`~otel_obs.queries.readonly.ReadTimeoutError` that
names it and the limit.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from otel_obs import settings
from otel_obs.store_location import ServerStore, StoreLocation

from .readonly import READ_ERRORS, bounded, connect_read_only, execute
from .registry import get_tool, load_tools
from .results import (
    AnomalyReport,
    ErrorRecord,
    ParallelHealthReport,
    StuckOperation,
    ValidationIssue,
)

#: The variable that names the default store (declared in settings).
DB_ENV = settings.DB.env

Row = dict[str, Any]


def default_db_path() -> StoreLocation:
    """``OTEL_OBS_DB`` if set, else the spec's ``database/observability.db``."""
    return settings.DB.resolve()


class ObservabilitySkills:
    """The SQL tools of one store, as methods and by id."""

    def __init__(
        self,
        db_path: str | os.PathLike[str] | ServerStore | None = None,
        *,
        tool_timeout_ms: int | None = None,
    ) -> None:
        #: The store: a SQLite path or a PostgreSQL database (a :class:`ServerStore`).
        self.db_path: StoreLocation = (
            settings.DB.resolve(db_path) if db_path is not None else default_db_path()  # type: ignore[arg-type]
        )
        #: The longest one tool may run (``OTEL_OBS_TOOL_TIMEOUT_MS``), checked here.
        self.tool_timeout_ms = settings.TOOL_TIMEOUT_MS.resolve(tool_timeout_ms)
        self._conn: Any = None
        if isinstance(self.db_path, ServerStore):
            # A wrong URL, password or database is said now, as a missing file is.
            self._conn = connect_read_only(self.db_path, rows=False)
        elif not Path(self.db_path).is_file():
            raise FileNotFoundError(f"observability database not found: {self.db_path}")
        # One tool at a time on the one connection (the MCP server calls from threads):
        # its time bound, a progress handler, belongs to the connection.
        self._lock = threading.Lock()

    # ------------------------------------------------------------------
    # plumbing
    # ------------------------------------------------------------------

    def _connection(self) -> Any:
        if self._conn is not None and getattr(self._conn, "broken", False):
            self._conn.close()  # a server connection lost: the next tool opens a new one
            self._conn = None
        if self._conn is None:
            self._conn = connect_read_only(self.db_path, rows=False)
        return self._conn

    def close(self) -> None:
        """Close the read-only connection (a later call opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ObservabilitySkills:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, tool_id: str, **params: Any) -> list[Row]:
        """Run one tool by id; rows as dicts keyed by the tool's ``returns`` columns.

        Unknown ids and unknown or missing parameters raise ValueError listing
        the valid ones; a tool that runs longer than ``tool_timeout_ms`` is
        stopped with :class:`~otel_obs.queries.readonly.ReadTimeoutError` naming it.
        """
        tool = get_tool(tool_id)
        bound = tool.bind(params)
        with self._lock:
            try:
                columns, rows = self._query(tool, bound)
            except READ_ERRORS:
                if not getattr(self._conn, "broken", False):
                    raise
                # The server's connection was lost (a restart, a failover, the network):
                # a read changes nothing, so it is tried once more on a new connection.
                self.close()
                columns, rows = self._query(tool, bound)
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def _query(self, tool: Any, bound: dict[str, Any]) -> tuple[list[str], list[Any]]:
        conn = self._connection()
        with bounded(conn, f"tool {tool.id} ({tool.title})", self.tool_timeout_ms):
            cursor = execute(conn, tool.sql, bound, tool.param_types)
            columns = [d[0] for d in cursor.description or ()]
            return columns, cursor.fetchall()

    @staticmethod
    def tools() -> list[Row]:
        """Every tool: id, title, family, parameters, returned columns, purpose."""
        return [
            {
                "id": tool.id,
                "title": tool.title,
                "family": tool.family,
                "parameters": [
                    {
                        "name": p.name,
                        "type": p.type,
                        "required": p.required,
                        "default": p.default,
                    }
                    for p in tool.params
                ],
                "returns": list(tool.returns),
                "purpose": tool.purpose,
            }
            for tool in load_tools().values()
        ]

    # ------------------------------------------------------------------
    # Validation (V001–V007)
    # ------------------------------------------------------------------

    def sequence_integrity(self, execution_id: str) -> list[Row]:
        """V001: gaps and duplicates in the transcript sequence."""
        return self.run("V001", execution_id=execution_id)

    def tool_use_linkage(self, execution_id: str) -> list[Row]:
        """V002: tool uses and tool_use entries that lack their counterpart."""
        return self.run("V002", execution_id=execution_id)

    def temporal_consistency(self, execution_id: str) -> list[Row]:
        """V003: timed rows that end before they start."""
        return self.run("V003", execution_id=execution_id)

    def lock_balance(self, execution_id: str) -> list[Row]:
        """V004: files whose lock acquires and releases do not balance."""
        return self.run("V004", execution_id=execution_id)

    def chain_completeness(self, execution_id: str) -> list[Row]:
        """V005: assertion chains started and never ended."""
        return self.run("V005", execution_id=execution_id)

    def wave_task_counts(self, execution_id: str) -> list[Row]:
        """V006: waves whose recorded task count differs from their assignments."""
        return self.run("V006", execution_id=execution_id)

    def foreign_key_integrity(self, execution_id: str | None = None) -> list[Row]:
        """V007: relationships with broken references (one execution, or the whole store)."""
        return self.run("V007", execution_id=execution_id)

    def validate(self, execution_id: str) -> list[ValidationIssue]:
        """Every validation check (V001–V007) as issues; empty when the store is sound."""
        issues: list[ValidationIssue] = []
        for check_id, (severity, describe) in _VALIDATION_CHECKS.items():
            for row in self.run(check_id, execution_id=execution_id):
                issues.append(
                    ValidationIssue(
                        check_id=check_id,
                        severity=severity,
                        description=describe(row),
                        details=row,
                    )
                )
        return issues

    # ------------------------------------------------------------------
    # Troubleshooting (T001–T006)
    # ------------------------------------------------------------------

    def all_errors(self, execution_id: str) -> list[Row]:
        """T001: errors from every source, in time order."""
        return self.run("T001", execution_id=execution_id)

    def find_errors(self, execution_id: str) -> list[ErrorRecord]:
        """T001 as records; the first error in time is flagged as the root cause."""
        return [
            ErrorRecord(**row, is_root_cause=(index == 0))
            for index, row in enumerate(self.all_errors(execution_id))
        ]

    def find_blocked(self, execution_id: str) -> list[Row]:
        """T002: security-blocked tool uses with reason and context."""
        return self.run("T002", execution_id=execution_id)

    blocked_commands = find_blocked

    def first_error_context(self, execution_id: str, window: int = 5) -> list[Row]:
        """T003: the first error and the ``window`` entries after it."""
        return self.run("T003", execution_id=execution_id, window=window)

    def incomplete_operations(
        self, execution_id: str, older_than_s: float = 300, now: Any = None
    ) -> list[Row]:
        """T004: operations started and never ended, older than ``older_than_s``."""
        return self.run("T004", execution_id=execution_id, older_than_s=older_than_s, now=now)

    def find_incomplete(
        self, execution_id: str, older_than_s: float = 300, now: Any = None
    ) -> list[StuckOperation]:
        """T004 as :class:`StuckOperation` records."""
        return [
            StuckOperation(**row)
            for row in self.incomplete_operations(execution_id, older_than_s, now)
        ]

    def repeated_failures(self, execution_id: str) -> list[Row]:
        """T005: tool + file (or command) pairs that failed more than once."""
        return self.run("T005", execution_id=execution_id)

    def task_blockers(self, task_id: str, execution_id: str | None = None) -> list[Row]:
        """T006: unfinished dependencies and file conflicts holding a task back."""
        return self.run("T006", task_id=task_id, execution_id=execution_id)

    # ------------------------------------------------------------------
    # Investigation (I001–I007)
    # ------------------------------------------------------------------

    def trace_task(self, task_id: str, execution_id: str | None = None) -> list[Row]:
        """I001: a task's transcript in order, with tool uses and assertions."""
        return self.run("I001", task_id=task_id, execution_id=execution_id)

    def tool_usage_stats(self, execution_id: str) -> list[Row]:
        """I002: per tool, uses by outcome, success rate and durations."""
        return self.run("I002", execution_id=execution_id)

    def skill_patterns(self, execution_id: str) -> list[Row]:
        """I003: per skill, invocations by outcome and the lines that failed."""
        return self.run("I003", execution_id=execution_id)

    def file_access(self, execution_id: str, limit: int = 50) -> list[Row]:
        """I004: per file and tool, accesses, errors and tasks."""
        return self.run("I004", execution_id=execution_id, limit=limit)

    def related_events(
        self,
        correlation_id: str | None = None,
        event_id: str | None = None,
        execution_id: str | None = None,
    ) -> list[Row]:
        """I005: message-bus rows sharing a correlation id (given, or an event's).

        Scoped to ``execution_id``, else to the execution of ``event_id``.
        """
        return self.run(
            "I005", correlation_id=correlation_id, event_id=event_id, execution_id=execution_id
        )

    def decision_points(self, execution_id: str) -> list[Row]:
        """I006: decisions with options, choice, reasoning and the entry before."""
        return self.run("I006", execution_id=execution_id)

    def assertion_evidence(self, execution_id: str) -> list[Row]:
        """I007: assertions with their evidence and supporting tool use."""
        return self.run("I007", execution_id=execution_id)

    # ------------------------------------------------------------------
    # Aggregation (A001–A006)
    # ------------------------------------------------------------------

    def execution_summary(self, execution_id: str) -> Row:
        """A001: one execution's headline numbers (empty dict for an unknown id)."""
        rows = self.run("A001", execution_id=execution_id)
        return rows[0] if rows else {}

    def task_completion(self, execution_id: str) -> list[Row]:
        """A002: tasks by status with counts, percentages and ids."""
        return self.run("A002", execution_id=execution_id)

    def hourly_activity(self, execution_id: str) -> list[Row]:
        """A003: events, tool uses, errors and assertions per hour."""
        return self.run("A003", execution_id=execution_id)

    def pass_rate_by_category(self, execution_id: str) -> list[Row]:
        """A004: assertion outcomes and pass rate per category."""
        return self.run("A004", execution_id=execution_id)

    def duration_percentiles(self, execution_id: str) -> list[Row]:
        """A005: per tool, p50 / p90 / p99 and max duration."""
        return self.run("A005", execution_id=execution_id)

    def compare_executions(self, task_list_id: str, limit: int = 10) -> list[Row]:
        """A006: the task list's recent executions side by side."""
        return self.run("A006", task_list_id=task_list_id, limit=limit)

    # ------------------------------------------------------------------
    # Parallel execution (P001–P007)
    # ------------------------------------------------------------------

    def wave_progress(self, execution_id: str) -> list[Row]:
        """P001: per wave, tasks by status and progress."""
        return self.run("P001", execution_id=execution_id)

    def stuck_agents(
        self, execution_id: str, heartbeat_s: float = 120, now: Any = None
    ) -> list[Row]:
        """P002: executing agents silent for longer than ``heartbeat_s``."""
        return self.run("P002", execution_id=execution_id, heartbeat_s=heartbeat_s, now=now)

    def file_conflicts(self, execution_id: str) -> list[Row]:
        """P003: pairs of tasks in one wave touching one file, at least one writing."""
        return self.run("P003", execution_id=execution_id)

    def wave_efficiency(self, execution_id: str) -> list[Row]:
        """P004: per wave, agents, tasks, utilisation and timing."""
        return self.run("P004", execution_id=execution_id)

    def find_wave_bottlenecks(self, execution_id: str, top: int = 3) -> list[Row]:
        """P005: the slowest tasks of each wave."""
        return self.run("P005", execution_id=execution_id, top=top)

    def concurrent_overlaps(self, execution_id: str, limit: int = 20) -> list[Row]:
        """P006: pairs of tasks that ran at the same time."""
        return self.run("P006", execution_id=execution_id, limit=limit)

    def agent_lifecycle(self, execution_id: str) -> list[Row]:
        """P007: each agent's spawn, end, runtime, task and status."""
        return self.run("P007", execution_id=execution_id)

    def parallel_health(
        self, execution_id: str, heartbeat_s: float = 120, now: Any = None
    ) -> ParallelHealthReport:
        """P001–P004 combined: healthy when no wave has failed or blocked tasks,
        no agent is stuck and no two tasks of a wave write one file."""
        waves = self.wave_progress(execution_id)
        stuck = self.stuck_agents(execution_id, heartbeat_s, now)
        conflicts = self.file_conflicts(execution_id)
        efficiency = self.wave_efficiency(execution_id)
        issues: list[str] = []
        for wave in waves:
            failed, blocked = int(wave["failed"] or 0), int(wave["blocked"] or 0)
            if failed or blocked:
                issues.append(
                    f"wave {wave['wave_number']}: {failed} failed, {blocked} blocked task(s)"
                )
        for agent in stuck:
            issues.append(
                f"agent {agent['instance_id']} silent for {agent['silent_s']:.0f} s "
                f"(task {agent['current_task_id']})"
            )
        for conflict in conflicts:
            issues.append(
                f"wave {conflict['wave_number']}: tasks {conflict['task_a']} and "
                f"{conflict['task_b']} both touch {conflict['file_path']}"
            )
        return ParallelHealthReport(
            execution_id=execution_id,
            issues=issues,
            wave_progress=waves,
            stuck_agents=stuck,
            file_conflicts=conflicts,
            wave_efficiency=efficiency,
        )

    # ------------------------------------------------------------------
    # Anomaly detection (D001–D006)
    # ------------------------------------------------------------------

    def unusual_durations(
        self, execution_id: str, sigmas: float = 2.0, min_calls: int = 3
    ) -> list[Row]:
        """D001: tool uses slower than mean + sigmas·stddev of their tool."""
        return self.run("D001", execution_id=execution_id, sigmas=sigmas, min_calls=min_calls)

    def error_cascades(self, execution_id: str, gap: int = 10, min_errors: int = 3) -> list[Row]:
        """D002: runs of errors close together in the transcript."""
        return self.run("D002", execution_id=execution_id, gap=gap, min_errors=min_errors)

    def assertion_regressions(self, execution_id: str) -> list[Row]:
        """D003: assertions that passed in an earlier execution and fail now."""
        return self.run("D003", execution_id=execution_id)

    def activity_spikes(self, execution_id: str, factor: float = 2.0) -> list[Row]:
        """D004: minutes far busier than the execution's mean active minute."""
        return self.run("D004", execution_id=execution_id, factor=factor)

    def orphaned_resources(self, execution_id: str) -> list[Row]:
        """D005: locks never released, checkpoints never committed or rolled back."""
        return self.run("D005", execution_id=execution_id)

    def circular_waits(self, execution_id: str | None = None, max_length: int = 32) -> list[Row]:
        """D006: dependency cycles among tasks (up to ``max_length`` long), with their path."""
        return self.run("D006", execution_id=execution_id, max_length=max_length)

    # ------------------------------------------------------------------
    # Cost (C001–C005): beside the spec's 39, from llm_calls
    # ------------------------------------------------------------------

    def cost_by_agent(self, execution_id: str) -> list[Row]:
        """C001: tokens and cost per agent instance, subagents nested and rolled up."""
        return self.run("C001", execution_id=execution_id)

    def cost_by_task(self, execution_id: str) -> list[Row]:
        """C002: tokens and cost per task."""
        return self.run("C002", execution_id=execution_id)

    def cost_by_model(self, execution_id: str) -> list[Row]:
        """C003: tokens and cost per model."""
        return self.run("C003", execution_id=execution_id)

    def cost_by_tool_use(self, execution_id: str, limit: int = 50) -> list[Row]:
        """C004: what deciding on each tool use cost (its share of the call that asked for it)."""
        return self.run("C004", execution_id=execution_id, limit=limit)

    def cost_by_tool(self, execution_id: str) -> list[Row]:
        """C005: what deciding on each tool's uses cost."""
        return self.run("C005", execution_id=execution_id)

    def detect_anomalies(self, execution_id: str) -> AnomalyReport:
        """D001–D006 with their default thresholds, one list per check."""
        return AnomalyReport(
            execution_id=execution_id,
            unusual_durations=self.unusual_durations(execution_id),
            error_cascades=self.error_cascades(execution_id),
            assertion_regressions=self.assertion_regressions(execution_id),
            activity_spikes=self.activity_spikes(execution_id),
            orphaned_resources=self.orphaned_resources(execution_id),
            circular_waits=self.circular_waits(execution_id),
        )


# How each validation check's rows read as issues: (severity, row -> sentence).
_VALIDATION_CHECKS: dict[str, tuple[Any, Callable[[Row], str]]] = {
    "V001": (
        "error",
        lambda r: (
            f"sequence {r['from_sequence']}..{r['to_sequence']} missing ({r['count']} entries)"
            if r["issue"] == "gap"
            else f"sequence {r['from_sequence']} appears {r['count']} times"
        ),
    ),
    "V002": (
        "error",
        lambda r: f"tool use {r['tool_use_id']} ({r['tool']}): {r['problem']}",
    ),
    "V003": (
        "error",
        lambda r: f"{r['table_name']} {r['row_id']} ends before it starts",
    ),
    "V004": (
        "warning",
        lambda r: (
            f"lock on {r['file_path']}: {r['acquires']} acquire(s), {r['releases']} release(s)"
        ),
    ),
    "V005": (
        "warning",
        lambda r: f"assertion chain {r['chain_id']} ({r['description']}) never ended",
    ),
    "V006": (
        "error",
        lambda r: (
            f"wave {r['wave_number']} records {r['recorded_count']} task(s) "
            f"but has {r['assigned_count']} assignment(s)"
        ),
    ),
    "V007": (
        "error",
        lambda r: f"{r['broken_count']} broken reference(s) {r['relationship']}",
    ),
}


def _skills(db_path: str | os.PathLike[str] | ServerStore | None) -> ObservabilitySkills:
    return ObservabilitySkills(db_path)


def obs_validate(
    execution_id: str, *, db_path: str | os.PathLike[str] | ServerStore | None = None
) -> list[ValidationIssue]:
    """:meth:`ObservabilitySkills.validate` on the default (or given) store."""
    with _skills(db_path) as skills:
        return skills.validate(execution_id)


def obs_errors(
    execution_id: str, *, db_path: str | os.PathLike[str] | ServerStore | None = None
) -> list[ErrorRecord]:
    """:meth:`ObservabilitySkills.find_errors` on the default (or given) store."""
    with _skills(db_path) as skills:
        return skills.find_errors(execution_id)


def obs_parallel_health(
    execution_id: str, *, db_path: str | os.PathLike[str] | ServerStore | None = None
) -> ParallelHealthReport:
    """:meth:`ObservabilitySkills.parallel_health` on the default (or given) store."""
    with _skills(db_path) as skills:
        return skills.parallel_health(execution_id)


def obs_anomalies(
    execution_id: str, *, db_path: str | os.PathLike[str] | ServerStore | None = None
) -> AnomalyReport:
    """:meth:`ObservabilitySkills.detect_anomalies` on the default (or given) store."""
    with _skills(db_path) as skills:
        return skills.detect_anomalies(execution_id)


def obs_summary(
    execution_id: str, *, db_path: str | os.PathLike[str] | ServerStore | None = None
) -> Row:
    """:meth:`ObservabilitySkills.execution_summary` on the default (or given) store."""
    with _skills(db_path) as skills:
        return skills.execution_summary(execution_id)
