"""A process that forks after configuring keeps writing, and so does its child.

Run in real subprocesses with multiprocessing's ``fork`` start method: the
child's store starts over (its own consumer, its own writer process), its
tool uses reach the store even though it never flushes (a fork child leaves
through ``os._exit``), and the parent's writer process still ends when the
parent shuts its pipeline down while the child lives on.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, multiprocessing, os, sys, time
    from otel_obs.config import get_pipeline
    from otel_obs.tool_use_logger import ToolUseLogger
    from otel_obs.transcript_writer import TranscriptWriter

    db, mode = sys.argv[1], sys.argv[2]
    pipeline = get_pipeline(db, writer=mode)

    def log(prefix, n):
        writer = TranscriptWriter("exec-k", f"agent-{os.getpid()}", pipeline=pipeline)
        tools = ToolUseLogger(writer)
        for i in range(n):
            tool_id = tools.log_start({"id": f"{prefix}-{i}", "name": "Read", "input": {}})
            tools.log_end(tool_id, {"content": prefix, "is_error": False})

    def child(release):
        log("child", 50)  # no flush, no close: leaving must write them
        release.wait(30)

    log("before", 30)
    pipeline.flush(10)
    context = multiprocessing.get_context("fork")
    release = context.Event()
    process = context.Process(target=child, args=(release,))
    process.start()
    log("parent", 20)
    started = time.monotonic()
    pipeline.shutdown()  # the parent is done while the child still runs
    shutdown_s = time.monotonic() - started
    release.set()
    process.join(30)
    print(json.dumps({"shutdown_s": shutdown_s, "exitcode": process.exitcode}))
    """
)


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_a_forked_child_writes_its_own_tool_uses_and_the_parent_keeps_writing(tmp_path, mode):
    db = tmp_path / "obs.db"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(db), mode],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["exitcode"] == 0, done.stderr
    # The child closed its copy of the pipe: the parent's writer saw end-of-file.
    assert report["shutdown_s"] < 10, done.stderr
    assert "did not exit" not in done.stderr
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT id, result_status, output FROM tool_uses").fetchall()
    sequences = conn.execute(
        "SELECT count(*), count(DISTINCT sequence), max(sequence) FROM transcript_entries"
        " WHERE execution_id = 'exec-k'"
    ).fetchone()
    conn.close()
    expected = {(f"{p}-{i}", "done", p) for p, n in (("before", 30), ("parent", 20), ("child", 50))
                for i in range(n)}  # fmt: skip
    assert set(rows) == expected and len(rows) == len(expected)
    assert sequences[0] == sequences[1] == sequences[2]  # numbered 1..n across both processes


def test_the_store_writes_after_a_fork_in_this_very_process_tree(tmp_path: Path):
    """A plain os.fork child (no multiprocessing) that flushes and exits normally."""
    script = textwrap.dedent(
        """
        import os, sys
        from otel_obs.config import get_pipeline
        from otel_obs.tool_use_logger import ToolUseLogger
        from otel_obs.transcript_writer import TranscriptWriter
        pipeline = get_pipeline(sys.argv[1])
        pid = os.fork()
        tools = ToolUseLogger(TranscriptWriter("exec-o", f"agent-{os.getpid()}", pipeline=pipeline))
        name = "child" if pid == 0 else "parent"
        tools.log_end(tools.log_start({"id": name, "name": "Read", "input": {}}), {"content": name})
        ok = pipeline.flush(10)
        if pid == 0:
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        pipeline.shutdown()
        sys.exit(os.waitstatus_to_exitcode(status))
        """
    )
    db = tmp_path / "obs.db"
    done = subprocess.run(
        [sys.executable, "-c", script, str(db)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    conn = sqlite3.connect(db)
    assert sorted(conn.execute("SELECT id, output FROM tool_uses")) == [
        ("child", "child"),
        ("parent", "parent"),
    ]
    conn.close()
