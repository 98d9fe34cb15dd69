"""``watch``, ``diff`` and ``prune`` on the demo's store: what they say agrees with the SQL
tools and the tables, counted apart in the test."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from demo_store import DemoStore, demo_store

from otel_obs import ObservabilitySkills
from otel_obs.exporters.schema import TABLES


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    return demo_store(tmp_path_factory)


def test_watch_on_the_ended_demo_prints_each_finding_once(demo: DemoStore) -> None:
    done = demo.cli("watch", demo.execution_id, "--db", str(demo.db), "--json", "--timeout", "30")
    findings = [json.loads(line) for line in done.stdout.splitlines()]
    with ObservabilitySkills(demo.db) as skills:
        errors = skills.run("T001", execution_id=demo.execution_id)
        blocked = skills.run("T002", execution_id=demo.execution_id)
    kinds = [f["kind"] for f in findings]
    assert kinds.count("root_cause") == (1 if errors else 0)
    failed_assertions = sum(1 for e in errors if e["source"] == "assertion")
    assert kinds.count("failed_assertion") == failed_assertions
    assert kinds.count("error") + kinds.count("root_cause") == len(errors) - failed_assertions
    assert kinds.count("blocked") == len(blocked)
    assert len({f["key"] for f in findings}) == len(findings)  # each once
    assert done.returncode == (1 if findings else 0), done.stderr


def test_diff_of_the_demo_with_itself_finds_nothing(demo: DemoStore) -> None:
    done = demo.cli("diff", demo.execution_id, demo.execution_id, "--db", str(demo.db), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    from otel_obs.queries.diff import CHANGES

    assert [name for name in CHANGES if result[name]] == []


def test_a_dry_run_prune_of_the_demo_counts_every_row_it_would_remove(
    demo: DemoStore, tmp_path: Path
) -> None:
    db = tmp_path / "demo.db"
    shutil.copy(demo.db, db)
    conn = sqlite3.connect(db)
    expected = {}
    for table in TABLES:
        columns = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        key = "id" if table == "task_list_execution_runs" else "execution_id"
        if key in columns:
            n = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if n:
                expected[table] = n
    conn.close()
    done = demo.cli("prune", "--db", str(db), "--keep-last", "0", "--dry-run", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["executions"] == [demo.execution_id]
    assert result["rows_by_table"] == expected
