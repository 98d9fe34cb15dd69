"""Stores for the aggregation, parallel and anomaly tool tests, built through the real producers.

Every execution here is recorded with ``TranscriptWriter``, ``ToolUseLogger``,
``SkillTracer`` and ``AssertionRecorder`` into a real SQLite store. Where the
right answer depends on time (how long a task ran, when an agent was last
heard from, which minute was busy), the scenario then moves the recorded
timestamps to a timeline of its own with SQL UPDATEs, so the expected values
follow from the timeline written here and not from the speed of the machine.

Each ``build_*`` function records one situation and returns the facts a test
needs (ids, sequences) — never answers computed by the tools under test.
"""

from __future__ import annotations

import contextvars
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.trace import Span
from scenarios import Agent

from otel_obs import (
    SkillReference,
)
from otel_obs import conventions as c

#: The day every retimed scenario happens on.
DAY = datetime(2026, 3, 2, tzinfo=timezone.utc)


def at(hour: int, minute: int = 0, second: float = 0.0) -> str:
    """A store timestamp on :data:`DAY` (ISO-8601 UTC, microseconds, ``Z``)."""
    moment = DAY + timedelta(hours=hour, minutes=minute, seconds=second)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Store:
    """A store on disk: the SQLite file and the transcripts folder."""

    db_path: Path
    transcripts_dir: Path
    #: Called at teardown, for agents a scenario leaves running on purpose.
    closers: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def at(cls, folder: Path) -> Store:
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder / "observability.db", folder / "transcripts")

    @contextmanager
    def sql(self) -> Iterator[sqlite3.Connection]:
        """A read-write connection for retiming what the producers recorded."""
        conn = sqlite3.connect(self.db_path, isolation_level=None, timeout=10)
        try:
            yield conn
        finally:
            conn.close()

    def sequence_of(self, entry_id: str) -> int:
        """The sequence the store gave the entry whose id a producer returned."""
        with self.sql() as conn:
            row = conn.execute(
                "SELECT sequence FROM transcript_entries WHERE id = ?", (entry_id,)
            ).fetchone()
        assert row is not None, f"entry {entry_id} is not in the store"
        return int(row[0])

    def flush(self) -> None:
        """Wait until everything recorded so far is in the store (before retiming it)."""
        from otel_obs.config import get_pipeline

        assert get_pipeline(self.db_path, self.transcripts_dir).flush()

    def close(self) -> None:
        """End the agents left running, flush, and shut the store's private pipeline down."""
        from otel_obs.config import get_pipeline

        for closer in reversed(self.closers):
            closer()
        self.closers.clear()
        self.flush()
        get_pipeline(self.db_path, self.transcripts_dir).shutdown()


class Worker(Agent):
    """A scenario agent whose tool uses take generated ids (these scenarios never name them)."""

    def use_tool(
        self,
        name: str,
        tool_input: dict[str, Any] | None = None,
        *,
        error: bool = False,
        blocked: str | None = None,
    ) -> str:
        """One whole tool use (start, then done / error / blocked); its id."""
        tool_id = self.tools.log_start({"name": name, "input": tool_input or {}})
        if blocked is not None:
            self.tools.log_blocked(tool_id, blocked)
        else:
            content = "failed" if error else "ok"
            self.tools.log_end(
                tool_id, {"tool_use_id": tool_id, "content": content, "is_error": error}
            )
        return tool_id

    def start_task(self, task_id: str, title: str = "", **details: Any) -> str:
        """``task_start`` titled after the task when no title is given; the entry id."""
        return super().start_task(task_id, title or task_id, **details)

    def check(self, task_id: str, category: str, description: str, passes: bool) -> str:
        """One custom assertion whose command really runs (``true`` or ``false``); its id."""
        command = "true" if passes else "false"
        return self.assertions.assert_custom(task_id, category, description, command).id

    def flush(self) -> None:
        self.writer.flush()


def worker(
    store: Store,
    execution_id: str,
    instance_id: str,
    *,
    wave: int | None = None,
    task_list_id: str | None = None,
) -> Worker:
    """A worker writing into ``store`` (its agent span starts now)."""
    return Worker(store, execution_id, instance_id, wave=wave, task_list_id=task_list_id)


