"""Every tool finishes on any data, or fails with an error naming it and the limit.

Tasks that all depend on each other have exponentially many simple cycles:
D006 must answer them per group of tasks (the shortest cycle through the
group's smallest task) instead of walking every path. The stores are recorded
through the real producers and the commands run as a user runs them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import scenarios_parallel as sp
from demo_store import clean_env, run_cli

from otel_obs.queries.readonly import ReadTimeoutError
from otel_obs.queries.runner import ObservabilitySkills

TWELVE = "dense-12"
FORTY = "dense-40"


def _dense(store: sp.Store, execution_id: str, count: int) -> list[str]:
    """``count`` tasks, each depending on every other one."""
    tasks = [f"T-{n:02d}" for n in range(count)]
    w = sp.worker(store, execution_id, f"{execution_id}-w")
    for task in tasks:
        w.start_task(task, depends_on=[t for t in tasks if t != task])
        w.end_task(task, "blocked")
    w.writer.close()
    store.flush()
    return tasks


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sp.Store]:
    store = sp.Store.at(tmp_path_factory.mktemp("dense"))
    _dense(store, TWELVE, 12)
    _dense(store, FORTY, 40)
    yield store
    store.close()


def _timed(skills: ObservabilitySkills, tool: str, **params: object) -> tuple[list, float]:
    started = time.monotonic()
    rows = skills.run(tool, **params)
    return rows, time.monotonic() - started


def test_d006_on_twelve_mutually_dependent_tasks_answers_at_once(store):
    with ObservabilitySkills(store.db_path) as skills:
        rows, took = _timed(skills, "D006", execution_id=TWELVE)
    assert took < 1.0, took
    assert rows == [
        {
            "execution_id": TWELVE,
            "cycle_start": "T-00",
            "cycle_length": 2,
            "path": "T-00 -> T-01 -> T-00",
            "tasks_in_group": 12,
        }
    ]


def test_d006_on_a_denser_graph_and_the_whole_store(store):
    with ObservabilitySkills(store.db_path) as skills:
        rows, took = _timed(skills, "D006")
    assert took < 2.0, took
    assert [(r["execution_id"], r["cycle_start"], r["tasks_in_group"]) for r in rows] == [
        (TWELVE, "T-00", 12),
        (FORTY, "T-00", 40),
    ]


def test_anomalies_and_report_finish_on_the_dense_executions(store, tmp_path: Path):
    env = clean_env()
    db = str(store.db_path)
    started = time.monotonic()
    proc = run_cli("anomalies", TWELVE, "--db", db, "--json", cwd=tmp_path, env=env, timeout=30)
    assert proc.returncode == 0, proc.stderr
    cycles = json.loads(proc.stdout)["circular_waits"]
    assert [c["tasks_in_group"] for c in cycles] == [12]
    out = tmp_path / "report.html"
    proc = run_cli("report", FORTY, "--db", db, "-o", str(out), cwd=tmp_path, env=env, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "T-00 -&gt; T-01 -&gt; T-00" in out.read_text(encoding="utf-8")
    assert time.monotonic() - started < 20


def test_a_tool_past_its_time_limit_fails_naming_the_tool_and_the_limit(store, tmp_path):
    with ObservabilitySkills(store.db_path, tool_timeout_ms=1) as skills:
        with pytest.raises(ReadTimeoutError) as caught:
            skills.run("D006", execution_id=FORTY)
        message = str(caught.value)
        assert "D006" in message and "1 ms" in message and "OTEL_OBS_TOOL_TIMEOUT_MS" in message
        # The same connection answers again once the tool has the time it needs.
        skills.tool_timeout_ms = 60_000
        assert len(skills.run("D006", execution_id=FORTY)) == 1
    proc = run_cli(
        "tool",
        "D006",
        "--db",
        str(store.db_path),
        cwd=tmp_path,
        env=clean_env(OTEL_OBS_TOOL_TIMEOUT_MS="1"),
    )
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    line = proc.stderr.strip()
    assert "D006" in line and "1 ms" in line and "Traceback" not in line, line


def test_the_time_limit_is_checked():
    with pytest.raises(ValueError, match="tool_timeout_ms"):
        ObservabilitySkills(Path(__file__), tool_timeout_ms=0)
