"""``otel-obs demo`` end to end: worker processes in waves, one trace, the planted faults found.

The store is built once per session by ``demo_store`` through the real entry
point; every expectation here comes from the seeded plan (``build_plan``) —
which task carries which fault, which tasks depend on which — not from what
the demo printed.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from demo_store import SEED, WORKERS, DemoStore, demo_store

from otel_obs.demo.plan import (
    BLOCKED_COMMAND,
    CASCADE_FAILED_TOOLS,
    ERROR_CASCADE,
    FAILING_ASSERTION,
    FAULTS,
    UNRELEASED_LOCK,
    WAVES,
    build_plan,
)
from otel_obs.queries.runner import ObservabilitySkills


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    return demo_store(tmp_path_factory)


@pytest.fixture()
def db(demo: DemoStore):
    conn = sqlite3.connect(f"{demo.db.as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    yield conn
    conn.close()


def test_plan_is_reproducible_and_plants_every_fault_once():
    first, again, other = (
        build_plan(SEED, WORKERS),
        build_plan(SEED, WORKERS),
        build_plan(SEED + 1, 3),
    )
    assert first == again
    assert len(first.instances) == WORKERS * WAVES
    assert len(other.instances) == 3 * WAVES
    for plan in (first, other):
        assert sorted(t.fault for t in plan.tasks if t.fault) == sorted(FAULTS)
        # Wave-2 tasks depend only on wave-1 tasks.
        wave1 = {t.id for t in plan.tasks if t.wave == 1}
        assert all(set(t.depends_on) <= wave1 and t.depends_on for t in plan.tasks if t.wave == 2)
    with pytest.raises(ValueError, match="workers"):
        build_plan(SEED, 0)


def test_demo_reports_the_execution_it_recorded(demo: DemoStore):
    result = demo.result
    assert result["execution_id"].startswith("demo-")
    assert result["db"] == str(demo.db.resolve())
    assert result["instances"] == [w.instance_id for w in demo.plan.instances]
    assert result["faults"] == {f: demo.plan.task_with(f).id for f in FAULTS}
    assert result["tasks"] == {t.id: t.expected_status for t in demo.plan.tasks}
    assert result["summary"]["execution_id"] == demo.execution_id
    assert any(demo.execution_id in c for c in result["next_commands"])


def test_workers_in_two_waves_write_one_execution(demo: DemoStore, db: sqlite3.Connection):
    exec_id = demo.execution_id
    agents = db.execute(
        "SELECT id, wave_number, status, pid FROM build_agent_instances WHERE execution_id = ?",
        (exec_id,),
    ).fetchall()
    assert {(a["id"], a["wave_number"]) for a in agents} == {
        (w.instance_id, w.wave) for w in demo.plan.instances
    }
    assert {a["status"] for a in agents} == {"completed"}
    # Separate worker processes: one pid per instance, none of them ours.
    assert len({a["pid"] for a in agents}) == len(demo.plan.instances)

    waves = db.execute(
        "SELECT wave_number, task_count FROM parallel_execution_waves WHERE execution_id = ?"
        " ORDER BY wave_number",
        (exec_id,),
    ).fetchall()
    per_wave = {n: sum(len(w.tasks) for w in demo.plan.waves[n - 1]) for n in range(1, WAVES + 1)}
    assert [(w["wave_number"], w["task_count"]) for w in waves] == sorted(per_wave.items())

    run = db.execute(
        "SELECT task_list_id, trace_id FROM task_list_execution_runs WHERE id = ?", (exec_id,)
    ).fetchone()
    assert run["task_list_id"] == demo.plan.task_list_id
    # TRACEPARENT propagation: every entry of every worker is in the orchestrator's trace.
    traces = {
        r[0]
        for r in db.execute(
            "SELECT DISTINCT trace_id FROM transcript_entries WHERE execution_id = ?", (exec_id,)
        )
    }
    assert traces == {run["trace_id"]}


def test_tasks_and_dependencies_follow_the_plan(demo: DemoStore, db: sqlite3.Connection):
    rows = db.execute(
        "SELECT id, status, wave_number, file, instance_id FROM tasks WHERE execution_id = ?",
        (demo.execution_id,),
    ).fetchall()
    owner = {t.id: w.instance_id for w in demo.plan.instances for t in w.tasks}
    assert {
        r["id"]: (r["status"], r["wave_number"], r["file"], r["instance_id"]) for r in rows
    } == {t.id: (t.expected_status, t.wave, t.file, owner[t.id]) for t in demo.plan.tasks}
    deps = {
        (r[0], r[1])
        for r in db.execute(
            "SELECT source_task_id, target_task_id FROM task_relationships WHERE execution_id = ?",
            (demo.execution_id,),
        )
    }
    assert deps == {(t.id, d) for t in demo.plan.tasks for d in t.depends_on}


def test_a_few_hundred_tool_uses_with_skills_assertions_locks_and_checkpoints(
    demo: DemoStore, db: sqlite3.Connection
):
    exec_id = demo.execution_id
    tool_uses = db.execute(
        "SELECT COUNT(*) FROM tool_uses WHERE execution_id = ?", (exec_id,)
    ).fetchone()[0]
    # Each task alone makes well over 10 tool uses (reads, writes, edits, test runs).
    assert tool_uses >= 15 * len(demo.plan.tasks)
    types = {
        r[0]: r[1]
        for r in db.execute(
            "SELECT entry_type, COUNT(*) FROM transcript_entries WHERE execution_id = ?"
            " GROUP BY entry_type",
            (exec_id,),
        )
    }
    n_tasks, n_agents = len(demo.plan.tasks), len(demo.plan.instances)
    assert types["task_start"] == types["task_end"] == n_tasks
    assert types["phase_start"] == types["phase_end"] == 3 * n_agents
    assert types["checkpoint"] == 2 * n_tasks
    assert types["decision"] >= n_agents
    assert types["skill_invoke"] == types["skill_complete"] >= n_tasks
    # One lock per task; the planted one is never released.
    assert types["lock_acquire"] == n_tasks - 1  # the cascade task never gets to write
    assert types["lock_release"] == n_tasks - 2
    # File assertions really checked the files the workers wrote.
    created = db.execute(
        "SELECT task_id, result FROM assertion_results WHERE execution_id = ?"
        " AND category = 'file_created'",
        (exec_id,),
    ).fetchall()
    writers = {t.id for t in demo.plan.tasks if t.fault != ERROR_CASCADE}
    assert {r["task_id"] for r in created} == writers
    assert {r["result"] for r in created} == {"pass"}


def test_transcript_file_holds_the_stored_entries(demo: DemoStore, db: sqlite3.Connection):
    path = demo.transcripts / demo.execution_id / "transcript.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    stored = db.execute(
        "SELECT id, sequence FROM transcript_entries WHERE execution_id = ? ORDER BY sequence",
        (demo.execution_id,),
    ).fetchall()
    assert sorted((e["id"], e["sequence"]) for e in lines) == sorted(
        (r["id"], r["sequence"]) for r in stored
    )
    assert [r["sequence"] for r in stored] == list(range(1, len(stored) + 1))


def test_the_planted_faults_are_found(demo: DemoStore):
    exec_id, plan = demo.execution_id, demo.plan
    skills = ObservabilitySkills(demo.db)

    blocked = skills.find_blocked(exec_id)
    assert [b["task_id"] for b in blocked] == [plan.task_with(BLOCKED_COMMAND).id]

    lock_file = plan.task_with(UNRELEASED_LOCK).file
    issues = skills.validate(exec_id)
    assert [i.check_id for i in issues] == ["V004"]
    assert lock_file in json.dumps(issues[0].details)

    errors = skills.find_errors(exec_id)
    assert [e.is_root_cause for e in errors] == [True] + [False] * (len(errors) - 1)
    failing = plan.task_with(FAILING_ASSERTION).id
    cascade = plan.task_with(ERROR_CASCADE).id
    assert any(e.task_id == failing and e.source == "assertion" for e in errors)
    assert sum(e.task_id == cascade and e.source == "tool" for e in errors) == CASCADE_FAILED_TOOLS

    anomalies = skills.detect_anomalies(exec_id)
    assert anomalies.error_cascades, "the failed installs and the error entry form a cascade"
    assert any(lock_file in json.dumps(r) for r in anomalies.orphaned_resources)