class Orchestrator:
    """Opens the ``execution`` and ``wave`` spans a real orchestrator would."""

    def __init__(self, store: Store, execution_id: str, task_list_id: str) -> None:
        from otel_obs.config import get_pipeline

        self.store = store
        self.execution_id = execution_id
        self.task_list_id = task_list_id
        self.tracer = get_pipeline(store.db_path, store.transcripts_dir).tracer
        self.span = self.tracer.start_span(
            c.span_name(c.KIND_EXECUTION, execution_id),
            attributes={
                c.KIND: c.KIND_EXECUTION,
                c.EXECUTION_ID: execution_id,
                c.TASK_LIST_ID: task_list_id,
            },
        )
        ctx = trace.set_span_in_context(self.span)
        ctx = baggage.set_baggage(c.EXECUTION_ID, execution_id, ctx)
        self.context = baggage.set_baggage(c.TASK_LIST_ID, task_list_id, ctx)

    def open_wave(self, number: int) -> tuple[Span, otel_context.Context]:
        span = self.tracer.start_span(
            c.span_name(c.KIND_WAVE, number),
            context=self.context,
            attributes={
                c.KIND: c.KIND_WAVE,
                c.EXECUTION_ID: self.execution_id,
                c.TASK_LIST_ID: self.task_list_id,
                c.WAVE_NUMBER: number,
            },
        )
        ctx = trace.set_span_in_context(span, self.context)
        return span, baggage.set_baggage(c.WAVE_NUMBER, str(number), ctx)

    def worker_in(self, wave_ctx: otel_context.Context, instance_id: str, wave: int) -> Worker:
        """A worker whose agent span joins the wave (as TRACEPARENT/BAGGAGE would make it)."""
        token = otel_context.attach(wave_ctx)
        try:
            return worker(
                self.store,
                self.execution_id,
                instance_id,
                wave=wave,
                task_list_id=self.task_list_id,
            )
        finally:
            otel_context.detach(token)

    @staticmethod
    def end(span: Span) -> None:
        span.set_attribute(c.EXECUTION_STATUS, "completed")
        span.end()


# --------------------------------------------------------------------------
# parallel execution: two waves, file conflicts, a stuck agent, overlaps
# --------------------------------------------------------------------------

PARALLEL_EXECUTION = "par-1"

#: (task, wave, instance, action, file, start, end or None, final status)
#: Times are seconds after 10:00:00; None = still running.
PARALLEL_TASKS: tuple[tuple[str, int, str, str, str, int, int | None, str], ...] = (
    ("T1", 1, "w1a", "UPDATE", "src/shared.py", 0, 60, "completed"),
    ("T2", 1, "w1b", "CREATE", "src/shared.py", 30, 120, "completed"),
    ("T3", 1, "w1c", "READ", "src/shared.py", 10, 20, "failed"),
    ("T4", 1, "w1c", "READ", "docs/guide.md", 20, 50, "completed"),
    ("T5", 1, "w1a", "READ", "docs/guide.md", 60, 100, "completed"),
    ("T8", 2, "w2b", "UPDATE", "src/api.py", 120, 150, "blocked"),
    ("T6", 2, "w2a", "UPDATE", "src/api.py", 130, None, "in_progress"),
    ("T7", 2, "w2b", "UPDATE", "src/shared.py", 160, None, "in_progress"),
)
#: Last activity of the running tasks (a discovery entry each), seconds after 10:00:00.
PARALLEL_LAST_ACTIVITY = {"T6": 170, "T7": 240}
#: Agents: (spawned, terminated or None, last heartbeat), seconds after 10:00:00.
PARALLEL_AGENTS = {
    "w1a": (0, 100, 100),
    "w1b": (30, 120, 120),
    "w1c": (10, 50, 50),
    "w2b": (120, None, 300),
    "w2a": (130, None, 180),
}
#: Wave rows: (started, completed or None), seconds after 10:00:00.
PARALLEL_WAVES = {1: (0, 120), 2: (120, None)}


