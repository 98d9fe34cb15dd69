"""``otel-obs prune`` on a PostgreSQL store: whole executions go, the others stay whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from otel_obs import ToolUseLogger, TranscriptWriter
from otel_obs.config import close_private_pipelines
from otel_obs.exporters.schema import TABLES


def run(execution_id: str, url: str, transcripts: Path) -> None:
    writer = TranscriptWriter(execution_id, "agent", db_path=url, transcripts_dir=transcripts)
    log = ToolUseLogger(writer)
    with writer.task("T1", "work"):
        for i in range(3):
            tool = log.log_start({"id": f"t{i}", "name": "Read", "input": {"file_path": "a"}})
            log.log_end(tool, {"tool_use_id": tool, "content": "ok", "is_error": False})
    writer.close()


def counts(url: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    with psycopg.connect(url) as conn:
        for table in (*TABLES, "entry_counters"):
            key = "id" if table == "task_list_execution_runs" else "execution_id"
            has = conn.execute(
                "SELECT 1 FROM information_schema.columns WHERE table_name = %s"
                " AND column_name = %s",
                (table, key),
            ).fetchone()
            if has:
                for execution_id, n in conn.execute(
                    f"SELECT {key}, count(*) FROM {table} GROUP BY {key}"
                ):
                    out.setdefault(execution_id, {})[table] = n
    return out


def test_prune_keeps_the_newest_and_removes_the_rest_whole(pg_url: str, tmp_path: Path) -> None:
    transcripts = tmp_path / "t"
    for execution_id in ("exec-1", "exec-2", "exec-3"):
        run(execution_id, pg_url, transcripts)
    close_private_pipelines()
    before = counts(pg_url)
    assert set(before) == {"exec-1", "exec-2", "exec-3"}
    env = {**os.environ, "OTEL_OBS_DB": pg_url}
    command = [sys.executable, "-m", "otel_obs", "prune", "--keep-last", "1", "--json"]
    dry = subprocess.run(
        [*command, "--dry-run", "--transcripts-dir", str(transcripts)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert counts(pg_url) == before
    done = subprocess.run(
        [*command, "--transcripts-dir", str(transcripts)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert sorted(report["executions"]) == ["exec-1", "exec-2"]
    assert json.loads(dry.stdout)["rows_by_table"] == report["rows_by_table"]
    after = counts(pg_url)
    assert after == {"exec-3": before["exec-3"]}  # the kept one untouched, counter included
    assert report["rows"] == sum(
        n for e in ("exec-1", "exec-2") for t, n in before[e].items() if t != "entry_counters"
    )
    assert not list(transcripts.rglob("exec-1*")) and list(transcripts.rglob("exec-3*"))
