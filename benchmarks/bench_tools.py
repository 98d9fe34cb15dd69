"""Latency of every SQL tool on a store of 1,000,000 tool uses across 100 executions.

The store is generated straight into the real schema with ``executemany`` (the
producers have their own benchmarks), shaped like what they write: per
execution 5 waves of 8 tasks on 4 agents each, 250 tool uses per task with
their ``tool_use`` transcript entries, skills around groups of tool uses,
phases, decisions, locks and checkpoints, an assertion chain per task, some
tool errors, blocked commands and error entries, and the task, wave and agent
tables. Then every tool runs for one execution several times and the median
latency is printed, with ``validate`` (V001–V007) as a whole.

Targets: every tool ≤ 100 ms, ``validate`` ≤ 250 ms, on either engine.

    python benchmarks/bench_tools.py [--db PATH] [--executions 100] [--repeat 5]
        [--engine sqlite|postgresql|both] [--pg-url postgresql://…]

The generated store is kept at ``--db`` and reused when it already exists. With
``--engine postgresql`` or ``both`` it is moved (``otel-obs move``) into the
database ``--pg-url`` names (default ``$OTEL_OBS_BENCH_PG_URL``) unless that
database holds it already, and the tools are timed there (JIT off, as every
reader connects): ``both`` prints the two engines' medians side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from otel_obs.exporters import schema
from otel_obs.queries.registry import load_tools
from otel_obs.queries.runner import ObservabilitySkills

WAVES = 5
TASKS_PER_WAVE = 8
AGENTS_PER_WAVE = 4
TOOL_USES_PER_TASK = 250  # 5 × 8 × 250 = 10,000 tool uses per execution
TOOL_USES_PER_SKILL = 50
TASK_LISTS = 10
TOOLS = (
    ("Read", "file_read", 0.30),
    ("Grep", "file_read", 0.15),
    ("Glob", "file_read", 0.05),
    ("Edit", "file_write", 0.20),
    ("Write", "file_write", 0.05),
    ("Bash", "shell", 0.25),
)
TARGET_TOOL_MS = 100.0
TARGET_VALIDATE_MS = 250.0
BASE_TIME = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)


def ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ExecutionBuilder:
    """Rows of one execution, in the order and shape the producers write them."""

    def __init__(self, index: int, rng: random.Random) -> None:
        self.index = index
        self.rng = rng
        self.execution_id = f"exec-{index:03d}"
        self.task_list_id = f"list-{index % TASK_LISTS}"
        self.clock = BASE_TIME + timedelta(hours=index)
        self.sequence = 0
        self.rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in schema.TABLES}
        self.tool_names = [t[0] for t in TOOLS]
        self.tool_weights = [t[2] for t in TOOLS]
        self.tool_category = {t[0]: t[1] for t in TOOLS}

    def tick(self, ms: float = 40.0) -> str:
        self.clock += timedelta(milliseconds=ms * (0.5 + self.rng.random()))
        return ts(self.clock)

    def entry(
        self,
        entry_type: str,
        category: str,
        instance_id: str,
        wave: int,
        task_id: str | None,
        summary: str,
        details: dict[str, Any] | None = None,
        *,
        skill_trace_id: str | None = None,
        tool_use_id: str | None = None,
        timestamp: str | None = None,
        bus: bool = False,
    ) -> tuple[str, int, str]:
        self.sequence += 1
        entry_id = f"{self.execution_id}-e{self.sequence}"
        when = timestamp or self.tick()
        payload = json.dumps(details) if details is not None else None
        self.rows["transcript_entries"].append(
            (
                entry_id,
                self.execution_id,
                self.sequence,
                when,
                instance_id,
                wave,
                task_id,
                entry_type,
                category,
                summary,
                payload,
                skill_trace_id,
                tool_use_id,
            )
        )
        if bus:
            self.rows["message_bus_log"].append(
                (
                    entry_id,
                    self.execution_id,
                    entry_type,
                    instance_id,
                    task_id,
                    task_id or self.execution_id,
                    payload,
                    when,
                )
            )
        return entry_id, self.sequence, when

    def build(self) -> dict[str, list[tuple[Any, ...]]]:
        rng = self.rng
        eid = self.execution_id
        started = ts(self.clock)
        task_no = 0
        previous_wave_tasks: list[str] = []
        for wave in range(1, WAVES + 1):
            wave_start = ts(self.clock)
            agents = [f"{eid}-w{wave}-a{a}" for a in range(AGENTS_PER_WAVE)]
            tasks = []
            for slot in range(TASKS_PER_WAVE):
                task_no += 1
                task_id = f"task-{task_no:03d}"
                depends = [rng.choice(previous_wave_tasks)] if previous_wave_tasks else []
                tasks.append(
                    {
                        "id": task_id,
                        "agent": agents[slot % AGENTS_PER_WAVE],
                        "file": f"src/module_{task_no % 17}.py",
                        "depends": depends,
                        "uses": 0,
                        "skill": None,
                        "start": None,
                        "failed": rng.random() < 0.05,
                    }
                )
            for agent in agents:
                self.entry(
                    "phase_start", "lifecycle", agent, wave, None, "prime", {"phase": "prime"}
                )
            for task in tasks:
                _, _, task["start"] = self.entry(
                    "task_start",
                    "lifecycle",
                    task["agent"],
                    wave,
                    task["id"],
                    f"Starting task {task['id']}",
                    {
                        "title": f"Task {task['id']}",
                        "action": "UPDATE",
                        "file": task["file"],
                        "depends_on": task["depends"],
                    },
                )
                self.rows["task_file_impacts"].append(
                    (
                        f"task:{eid}:{task['id']}",
                        eid,
                        task["id"],
                        task["file"],
                        "UPDATE",
                        None,
                        task["agent"],
                        wave,
                        task["start"],
                    )
                )
                for dep in task["depends"]:
                    self.rows["task_relationships"].append((eid, task["id"], dep, "depends_on"))
            # Tasks of a wave run side by side: their tool uses interleave.
            for step in range(TOOL_USES_PER_TASK):
                for task in tasks:
                    self.tool_use(task, wave, step)
            for task in tasks:
                self.finish_task(task, wave)
            for agent in agents:
                self.entry(
                    "phase_end", "lifecycle", agent, wave, None, "prime done", {"phase": "prime"}
                )
            wave_end = ts(self.clock)
            for slot, agent in enumerate(agents):
                self.rows["build_agent_instances"].append(
                    (
                        agent,
                        eid,
                        wave,
                        1000 + slot,
                        "bench-host",
                        "completed",
                        None,
                        wave_start,
                        wave_end,
                        wave_end,
                        None,
                    )
                )
            self.rows["parallel_execution_waves"].append(
                (eid, wave, "completed", len(tasks), wave_start, wave_end)
            )
            for task in tasks:
                self.rows["wave_task_assignments"].append(
                    (eid, wave, task["id"], task["agent"], wave_start)
                )
            failed = sum(t["failed"] for t in tasks)
            self.rows["wave_statistics"].append(
                (
                    eid,
                    wave,
                    len(tasks),
                    len(tasks) - failed,
                    failed,
                    0,
                    AGENTS_PER_WAVE,
                    wave_start,
                    wave_end,
                )
            )
            previous_wave_tasks = [t["id"] for t in tasks]
        self.rows["task_list_execution_runs"].append(
            (eid, self.task_list_id, "completed", started, ts(self.clock), f"trace-{eid}")
        )
        return self.rows

    def tool_use(self, task: dict[str, Any], wave: int, step: int) -> None:
        rng = self.rng
        eid = self.execution_id
        agent = task["agent"]
        if step % TOOL_USES_PER_SKILL == 0:
            self.start_skill(task, wave)
        if step % 60 == 30:
            self.entry(
                "decision",
                "decision",
                agent,
                wave,
                task["id"],
                "choose approach",
                {"options": ["a", "b"], "chosen": "a", "reasoning": "simpler"},
                bus=True,
            )
        if step % 100 == 10:
            self.entry(
                "lock_acquire",
                "coordination",
                agent,
                wave,
                task["id"],
                "lock",
                {"file_path": task["file"]},
                bus=True,
            )
        if step % 100 == 20:
            self.entry(
                "lock_release",
                "coordination",
                agent,
                wave,
                task["id"],
                "unlock",
                {"file_path": task["file"]},
                bus=True,
            )
        checkpoint = {5: "create", TOOL_USES_PER_TASK - 5: "commit"}.get(step)
        if checkpoint is not None:
            self.entry(
                "checkpoint",
                "coordination",
                agent,
                wave,
                task["id"],
                "checkpoint",
                {"checkpoint_id": f"cp-{task['id']}", "action": checkpoint},
                bus=True,
            )
        tool = rng.choices(self.tool_names, self.tool_weights)[0]
        tool_use_id = f"{eid}-tu-{task['id']}-{step}"
        roll = rng.random()
        status = "done"
        if tool == "Bash" and roll < 0.02:
            status = "blocked"
        elif roll < 0.03:
            status = "error"
        file_path = (
            f"src/module_{rng.randrange(40)}.py" if self.tool_category[tool] != "shell" else None
        )
        command = "pytest -q" if tool == "Bash" else None
        input_json = json.dumps({"file_path": file_path} if file_path else {"command": command})
        entry_id, _, start = self.entry(
            "tool_use",
            "action",
            agent,
            wave,
            task["id"],
            f"{tool} {file_path or command}",
            {"tool": tool},
            skill_trace_id=task["skill"],
            tool_use_id=tool_use_id,
        )
        duration = rng.lognormvariate(3.0, 0.8)
        end = ts(
            datetime.fromisoformat(start.replace("Z", "+00:00")) + timedelta(milliseconds=duration)
        )
        self.rows["tool_uses"].append(
            (
                tool_use_id,
                eid,
                entry_id,
                agent,
                wave,
                task["id"],
                tool,
                self.tool_category[tool],
                input_json,
                (file_path or command)[:200],
                "ok",
                "ok",
                status,
                int(status == "error"),
                int(status == "blocked"),
                "dangerous command" if status == "blocked" else None,
                "command failed" if status == "error" else None,
                file_path,
                task["skill"],
                start,
                end,
                duration,
            )
        )
        if file_path and self.tool_category[tool] == "file_write":
            self.rows["task_file_impacts"].append(
                (tool_use_id, eid, task["id"], file_path, "UPDATE", tool_use_id, agent, wave, start)
            )
        if status == "error" and rng.random() < 0.2:
            self.entry(
                "error",
                "error",
                agent,
                wave,
                task["id"],
                "tool failed",
                {"message": "command failed", "error_type": "ToolError"},
                bus=True,
            )
        task["uses"] += 1
        if step % TOOL_USES_PER_SKILL == TOOL_USES_PER_SKILL - 1:
            self.end_skill(task, wave)

    def start_skill(self, task: dict[str, Any], wave: int) -> None:
        skill_id = f"{self.execution_id}-sk-{task['id']}-{task['uses']}"
        name = self.rng.choice(("code-generation", "testing", "refactor"))
        _, _, start = self.entry(
            "skill_invoke",
            "action",
            task["agent"],
            wave,
            task["id"],
            f"skill {name}",
            {"skill_name": name},
            skill_trace_id=skill_id,
        )
        task["skill"] = skill_id
        task["skill_row"] = [
            skill_id,
            self.execution_id,
            task["agent"],
            task["id"],
            name,
            f"skills/{name}.md",
            10,
            "Steps",
            None,
            None,
            None,
            start,
        ]

    def end_skill(self, task: dict[str, Any], wave: int) -> None:
        row = task["skill_row"]
        status = "failed" if self.rng.random() < 0.05 else "success"
        _, _, end = self.entry(
            "skill_complete",
            "action",
            task["agent"],
            wave,
            task["id"],
            "skill done",
            {"status": status},
            skill_trace_id=row[0],
        )
        start = datetime.fromisoformat(row[11].replace("Z", "+00:00"))
        duration = (datetime.fromisoformat(end.replace("Z", "+00:00")) - start).total_seconds()
        row[9] = status
        row[10] = "skill failed" if status == "failed" else None
        self.rows["skill_traces"].append((*row, end, duration * 1000, TOOL_USES_PER_SKILL))
        task["skill"] = None

    def finish_task(self, task: dict[str, Any], wave: int) -> None:
        eid = self.execution_id
        agent = task["agent"]
        chain_id = f"{eid}-ch-{task['id']}"
        chain_start = self.tick()
        results = []
        for n, category in enumerate(
            ("file_modified", "lint_passes", "tests_pass", "typescript_compiles", "schema_valid")
        ):
            result = "fail" if task["failed"] and n == 2 else "pass"
            assertion_id = f"{eid}-as-{task['id']}-{n}"
            entry_id, _, when = self.entry(
                "assertion",
                "validation",
                agent,
                wave,
                task["id"],
                f"{category}: {result}",
                {"category": category, "result": result},
                bus=True,
            )
            self.rows["assertion_results"].append(
                (
                    assertion_id,
                    eid,
                    task["id"],
                    chain_id,
                    agent,
                    category,
                    f"{category} check",
                    result,
                    json.dumps({"exit_code": 0 if result == "pass" else 1}),
                    f"{eid}-tu-{task['id']}-{TOOL_USES_PER_TASK - 1}",
                    entry_id,
                    when,
                    12.0,
                )
            )
            results.append((assertion_id, result))
        chain_end = self.tick()
        fails = [a for a, r in results if r == "fail"]
        self.rows["assertion_chains"].append(
            (
                chain_id,
                eid,
                task["id"],
                agent,
                "Validate UPDATE",
                "fail" if fails else "pass",
                len(results) - len(fails),
                len(fails),
                0,
                fails[0] if fails else None,
                chain_start,
                chain_end,
            )
        )
        status = "failed" if task["failed"] else "completed"
        _, _, end = self.entry(
            "task_end", "lifecycle", agent, wave, task["id"], f"Task {status}", {"status": status}
        )
        start = datetime.fromisoformat(task["start"].replace("Z", "+00:00"))
        duration = (datetime.fromisoformat(end.replace("Z", "+00:00")) - start).total_seconds()
        self.rows["tasks"].append(
            (
                task["id"],
                eid,
                f"Task {task['id']}",
                "UPDATE",
                task["file"],
                status,
                agent,
                wave,
                task["start"],
                end,
                duration * 1000,
                "assertion failed" if task["failed"] else None,
            )
        )


INSERTS = {
    "task_list_execution_runs": "INSERT INTO task_list_execution_runs "
    "(id, task_list_id, status, started_at, completed_at, trace_id) VALUES (?,?,?,?,?,?)",
    "transcript_entries": "INSERT INTO transcript_entries (id, execution_id, sequence, timestamp,"
    " instance_id, wave_number, task_id, entry_type, category, summary, details, skill_trace_id,"
    " tool_use_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "tool_uses": "INSERT INTO tool_uses (id, execution_id, transcript_entry_id, instance_id,"
    " wave_number, task_id, tool, tool_category, input, input_summary, output, output_summary,"
    " result_status, is_error, is_blocked, block_reason, error_message, file_path, within_skill,"
    " start_time, end_time, duration_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "skill_traces": "INSERT INTO skill_traces (id, execution_id, instance_id, task_id, skill_name,"
    " skill_file, line_number, section_title, parent_trace_id, status, error, start_time,"
    " end_time, duration_ms, tool_use_count) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "assertion_chains": "INSERT INTO assertion_chains (id, execution_id, task_id, instance_id,"
    " description, overall_result, pass_count, fail_count, skip_count, first_failure_id,"
    " start_time, end_time) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    "assertion_results": "INSERT INTO assertion_results (id, execution_id, task_id, chain_id,"
    " instance_id, category, description, result, evidence, tool_use_id, transcript_entry_id,"
    " timestamp, duration_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "message_bus_log": "INSERT INTO message_bus_log (id, execution_id, event_type, source,"
    " task_id, correlation_id, payload, timestamp) VALUES (?,?,?,?,?,?,?,?)",
    "tasks": "INSERT INTO tasks (id, execution_id, title, action, file, status, instance_id,"
    " wave_number, started_at, completed_at, duration_ms, error) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    "task_relationships": "INSERT INTO task_relationships (execution_id, source_task_id,"
    " target_task_id, relationship_type) VALUES (?,?,?,?)",
    "task_file_impacts": "INSERT INTO task_file_impacts (id, execution_id, task_id, file_path,"
    " operation, tool_use_id, instance_id, wave_number, timestamp) VALUES (?,?,?,?,?,?,?,?,?)",
    "parallel_execution_waves": "INSERT INTO parallel_execution_waves (execution_id, wave_number,"
    " status, task_count, started_at, completed_at) VALUES (?,?,?,?,?,?)",
    "wave_task_assignments": "INSERT INTO wave_task_assignments (execution_id, wave_number,"
    " task_id, instance_id, assigned_at) VALUES (?,?,?,?,?)",
    "build_agent_instances": "INSERT INTO build_agent_instances (id, execution_id, wave_number,"
    " pid, hostname, status, current_task_id, spawned_at, last_heartbeat_at, terminated_at,"
    " error) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
    "wave_statistics": "INSERT INTO wave_statistics (execution_id, wave_number, task_count,"
    " completed_count, failed_count, blocked_count, agent_count, started_at, completed_at)"
    " VALUES (?,?,?,?,?,?,?,?,?)",
}


def generate(db_path: Path, executions: int, seed: int = 7) -> None:
    """Write ``executions`` executions into a new store at ``db_path``."""
    rng = random.Random(seed)
    tmp = db_path.with_suffix(".partial")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp, isolation_level=None)
    schema.migrate(conn)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    started = time.perf_counter()
    for index in range(executions):
        rows = ExecutionBuilder(index, rng).build()
        conn.execute("BEGIN")
        for table, table_rows in rows.items():
            if table_rows:
                conn.executemany(INSERTS[table], table_rows)
        conn.execute("COMMIT")
        if (index + 1) % 10 == 0:
            print(
                f"  generated {index + 1}/{executions} executions "
                f"({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
            )
    conn.execute(MODEL_CALLS_SQL)  # one model call before every second tool use
    conn.close()
    tmp.rename(db_path)


#: The model calls of the generated store, for the cost tools (C001-C005): one per two
#: tool uses of an agent, a millisecond before the tool use it decided, deterministic.
MODEL_CALLS_SQL = """
INSERT INTO llm_calls (execution_id, id, kind, instance_id, task_id, model, provider,
    input_tokens, output_tokens, cache_read_tokens, cost_usd, cost_source, source,
    start_time, end_time, duration_ms)
