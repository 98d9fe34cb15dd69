"""Parallel-execution tools P001–P007 on a two-wave execution recorded through the producers.

``scenarios_parallel.build_parallel`` records execution ``par-1`` with an
orchestrator's execution and wave spans, then moves tasks, agents and waves
to the timeline of ``PARALLEL_TASKS`` / ``PARALLEL_AGENTS`` /
``PARALLEL_WAVES``. Expected answers are worked out here from those tables
(in plain Python, or by hand where noted), never taken from the tools.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from itertools import combinations

import pytest
import scenarios_parallel as sp

from otel_obs.queries.runner import ObservabilitySkills

EXECUTION = sp.PARALLEL_EXECUTION
UNKNOWN = {"execution_id": "no-such-execution"}
#: ``now`` for P002: 10:06:00.
NOW = sp.at(10, 6)
WRITES = {"CREATE", "UPDATE", "DELETE"}


@pytest.fixture(scope="module")
def skills(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObservabilitySkills]:
    store = sp.Store.at(tmp_path_factory.mktemp("parallel"))
    sp.build_parallel(store)
    sp.build_clean(store)
    with ObservabilitySkills(store.db_path) as skills:
        yield skills
    store.close()


def _tasks(wave: int | None = None) -> list[tuple]:
    return [t for t in sp.PARALLEL_TASKS if wave is None or t[1] == wave]


# P001 ---------------------------------------------------------------------


def test_p001_wave_progress(skills):
    rows = skills.run("P001", execution_id=EXECUTION)
    assert [r["wave_number"] for r in rows] == [1, 2]
    wave1, wave2 = rows
    # Wave 1: T1 T2 T4 T5 completed, T3 failed; its wave span ended.
    assert wave1 == {
        "wave_number": 1,
        "wave_status": "completed",
        "tasks": 5,
        "completed": 4,
        "running": 0,
        "failed": 1,
        "blocked": 0,
        "skipped": 0,
        "pending": 0,
        "progress_pct": 100.0,
    }
    # Wave 2: T6 and T7 running, T8 blocked; its wave span is still open.
    assert wave2 == {
        "wave_number": 2,
        "wave_status": "running",
        "tasks": 3,
        "completed": 0,
        "running": 2,
        "failed": 0,
        "blocked": 1,
        "skipped": 0,
        "pending": 0,
        "progress_pct": 33.3,
    }


def test_p001_unknown_execution_is_empty(skills):
    assert skills.run("P001", **UNKNOWN) == []


# P002 ---------------------------------------------------------------------


def test_p002_agent_silent_longer_than_the_threshold_is_stuck(skills):
    # At 10:06:00, w2a was last heard from at 10:03:00 (180 s), w2b at 10:05:00
    # (60 s); wave-1 agents ended long ago but are not executing.
    rows = skills.run("P002", execution_id=EXECUTION, now=NOW)
    assert [(r["instance_id"], r["current_task_id"], r["silent_s"]) for r in rows] == [
        ("w2a", "T6", 180.0)
    ]
    assert rows[0]["last_heartbeat_at"] == sp.at(10, 3)


def test_p002_threshold_is_a_parameter(skills):
    rows = skills.run("P002", execution_id=EXECUTION, now=NOW, heartbeat_s=30)
    assert [r["instance_id"] for r in rows] == ["w2a", "w2b"]  # quietest first
    assert skills.run("P002", execution_id=EXECUTION, now=NOW, heartbeat_s=200) == []


def test_p002_finished_agents_and_unknown_executions_are_never_stuck(skills):
    far_future = sp.at(23)
    assert skills.run("P002", execution_id=sp.CLEAN_EXECUTION, now=far_future) == []
    assert skills.run("P002", now=far_future, **UNKNOWN) == []


# P003 ---------------------------------------------------------------------


def _expected_conflicts() -> list[tuple]:
    """Pairs of one wave on one file where at least one task writes, from the table."""
    pairs = []
    for a, b in combinations(sorted(sp.PARALLEL_TASKS), 2):
        same_wave_and_file = a[1] == b[1] and a[4] == b[4]
        if same_wave_and_file and (a[3] in WRITES or b[3] in WRITES):
            pairs.append((a[1], a[4], a[0], b[0], a[3], b[3]))
    return sorted(pairs)


def test_p003_file_conflicts_within_a_wave(skills):
    rows = skills.run("P003", execution_id=EXECUTION)
    got = [
        (r["wave_number"], r["file_path"], r["task_a"], r["task_b"], r["operations_a"],
         r["operations_b"])
        for r in rows
    ]  # fmt: skip
    assert got == _expected_conflicts()
    # By hand: T1/T2/T3 share src/shared.py in wave 1 (two readers T4/T5 of
    # docs/guide.md do not conflict; T7 writes src/shared.py in another wave);
    # T6/T8 both update src/api.py in wave 2.
    assert [(g[2], g[3]) for g in got] == [("T1", "T2"), ("T1", "T3"), ("T2", "T3"), ("T6", "T8")]


def test_p003_no_conflicts_in_a_clean_execution(skills):
    assert skills.run("P003", execution_id=sp.CLEAN_EXECUTION) == []
    assert skills.run("P003", **UNKNOWN) == []


# P004 ---------------------------------------------------------------------


def test_p004_wave_efficiency(skills):
    rows = {r["wave_number"]: r for r in skills.run("P004", execution_id=EXECUTION)}
    start, end = sp.PARALLEL_WAVES[1]
    tasks = _tasks(1)
    agents = {t[2] for t in tasks}
    busy_ms = sum((t[6] - t[5]) * 1000.0 for t in tasks)
    duration_ms = (end - start) * 1000.0
    assert rows[1] == {
        "wave_number": 1,
        "agents": len(agents),
        "tasks": len(tasks),
        "duration_ms": duration_ms,
        "busy_ms": busy_ms,
        "mean_task_ms": busy_ms / len(tasks),
        "utilisation_pct": round(100 * busy_ms / (len(agents) * duration_ms), 1),
    }
    # By hand: 230 s of work for 3 agents over 120 s.
    assert rows[1]["utilisation_pct"] == 63.9
    # Wave 2 is still running: its one finished task counts, but it has no span yet.
    assert rows[2]["agents"] == 2 and rows[2]["tasks"] == 3
    assert rows[2]["busy_ms"] == 30000.0 and rows[2]["mean_task_ms"] == 30000.0
    assert rows[2]["duration_ms"] is None and rows[2]["utilisation_pct"] is None


def test_p004_unknown_execution_is_empty(skills):
    assert skills.run("P004", **UNKNOWN) == []


# P005 ---------------------------------------------------------------------


def test_p005_slowest_tasks_of_each_wave(skills):
    rows = skills.run("P005", execution_id=EXECUTION)
    expected = []
    for wave in (1, 2):
        finished = [t for t in _tasks(wave) if t[6] is not None]
        mean = sum((t[6] - t[5]) * 1000.0 for t in finished) / len(finished)
        slowest = sorted(finished, key=lambda t: (-(t[6] - t[5]), t[0]))[:3]
        for rank, t in enumerate(slowest, start=1):
            expected.append((wave, rank, t[0], t[2], t[7], (t[6] - t[5]) * 1000.0, mean))
    got = [
        (r["wave_number"], r["rank"], r["task_id"], r["instance_id"], r["status"],
         r["duration_ms"], r["wave_mean_ms"])
        for r in rows
    ]  # fmt: skip
    assert got == expected
    # By hand: wave 1 is held up by T2 (90 s), T1 (60 s), T5 (40 s); wave 2 by T8.
    assert [(r["task_id"], r["ratio_to_mean"]) for r in rows] == [
        ("T2", 1.96),
        ("T1", 1.3),
        ("T5", 0.87),
        ("T8", 1.0),
    ]


def test_p005_top_is_a_parameter(skills):
    rows = skills.run("P005", execution_id=EXECUTION, top=1)
    assert [(r["wave_number"], r["task_id"]) for r in rows] == [(1, "T2"), (2, "T8")]


def test_p005_unknown_execution_is_empty(skills):
    assert skills.run("P005", **UNKNOWN) == []


# P006 ---------------------------------------------------------------------


def _expected_overlaps() -> list[tuple[str, str, str, str, float]]:
    """Pairs of tasks whose time ranges overlap (a running task until its last activity)."""
    ranges = {
        t[0]: (t[5], t[6] if t[6] is not None else sp.PARALLEL_LAST_ACTIVITY[t[0]])
        for t in sp.PARALLEL_TASKS
    }
    pairs = []
    for a, b in combinations(sorted(ranges), 2):
        start = max(ranges[a][0], ranges[b][0])
        end = min(ranges[a][1], ranges[b][1])
        if end > start:
            pairs.append((a, b, sp.at(10, 0, start), sp.at(10, 0, end), (end - start) * 1000.0))
    return sorted(pairs, key=lambda p: (-p[4], p[0], p[1]))


def test_p006_concurrent_tasks_longest_overlap_first(skills):
    rows = skills.run("P006", execution_id=EXECUTION)
    got = [
        (r["task_a"], r["task_b"], r["overlap_start"], r["overlap_end"], r["overlap_ms"])
        for r in rows
    ]
    assert got == _expected_overlaps()
    # By hand: T2 and T5 shared 10:01:00–10:01:40; the running T6 overlaps T7
    # only until its last activity at 10:02:50; T1 ends as T5 starts (no overlap).
    assert got[0] == ("T2", "T5", sp.at(10, 1), sp.at(10, 1, 40), 40000.0)
    assert ("T6", "T7", sp.at(10, 2, 40), sp.at(10, 2, 50), 10000.0) in got
    assert not [g for g in got if (g[0], g[1]) == ("T1", "T5")]
    assert (rows[0]["instance_a"], rows[0]["instance_b"]) == ("w1b", "w1a")


def test_p006_limit_is_a_parameter(skills):
    rows = skills.run("P006", execution_id=EXECUTION, limit=3)
    assert [(r["task_a"], r["task_b"]) for r in rows] == [
        (a, b) for a, b, *_ in _expected_overlaps()[:3]
    ]


def test_p006_sequential_tasks_do_not_overlap(skills):
    # clean-1's two agents ran one after the other.
    assert skills.run("P006", execution_id=sp.CLEAN_EXECUTION) == []
    assert skills.run("P006", **UNKNOWN) == []


# P007 ---------------------------------------------------------------------


def test_p007_agent_lifecycle(skills):
    rows = skills.run("P007", execution_id=EXECUTION)
    expected = []
    for instance, (spawned, terminated, heartbeat) in sorted(
        sp.PARALLEL_AGENTS.items(), key=lambda item: (item[1][0], item[0])
    ):
        ran = sorted((t for t in sp.PARALLEL_TASKS if t[2] == instance), key=lambda t: t[5])
        end = terminated if terminated is not None else heartbeat
        expected.append(
            (
                instance,
                "completed" if terminated is not None else "executing",
                (end - spawned) * 1000.0,
                ",".join(t[0] for t in ran),
            )
        )
    got = [(r["instance_id"], r["status"], r["runtime_ms"], r["task_ids"]) for r in rows]
    assert got == expected
    # By hand: w2b ran T8 then T7 and has been up 10:02:00–10:05:00 (last heartbeat).
    assert ("w2b", "executing", 180000.0, "T8,T7") in got
    assert {r["wave_number"] for r in rows} == {1, 2}


def test_p007_unknown_execution_is_empty(skills):
    assert skills.run("P007", **UNKNOWN) == []


# the combined report ----------------------------------------------------------


def test_parallel_health_reports_the_stuck_agent_and_conflicts(skills):
    report = skills.parallel_health(EXECUTION, now=NOW)
    assert not report.is_healthy
    assert [a["instance_id"] for a in report.stuck_agents] == ["w2a"]
    assert len(report.file_conflicts) == len(_expected_conflicts())


# the shared scenarios (conftest) ------------------------------------------------


def test_p002_finds_the_stuck_agent_of_the_shared_scenario(stuck_agent):
    later = datetime.fromtimestamp(stuck_agent.built_at + 200, tz=timezone.utc)
    with ObservabilitySkills(stuck_agent.db_path) as skills:
        rows = skills.run("P002", execution_id=stuck_agent.execution_id, now=later)
        # nothing has been quiet for 120 s right after the build
        soon = datetime.fromtimestamp(stuck_agent.built_at + 60, tz=timezone.utc)
        assert skills.run("P002", execution_id=stuck_agent.execution_id, now=soon) == []
    assert [(r["instance_id"], r["wave_number"]) for r in rows] == [
        (stuck_agent.stuck_instance, stuck_agent.wave)
    ]
    assert 199 < rows[0]["silent_s"] < 230


def test_p003_finds_the_conflicts_of_the_shared_scenario(wave_conflicts):
    with ObservabilitySkills(wave_conflicts.db_path) as skills:
        rows = skills.run("P003", execution_id=wave_conflicts.execution_id)
    got = {(r["wave_number"], r["file_path"], r["task_a"], r["task_b"]) for r in rows}
    assert got == wave_conflicts.conflicts
    assert len(rows) == len(got)  # each pair once


def test_p001_counts_the_waves_of_the_shared_scenario(wave_conflicts):
    with ObservabilitySkills(wave_conflicts.db_path) as skills:
        rows = skills.run("P001", execution_id=wave_conflicts.execution_id)
    tasks_per_wave = {
        wave: sum(1 for w in wave_conflicts.waves.values() if w == wave) for wave in (1, 2)
    }
    assert [(r["wave_number"], r["tasks"]) for r in rows] == sorted(tasks_per_wave.items())
    wave2 = rows[1]
    assert (wave2["running"], wave2["blocked"]) == (1, 1)  # w-5 runs, w-4 blocked


def test_parallel_tools_are_quiet_on_the_shared_clean_run(clean_run):
    with ObservabilitySkills(clean_run.db_path) as skills:
        far = datetime(2100, 1, 1, tzinfo=timezone.utc)
        assert skills.run("P002", execution_id=clean_run.execution_id, now=far) == []
        assert skills.run("P003", execution_id=clean_run.execution_id) == []
        assert skills.run("P006", execution_id=clean_run.execution_id) == []
        (wave,) = skills.run("P001", execution_id=clean_run.execution_id)
        assert (wave["tasks"], wave["completed"], wave["progress_pct"]) == (
            len(clean_run.task_ids),
            len(clean_run.task_ids),
            100.0,
        )