def _seconds(value: int) -> str:
    return at(10, 0, value)


def build_parallel(store: Store) -> None:
    """Execution ``par-1`` in two waves, timed as :data:`PARALLEL_TASKS` says.

    Wave 1 ran to its end; wave 2 is still running: agents w2a and w2b are
    executing (left open until the store closes), w2a quiet since 10:03:00,
    w2b heard from at 10:05:00.
    """
    orchestrator = Orchestrator(store, PARALLEL_EXECUTION, "list-par")
    by_instance: dict[str, list[tuple[str, str, str, str]]] = {}
    for task_id, _wave, instance, action, path, _s, _e, status in PARALLEL_TASKS:
        by_instance.setdefault(instance, []).append((task_id, action, path, status))

    wave1, wave1_ctx = orchestrator.open_wave(1)
    for instance in ("w1a", "w1b", "w1c"):
        w = orchestrator.worker_in(wave1_ctx, instance, 1)
        for task_id, action, path, status in by_instance[instance]:
            w.start_task(task_id, action=action, file=path)
            # The file tool matches the declared action (a CREATE declares only).
            if action == "UPDATE":
                w.use_tool("Edit", {"file_path": path, "old_string": "a", "new_string": "b"})
            elif action == "READ":
                w.use_tool("Read", {"file_path": path})
            w.end_task(task_id, status, error="could not parse" if status == "failed" else None)
        w.writer.close()
    orchestrator.end(wave1)

    wave2, wave2_ctx = orchestrator.open_wave(2)
    activity: dict[str, str] = {}
    # The wave-2 agents stay executing: each runs in a context of its own, so
    # the task it leaves open does not become the current span of the test.
    for instance in ("w2b", "w2a"):
        own = contextvars.copy_context()
        w = own.run(orchestrator.worker_in, wave2_ctx, instance, 2)
        for task_id, action, path, status in by_instance[instance]:
            own.run(w.start_task, task_id, action=action, file=path)
            if status == "in_progress":
                activity[task_id] = own.run(w.event, "discovery", "still working")
            else:
                own.run(w.end_task, task_id, status)
        own.run(w.flush)
        store.closers.append(lambda own=own, w=w: own.run(w.writer.close))
    store.closers.append(lambda: (orchestrator.end(wave2), orchestrator.end(orchestrator.span)))
    store.flush()

    with store.sql() as conn:
        for task_id, _w, _i, _a, _f, start, end, _s in PARALLEL_TASKS:
            conn.execute(
                "UPDATE tasks SET started_at = ?, completed_at = ?, duration_ms = ? "
                "WHERE execution_id = ? AND id = ?",
                (
                    _seconds(start),
                    _seconds(end) if end is not None else None,
                    (end - start) * 1000.0 if end is not None else None,
                    PARALLEL_EXECUTION,
                    task_id,
                ),
            )
            # The running tasks' entries: at their start, except the last activity.
            if end is None:
                conn.execute(
                    "UPDATE transcript_entries SET timestamp = ? "
                    "WHERE execution_id = ? AND task_id = ?",
                    (_seconds(start), PARALLEL_EXECUTION, task_id),
                )
                conn.execute(
                    "UPDATE transcript_entries SET timestamp = ? WHERE id = ?",
                    (_seconds(PARALLEL_LAST_ACTIVITY[task_id]), activity[task_id]),
                )
        for instance, (spawned, terminated, heartbeat) in PARALLEL_AGENTS.items():
            conn.execute(
                "UPDATE build_agent_instances SET spawned_at = ?, terminated_at = ?, "
                "last_heartbeat_at = ? WHERE execution_id = ? AND id = ?",
                (
                    _seconds(spawned),
                    _seconds(terminated) if terminated is not None else None,
                    _seconds(heartbeat),
                    PARALLEL_EXECUTION,
                    instance,
                ),
            )
        for number, (started, completed) in PARALLEL_WAVES.items():
            conn.execute(
                "UPDATE parallel_execution_waves SET started_at = ?, completed_at = ? "
                "WHERE execution_id = ? AND wave_number = ?",
                (
                    _seconds(started),
                    _seconds(completed) if completed is not None else None,
                    PARALLEL_EXECUTION,
                    number,
                ),
            )