SELECT execution_id, 'llm-' || id, 'call', instance_id, task_id,
    CASE n % 3 WHEN 0 THEN 'gpt-4o' WHEN 1 THEN 'claude-sonnet-4-5' ELSE 'gemini-2.5-flash' END,
    'bench', 1000 + n % 5000, 50 + n % 500, n % 1000, (n % 10000) / 1e6, 'computed', 'bench',
    strftime('%Y-%m-%dT%H:%M:%fZ', julianday(start_time) - 0.001 / 86400.0), start_time, 1.0
FROM (SELECT *, row_number() OVER (PARTITION BY execution_id ORDER BY start_time) AS n
      FROM tool_uses)
WHERE n % 2 = 1
"""


def tool_params(skills: ObservabilitySkills, execution_id: str) -> dict[str, dict[str, Any]]:
    """Parameters for each tool on ``execution_id``: its ids, a task, its task list."""
    conn = skills._connection()
    task_id = conn.execute(
        "SELECT id FROM tasks WHERE execution_id = ? ORDER BY id LIMIT 1 OFFSET 20",
        (execution_id,),
    ).fetchone()[0]
    task_list_id, completed_at = conn.execute(
        "SELECT task_list_id, completed_at FROM task_list_execution_runs WHERE id = ?",
        (execution_id,),
    ).fetchone()
    event_id = conn.execute(
        "SELECT id FROM message_bus_log WHERE execution_id = ? AND task_id = ? LIMIT 1",
        (execution_id, task_id),
    ).fetchone()[0]
    params: dict[str, dict[str, Any]] = {}
    for tool in load_tools().values():
        values: dict[str, Any] = {}
        for name in tool.param_names:
            if name == "execution_id":
                values[name] = execution_id
            elif name == "task_id":
                values[name] = task_id
            elif name == "task_list_id":
                values[name] = task_list_id
            elif name == "event_id":
                values[name] = event_id
            elif name == "now":
                values[name] = completed_at
        params[tool.id] = values
    return params


def measure(fn: Callable[[], Any], repeat: int) -> tuple[float, int]:
    """Median milliseconds of ``repeat`` runs (after one warm-up) and the result size."""
    result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    size = len(result) if hasattr(result, "__len__") else 1
    return statistics.median(times), size


def table(
    rows: Iterator[tuple[str, str, list[tuple[float, int]], float]], engines: list[str]
) -> tuple[str, int]:
    """A Markdown table: each tool's median (and rows) per engine, and whether all are on target."""
    head = " | ".join(f"{e} ms | {e} rows" for e in engines)
    lines = [
        f"| tool | title | {head} | target ms | ok |",
        "| --- | --- | " + " | ".join("---: | ---:" for _ in engines) + " | ---: | --- |",
    ]
    slow = 0
    for tool_id, title, measured, target in rows:
        ok = all(ms <= target for ms, _ in measured)
        slow += not ok
        cells = " | ".join(f"{ms:.1f} | {size}" for ms, size in measured)
        lines.append(f"| {tool_id} | {title} | {cells} | {target:.0f} | {'yes' if ok else 'NO'} |")
    return "\n".join(lines), slow


