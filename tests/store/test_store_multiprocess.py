"""Several real processes on one store: sequence numbering and crash visibility."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from worker_support import start_sequence_workers

from otel_obs.exporters.jsonl import transcript_path

WORKER = Path(__file__).with_name("store_worker.py")

#: Every test here runs with the store's writer on a thread and in a writer process.
pytestmark = pytest.mark.parametrize("writer", ["thread", "process"])


def worker_env(writer: str) -> dict[str, str]:
    return {**os.environ, "OTEL_OBS_WRITER": writer}


def query(db: Path, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_four_processes_writing_one_execution_get_sequences_1_to_n(tmp_path: Path, writer: str):
    db = tmp_path / "obs.db"
    workers, per_worker = [f"w{k}" for k in range(4)], 50
    procs = start_sequence_workers(
        db, tmp_path, "exec-mp", workers, per_worker, {"OTEL_OBS_WRITER": writer}
    )
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()

    rows = query(
        db,
        "SELECT sequence, entry_type, instance_id, summary FROM transcript_entries"
        " WHERE execution_id = 'exec-mp' ORDER BY sequence",
    )
    # Per worker: task_start, n decisions, n tool uses, task_end.
    expected = len(workers) * (2 + 2 * per_worker)
    assert [r[0] for r in rows] == list(range(1, expected + 1))
    for name in workers:
        decisions = [r[3] for r in rows if r[2] == name and r[1] == "decision"]
        assert decisions == [f"{name}:{i}" for i in range(per_worker)]
        mine = [r[1] for r in rows if r[2] == name]
        assert mine[0] == "task_start" and mine[-1] == "task_end"
        assert mine[1:-1] == ["decision", "tool_use"] * per_worker
    # The workers really ran at once: their entries interleave.
    owners = [r[2] for r in rows]
    switches = sum(1 for a, b in zip(owners, owners[1:], strict=False) if a != b)
    assert switches > len(workers), switches
    # The JSONL file holds the same numbers, each once.
    lines = [
        json.loads(x)
        for x in transcript_path(tmp_path / "t", "exec-mp").read_text().split("\n")
        if x
    ]
    assert sorted(line["sequence"] for line in lines) == list(range(1, expected + 1))
    assert {(line["id"], line["sequence"]) for line in lines} == set(
        query(db, "SELECT id, sequence FROM transcript_entries")
    )
    assert query(db, "SELECT count(*), sum(result_status = 'done') FROM tool_uses") == [
        (len(workers) * per_worker, len(workers) * per_worker)
    ]


def test_a_killed_worker_leaves_its_open_task_and_tool_visible(tmp_path: Path, writer: str):
    db, transcripts = tmp_path / "obs.db", tmp_path / "transcripts"
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), "crash", str(db), str(transcripts), "exec-crash"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=worker_env(writer),
    )
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read().decode()
        report = json.loads(line)
        started, writer_pid = report["started"], report["writer_pid"]
        seen: list[tuple] = []
        while time.time() < started + 1.0:
            try:
                seen = query(
                    db,
                    "SELECT t.status, u.result_status, u.end_time FROM tasks t"
                    " JOIN tool_uses u ON u.task_id = t.id WHERE t.execution_id = 'exec-crash'",
                )
            except sqlite3.OperationalError:
                seen = []  # the database or its tables are not there yet
            if seen:
                break
            time.sleep(0.02)
        assert seen == [("in_progress", None, None)], "not visible within a second of the start"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    if writer == "process":
        # No orphan: end-of-file on its pipe ends the writer process.
        assert writer_pid is not None
        deadline = time.time() + 10
        while process_alive(writer_pid) and time.time() < deadline:
            time.sleep(0.05)
        assert not process_alive(writer_pid), "the writer process outlived its agent"
    # After the kill the store is intact and still shows the work as never finished.
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert query(db, "SELECT status FROM tasks WHERE id = 'T-crash'") == [("in_progress",)]
    assert query(db, "SELECT result_status FROM tool_uses WHERE id = 'tool-crash'") == [(None,)]
    assert query(db, "SELECT status FROM build_agent_instances WHERE id = 'doomed'") == [
        ("executing",)
    ]
    entries = {r[0] for r in query(db, "SELECT entry_type FROM transcript_entries")}
    assert entries == {"task_start", "tool_use"}


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"