# --------------------------------------------------------------------------
# aggregation: one worker, every outcome once, over two hours
# --------------------------------------------------------------------------

AGGREGATION_EXECUTION = "agg-1"
#: Durations given to the ten Read calls (ms), in call order.
READ_DURATIONS = tuple(float(d) for d in range(10, 101, 10))


@dataclass
class AggregationFacts:
    execution_id: str
    #: Sequence of the entry that opens the second hour (task A-2's task_start).
    second_hour_from: int


def build_aggregation(store: Store) -> AggregationFacts:
    """Execution ``agg-1`` (task list ``list-agg``), no orchestrator.

    Tasks: A-1 completed (10 Reads; assertions file_created x2 pass, tests_pass
    pass), A-2 failed (Bash error, an error entry, tests_pass and lint_passes
    fail), A-3 blocked (a blocked Bash), A-4 skipped, A-5 completed (skill
    ``gen`` succeeds around a Grep, skill ``lint`` fails). Everything before
    A-2 happens in the 10:00 hour, the rest in the 11:00 hour.
    """
    w = worker(store, AGGREGATION_EXECUTION, "agg-w", task_list_id="list-agg")
    with w.writer.phase("build"):
        w.start_task("A-1", action="CREATE", file="src/a.py")
        chain = w.assertions.start_chain("A-1", "Validate CREATE")
        reads = [w.use_tool("Read", {"file_path": "src/a.py"}) for _ in READ_DURATIONS]
        w.check("A-1", "file_created", "a exists", True)
        w.check("A-1", "file_created", "b exists", True)
        w.check("A-1", "tests_pass", "unit tests", True)
        w.assertions.end_chain(chain)
        w.end_task("A-1")

        second_hour = w.start_task("A-2", action="UPDATE", file="src/b.py")
        chain = w.assertions.start_chain("A-2", "Validate UPDATE")
        bash_error = w.use_tool("Bash", {"command": "make"}, error=True)
        w.event("error", "build broke", message="make failed", error_type="BuildError")
        w.check("A-2", "tests_pass", "integration tests", False)
        w.check("A-2", "lint_passes", "lint", False)
        w.assertions.end_chain(chain)
        w.end_task("A-2", "failed", error="build broke")

        w.start_task("A-3", action="DELETE", file="src/c.py")
        bash_blocked = w.use_tool("Bash", {"command": "rm -rf /"}, blocked="destructive command")
        w.end_task("A-3", "blocked")

        w.start_task("A-4")
        w.end_task("A-4", "skipped")

        w.start_task("A-5")
        gen = w.skills.trace_start(
            SkillReference(skill_name="gen", skill_file="skills/gen.md", line_number=3)
        )
        grep = w.use_tool("Grep", {"pattern": "TODO"})
        w.skills.trace_end(gen, "success")
        lint = w.skills.trace_start(
            SkillReference(skill_name="lint", skill_file="skills/lint.md", line_number=9)
        )
        w.skills.trace_end(lint, "failed", "lint config missing")
        w.end_task("A-5")
    w.writer.close()
    store.flush()

    durations = dict(zip(reads, READ_DURATIONS, strict=True))
    durations.update({bash_error: 5.0, bash_blocked: 7.0, grep: 40.0})
    boundary = store.sequence_of(second_hour)
    with store.sql() as conn:
        for tool_id, duration in durations.items():
            conn.execute("UPDATE tool_uses SET duration_ms = ? WHERE id = ?", (duration, tool_id))
        _move_hours(conn, AGGREGATION_EXECUTION, boundary)
    return AggregationFacts(AGGREGATION_EXECUTION, boundary)