def server_store(db: Path, url: str) -> Any:
    """The PostgreSQL copy of the generated store at ``url`` (moved there when not there yet)."""
    from otel_obs.cli.move import move_store
    from otel_obs.store_location import parse_server_url

    server = parse_server_url(url)
    try:
        with ObservabilitySkills(server) as skills:
            found = skills._connection().execute("SELECT COUNT(*) FROM tool_uses").fetchone()[0]
    except ValueError:
        found = 0
    with ObservabilitySkills(db) as skills:
        wanted = skills._connection().execute("SELECT COUNT(*) FROM tool_uses").fetchone()[0]
    if found != wanted:
        print(f"moving {db} into {server} …", file=sys.stderr)
        started = time.perf_counter()
        last = [""]

        def progress(table: str, done: int, total: int) -> None:
            if table != last[0] or done == total:
                print(f"  {table}: {done:,}/{total:,}", file=sys.stderr)
                last[0] = table

        move_store(db, server, batch_rows=20_000, progress=progress)
        print(f"  moved in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db", type=Path, default=Path(tempfile.gettempdir()) / "otel-obs-bench" / "bench.db"
    )
    parser.add_argument("--executions", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--execution", help="execution to diagnose (default: the middle one)")
    parser.add_argument(
        "--engine",
        choices=("sqlite", "postgresql", "both"),
        default="sqlite",
        help="which engine's store to time (both: side by side)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("OTEL_OBS_BENCH_PG_URL"),
        help="the PostgreSQL database to time (default: $OTEL_OBS_BENCH_PG_URL)",
    )
    args = parser.parse_args(argv)
    if args.engine != "sqlite" and not args.pg_url:
        parser.error("--engine postgresql/both needs --pg-url (or OTEL_OBS_BENCH_PG_URL)")

    args.db.parent.mkdir(parents=True, exist_ok=True)
    if not args.db.exists():
        print(f"generating {args.executions} executions into {args.db} …", file=sys.stderr)
        generate(args.db, args.executions)
    stores: dict[str, Any] = {}
    if args.engine in ("sqlite", "both"):
        stores["sqlite"] = args.db
    if args.engine in ("postgresql", "both"):
        stores["postgresql"] = server_store(args.db, args.pg_url)
    engines = list(stores)
    all_skills = {name: ObservabilitySkills(store) for name, store in stores.items()}
    first = all_skills[engines[0]]
    total_uses = first._connection().execute("SELECT COUNT(*) FROM tool_uses").fetchone()[0]
    execution_id = args.execution or f"exec-{args.executions // 2:03d}"
    print(
        f"store: {total_uses:,} tool uses; diagnosing {execution_id}, "
        f"median of {args.repeat} runs; engines: {', '.join(engines)}\n"
    )
    params = tool_params(first, execution_id)
    tools = load_tools()

    def results() -> Iterator[tuple[str, str, list[tuple[float, int]], float]]:
        for tool_id, tool in tools.items():
            measured = [
                measure(lambda t=tool_id, s=skills: s.run(t, **params[t]), args.repeat)
                for skills in all_skills.values()
            ]
            yield tool_id, tool.title, measured, TARGET_TOOL_MS
        measured = [
            measure(lambda s=skills: s.validate(execution_id), args.repeat)
            for skills in all_skills.values()
        ]
        yield "validate", "V001–V007 as issues", measured, TARGET_VALIDATE_MS

    text, slow = table(results(), engines)
    print(text)
    for skills in all_skills.values():
        skills.close()
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
