"""``otel-obs prune``: whole executions removed (every table, their transcripts), the rest
untouched, nothing removed by a dry run, and writers running meanwhile lose nothing."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ingest_support import table_rows

from otel_obs import ObservabilitySkills, ToolUseLogger, TranscriptWriter
from otel_obs.config import get_pipeline
from otel_obs.exporters.jsonl import transcript_path
from otel_obs.exporters.schema import TABLES
from otel_obs.propagation import execution_scope


def one_run(pipeline: Any, execution_id: str, tools: int = 3) -> None:
    with execution_scope(execution_id, pipeline=pipeline):
        writer = TranscriptWriter(None, "agent-1", pipeline=pipeline)
        logger = ToolUseLogger(writer)
        with writer.task("T1", "task", action="UPDATE", file="a.py"):
            for n in range(tools):
                tool_id = logger.log_start(
                    {"id": f"c{n}", "name": "Read", "input": {"file_path": f"f{n}.py"}}
                )
                logger.log_end(tool_id, {"tool_use_id": f"c{n}", "content": "x", "is_error": False})
        writer.close()


def prune(db: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "otel_obs", "prune", "--db", str(db), "--json", *args],
        capture_output=True,
        text=True,
    )
    return done.returncode, json.loads(done.stdout) if done.stdout else {"stderr": done.stderr}


def rows_of(db: Path, execution_id: str) -> int:
    conn = sqlite3.connect(db)
    try:
        total = 0
        for table in TABLES:
            columns = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            key = "execution_id" if "execution_id" in columns else "id"
            if key in columns and (key == "execution_id" or table == "task_list_execution_runs"):
                total += conn.execute(
                    f"SELECT count(*) FROM {table} WHERE {key} = ?", (execution_id,)
                ).fetchone()[0]
        return total
    finally:
        conn.close()


def test_keep_last_and_older_than_remove_whole_executions(tmp_path: Path) -> None:
    db, transcripts = tmp_path / "obs.db", tmp_path / "transcripts"
    pipeline = get_pipeline(db, transcripts)
    try:
        for n in range(3):
            one_run(pipeline, f"old-{n}")
        for n in range(2):
            one_run(pipeline, f"new-{n}")
        assert pipeline.flush(10)
    finally:
        pipeline.shutdown()
    # Planted ages: the old runs started 40 days ago.
    conn = sqlite3.connect(db)
    conn.execute(
        "UPDATE task_list_execution_runs SET started_at = ? WHERE id LIKE 'old-%'",
        ((datetime.now(timezone.utc) - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),),
    )
    conn.commit()
    conn.close()
    kept_before = {e: rows_of(db, e) for e in ("new-0", "new-1")}
    before = table_rows(db)

    code, dry = prune(db, "--older-than", "30d", "--dry-run")
    assert code == 0 and dry["dry_run"] and sorted(dry["executions"]) == ["old-0", "old-1", "old-2"]
    assert dry["rows_by_table"]["tool_uses"] == 9
    assert table_rows(db) == before  # a dry run removes nothing

    code, done = prune(db, "--older-than", "30d")
    assert code == 0 and sorted(done["executions"]) == ["old-0", "old-1", "old-2"]
    assert done["transcript_files"] == 6  # each run's transcript and its row spool
    for n in range(3):
        assert rows_of(db, f"old-{n}") == 0
        assert not transcript_path(transcripts, f"old-{n}").parent.exists()
    for execution_id in ("new-0", "new-1"):
        assert rows_of(db, execution_id) == kept_before[execution_id] > 0
        assert transcript_path(transcripts, execution_id).exists()
        assert ObservabilitySkills(str(db)).validate(execution_id) == []
    after = table_rows(db)
    for table, rows in after.items():
        assert all("old-" not in json.dumps(r, default=str) for r in rows), table

    code, last = prune(db, "--keep-last", "1")
    assert code == 0 and last["executions"] == ["new-0"]
    assert rows_of(db, "new-0") == 0 and rows_of(db, "new-1") > 0


def test_bad_arguments_are_refused_naming_them(tmp_path: Path) -> None:
    pipeline = get_pipeline(tmp_path / "obs.db", tmp_path / "t")
    one_run(pipeline, "e")
    pipeline.shutdown()
    for args, named in ((["--older-than", "soon"], "soon"), ([], "--keep-last")):
        done = subprocess.run(
            [sys.executable, "-m", "otel_obs", "prune", "--db", str(tmp_path / "obs.db"), *args],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2 and named in done.stderr, done.stderr


def test_writers_running_meanwhile_lose_nothing(tmp_path: Path) -> None:
    """A worker writes one execution throughout while prune removes twenty others."""
    db, transcripts = tmp_path / "obs.db", tmp_path / "transcripts"
    pipeline = get_pipeline(db, transcripts)
    try:
        for n in range(20):
            one_run(pipeline, f"gone-{n}", tools=20)
        assert pipeline.flush(10)
        stop = threading.Event()

        def work() -> None:
            with execution_scope("live", pipeline=pipeline):
                writer = TranscriptWriter(None, "agent-live", pipeline=pipeline)
                logger = ToolUseLogger(writer)
                n = 0
                while not stop.is_set():
                    tool_id = logger.log_start({"id": f"l{n}", "name": "Bash", "input": {}})
                    logger.log_end(
                        tool_id, {"tool_use_id": f"l{n}", "content": "", "is_error": False}
                    )
                    n += 1
                    if n % 50 == 0:
                        pipeline.flush(10)
                writer.close()
            calls.append(n)

        calls: list[int] = []
        worker = threading.Thread(target=work)
        worker.start()
        time.sleep(0.3)
        code, done = prune(db, "--keep-last", "1")
        stop.set()
        worker.join(30)
        assert pipeline.flush(10)
    finally:
        pipeline.shutdown()
    assert code == 0, done
    assert sorted(done["executions"]) == sorted(f"gone-{n}" for n in range(20))
    conn = sqlite3.connect(db)
    stored = conn.execute("SELECT count(*) FROM tool_uses WHERE execution_id = 'live'").fetchone()
    conn.close()
    assert stored[0] == calls[0]
    assert ObservabilitySkills(str(db)).validate("live") == []