def _move_hours(conn: sqlite3.Connection, execution_id: str, boundary: int) -> None:
    """Put what came before entry ``boundary`` in the 10:00 hour, the rest in 11:00.

    Minutes and seconds are kept; rows without a transcript entry of their
    own (runs, skills, agents) follow the entry nearest to them in kind.
    """
    hour = "CASE WHEN {seq} < :boundary THEN '10' ELSE '11' END"
    moved = "'2026-03-02T' || " + hour + " || substr({col}, 14)"
    params = {"execution_id": execution_id, "boundary": boundary}
    conn.execute(
        "UPDATE transcript_entries SET timestamp = "
        + moved.format(seq="sequence", col="timestamp")
        + " WHERE execution_id = :execution_id",
        params,
    )
    entry_seq = "(SELECT e.sequence FROM transcript_entries AS e WHERE e.id = {ref})"
    conn.execute(
        "UPDATE tool_uses SET start_time = "
        + moved.format(seq=entry_seq.format(ref="transcript_entry_id"), col="start_time")
        + " WHERE execution_id = :execution_id",
        params,
    )
    conn.execute(
        "UPDATE assertion_results SET timestamp = "
        + moved.format(seq=entry_seq.format(ref="transcript_entry_id"), col="timestamp")
        + " WHERE execution_id = :execution_id",
        params,
    )
    # Both skills ran in task A-5, after the boundary.
    conn.execute(
        "UPDATE skill_traces SET start_time = '2026-03-02T11' || substr(start_time, 14) "
        "WHERE execution_id = :execution_id",
        params,
    )
    conn.execute(
        "UPDATE task_list_execution_runs SET started_at = '2026-03-02T10' || "
        "substr(started_at, 14) WHERE id = :execution_id",
        params,
    )


# --------------------------------------------------------------------------
# cross-execution: three runs of one task list, one run of another
# --------------------------------------------------------------------------

REGRESSION_LIST = "list-reg"
#: (execution, task list, start hour, assertions (category, description, passes),
#:  tool calls (name, error, duration ms))
REGRESSION_RUNS: tuple[
    tuple[str, str, int, tuple[tuple[str, str, bool], ...], tuple[tuple[str, bool, float], ...]],
    ...,
] = (
    (
        "reg-1",
        REGRESSION_LIST,
        9,
        (
            ("tests_pass", "unit tests", True),
            ("lint_passes", "lint", False),
            ("file_created", "readme", True),
        ),
        (("Read", False, 10.0), ("Read", False, 30.0)),
    ),
    (
        "other-1",
        "list-other",
        10,
        (("tests_pass", "unit tests", True), ("file_created", "readme", False)),
        (),
    ),
    (
        "reg-2",
        REGRESSION_LIST,
        11,
        (
            ("tests_pass", "unit tests", False),
            ("lint_passes", "lint", False),
            ("file_created", "readme", True),
            ("schema_valid", "new check", False),
        ),
        (("Read", False, 40.0), ("Bash", True, 60.0)),
    ),
    (
        "reg-3",
        REGRESSION_LIST,
        12,
        (("tests_pass", "unit tests", False), ("file_created", "readme", False)),
        (),
    ),
)


def build_regressions(store: Store) -> None:
    """The runs of :data:`REGRESSION_RUNS`, each task R-1 with its assertions, started
    at the listed hour (run rows retimed so the order is the listed one)."""
    for execution_id, task_list_id, hour, checks, calls in REGRESSION_RUNS:
        w = worker(store, execution_id, f"{execution_id}-w", task_list_id=task_list_id)
        w.start_task("R-1", action="UPDATE", file="src/app.py")
        tool_ids = [
            (
                w.use_tool(
                    name, {"command": "make"} if name == "Bash" else {"file_path": "a"}, error=error
                ),
                duration,
            )
            for name, error, duration in calls
        ]
        chain = w.assertions.start_chain("R-1", "Validate R-1")
        for category, description, passes in checks:
            w.check("R-1", category, description, passes)
        w.assertions.end_chain(chain)
        w.end_task("R-1")
        w.writer.close()
        store.flush()
        with store.sql() as conn:
            conn.execute(
                "UPDATE task_list_execution_runs SET started_at = ? WHERE id = ?",
                (at(hour), execution_id),
            )
            for tool_id, duration in tool_ids:
                conn.execute(
                    "UPDATE tool_uses SET duration_ms = ? WHERE id = ?", (duration, tool_id)
                )


# --------------------------------------------------------------------------
# anomalies: slow tool, error cascade, orphaned locks and checkpoints
# --------------------------------------------------------------------------

ANOMALY_EXECUTION = "anom-1"
#: Read: nine calls of 10 ms and one of 100 ms (mean 19, population stddev 27).
SLOW_READS = (10.0,) * 9 + (100.0,)
#: Grep: twenty calls of 5, 10 … 100 ms (no outlier).
EVEN_GREPS = tuple(float(d) for d in range(5, 101, 5))
#: Bash: two calls, too few for a baseline.
FEW_BASH = (1.0, 500.0)


@dataclass
class AnomalyFacts:
    slow_read: str
    #: Entry ids of the cascade's first and last error, and of the lone pair.
    cascade_first: str
    cascade_last: str
    pair: tuple[str, str]
    #: Expected orphans in transcript order: (type, resource, instance, entry id).
    orphans: list[tuple[str, str, str, str]]


def build_anomalies(store: Store) -> AnomalyFacts:
    """Execution ``anom-1``: one slow Read, an error cascade, leaked locks and checkpoints."""
    w = worker(store, ANOMALY_EXECUTION, "anom-w")
    w.start_task("D-1")
    durations: dict[str, float] = {}
    for name, values in (("Read", SLOW_READS), ("Grep", EVEN_GREPS), ("Bash", FEW_BASH)):
        for value in values:
            tool_input = {"command": "ls"} if name == "Bash" else {"file_path": "src/x.py"}
            tool_id = w.use_tool(name, tool_input)
            durations[tool_id] = value
            if name == "Read" and value == max(SLOW_READS):
                slow_read = tool_id
    w.end_task("D-1")

    # A cascade of four: error entry, failed tool, failed assertion, error entry.
    w.start_task("D-2")
    first = w.event("error", "config missing", message="no config", error_type="ConfigError")
    w.use_tool("Bash", {"command": "make"}, error=True)
    w.check("D-2", "tests_pass", "smoke", False)
    last = w.event("error", "giving up", message="aborting", error_type="Abort")
    # Twelve quiet entries, then two errors close together: a run too short to count.
    for n in range(12):
        w.event("discovery", f"note {n}", discovery_type="pattern", content="-")
    lone_a = w.event("error", "flaky network", message="timeout", error_type="Timeout")
    for n in range(3):
        w.event("discovery", f"after {n}", discovery_type="pattern", content="-")
    lone_b = w.event("error", "flaky again", message="timeout", error_type="Timeout")
    w.end_task("D-2", "failed", error="giving up")

    # Locks and checkpoints: a.py acquired twice, released once; b.py balanced.
    w.start_task("D-3")
    w.event("lock_acquire", "lock a", file_path="src/a.py")
    extra_lock = w.event("lock_acquire", "lock a again", file_path="src/a.py")
    w.event("lock_release", "unlock a", file_path="src/a.py")
    w.event("lock_acquire", "lock b", file_path="src/b.py")
    w.event("lock_release", "unlock b", file_path="src/b.py")
    created: dict[str, str] = {}
    for checkpoint_id, actions in (
        ("cp-1", ("create", "commit")),
        ("cp-2", ("create", "rollback")),
        ("cp-3", ("create", "restore")),
        ("cp-4", ("create",)),
    ):
        for action in actions:
            entry = w.event(
                "checkpoint",
                f"{action} {checkpoint_id}",
                checkpoint_id=checkpoint_id,
                action=action,
            )
            created.setdefault(checkpoint_id, entry)
    w.end_task("D-3")
    w.writer.close()

    # A second instance of the execution takes a.py and never gives it back,
    # and releases c.py it never took (a release alone is no orphan).
    other = worker(store, ANOMALY_EXECUTION, "anom-w2")
    other.start_task("D-4")
    other_lock = other.event("lock_acquire", "lock a", file_path="src/a.py")
    other.event("lock_release", "unlock c", file_path="src/c.py")
    other.end_task("D-4")
    other.writer.close()
    store.flush()

    with store.sql() as conn:
        for tool_id, duration in durations.items():
            conn.execute("UPDATE tool_uses SET duration_ms = ? WHERE id = ?", (duration, tool_id))
    return AnomalyFacts(
        slow_read=slow_read,
        cascade_first=first,
        cascade_last=last,
        pair=(lone_a, lone_b),
        orphans=[
            ("lock", "src/a.py", "anom-w", extra_lock),
            ("checkpoint", "cp-3", "anom-w", created["cp-3"]),
            ("checkpoint", "cp-4", "anom-w", created["cp-4"]),
            ("lock", "src/a.py", "anom-w2", other_lock),
        ],
    )


SPIKE_EXECUTION = "spike-1"
#: Entries per minute from 10:00: two quiet minutes, a burst of twelve, a quiet one.
SPIKE_MINUTES = (2, 2, 12, 2)


def build_spike(store: Store) -> None:
    """Execution ``spike-1``: discovery entries only, retimed to :data:`SPIKE_MINUTES`."""
    w = worker(store, SPIKE_EXECUTION, "spike-w")
    placed: list[tuple[str, str]] = []
    for minute, count in enumerate(SPIKE_MINUTES):
        for n in range(count):
            entry = w.event("discovery", f"m{minute} n{n}", discovery_type="fact", content="-")
            placed.append((entry, at(10, minute, n)))
    w.writer.close()
    store.flush()
    with store.sql() as conn:
        conn.executemany(
            "UPDATE transcript_entries SET timestamp = ? WHERE id = ?",
            [(ts, entry) for entry, ts in placed],
        )


CYCLE_EXECUTION = "cyc-1"
#: Task -> the tasks it depends on. C-a -> C-b -> C-c -> C-a and C-x <-> C-y are
#: cycles; C-d depends on the first cycle without being on it; C-e is free.
CYCLE_DEPENDENCIES = {
    "C-a": ["C-b"],
    "C-b": ["C-c"],
    "C-c": ["C-a"],
    "C-d": ["C-a", "C-e"],
    "C-e": [],
    "C-x": ["C-y"],
    "C-y": ["C-x"],
}


def build_cycles(store: Store) -> None:
    """Execution ``cyc-1``: tasks whose declared dependencies form two cycles."""
    w = worker(store, CYCLE_EXECUTION, "cyc-w")
    for task_id, depends_on in CYCLE_DEPENDENCIES.items():
        w.start_task(task_id, depends_on=depends_on)
        w.end_task(task_id, "blocked")
    w.writer.close()
    store.flush()


CLEAN_EXECUTION = "clean-1"


def build_clean(store: Store) -> None:
    """Execution ``clean-1``: one wave, two tasks, everything passes and is released."""
    orchestrator = Orchestrator(store, CLEAN_EXECUTION, "list-clean")
    wave, wave_ctx = orchestrator.open_wave(1)
    for instance, task_id, path in (("k-a", "K-1", "src/k1.py"), ("k-b", "K-2", "src/k2.py")):
        w = orchestrator.worker_in(wave_ctx, instance, 1)
        w.start_task(task_id, action="UPDATE", file=path)
        chain = w.assertions.start_chain(task_id, "Validate")
        w.event("lock_acquire", "lock", file_path=path)
        w.use_tool("Read", {"file_path": path})
        w.use_tool("Edit", {"file_path": path, "old_string": "a", "new_string": "b"})
        w.event("checkpoint", "save", checkpoint_id=f"cp-{task_id}", action="create")
        w.event("checkpoint", "keep", checkpoint_id=f"cp-{task_id}", action="commit")
        w.event("lock_release", "unlock", file_path=path)
        w.check(task_id, "file_modified", "edited", True)
        w.assertions.end_chain(chain)
        w.end_task(task_id)
        w.writer.close()
    orchestrator.end(wave)
    orchestrator.end(orchestrator.span)
    store.flush()
