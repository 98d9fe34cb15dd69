"""Leaving without close(): open spans end ``terminated`` with a reason; SIGTERM flushes first.

Real worker processes, a real store on disk: ``sys.exit``, an unhandled
exception and SIGTERM (with ``OTEL_OBS_SIGTERM=true``, and without it).
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from otlp_receivers import clean_env

WORKER = """
import sys, time
from otel_obs import ToolUseLogger, TranscriptWriter
writer = TranscriptWriter("exec-exit", "agent-1")
tools = ToolUseLogger(writer)
writer.write({"entry_type": "task_start", "task_id": "T1", "summary": "never ends"})
tools.log_start({"id": "toolu_open", "name": "Bash", "input": {"command": "sleep 60"}})
writer.write({"entry_type": "decision", "summary": "last words", "details": {}})
LEAVE
"""


def start(tmp_path: Path, leave: str, **env: str) -> subprocess.Popen[str]:
    code = textwrap.dedent(WORKER).replace("LEAVE", leave)
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=clean_env(tmp_path, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def rows(db: Path) -> dict[str, list]:
    conn = sqlite3.connect(db)
    try:
        return {
            "agent": conn.execute("SELECT status, error FROM build_agent_instances").fetchall(),
            "task": conn.execute("SELECT status, error FROM tasks").fetchall(),
            "tool": conn.execute("SELECT result_status, is_error FROM tool_uses").fetchall(),
            "decision": conn.execute(
                "SELECT summary FROM transcript_entries WHERE entry_type = 'decision'"
            ).fetchall(),
        }
    finally:
        conn.close()


def test_sys_exit_ends_open_work_as_terminated(tmp_path: Path) -> None:
    proc = start(tmp_path, "sys.exit(3)")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    got = rows(tmp_path / "obs.db")
    assert got["agent"] == [("terminated", "process exited with the span still open")]
    assert got["task"] == [("failed", "process exited with the span still open")]
    assert got["tool"] == [("error", 1)]
    assert got["decision"] == [("last words",)]


def test_an_unhandled_exception_is_the_reason(tmp_path: Path) -> None:
    proc = start(tmp_path, "raise RuntimeError('boom')")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "RuntimeError: boom" in err
    assert rows(tmp_path / "obs.db")["agent"] == [("terminated", "unhandled RuntimeError: boom")]


def test_sigterm_with_the_handler_flushes_the_last_batch(tmp_path: Path) -> None:
    leave = "print('ready', flush=True)\ntime.sleep(60)"
    # A long flush interval: without the handler the last batch is still queued.
    for handler in ("true", "false"):
        folder = tmp_path / handler
        folder.mkdir()
        proc = start(folder, leave, OTEL_OBS_SIGTERM=handler, OTEL_OBS_FLUSH_INTERVAL_MS="60000")
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGTERM, err
        if handler == "true":
            got = rows(folder / "obs.db")
            assert got["agent"] == [("terminated", "SIGTERM")]
            assert got["task"] == [("failed", "SIGTERM")] and got["tool"] == [("error", 1)]
            assert got["decision"] == [("last words",)]
        else:
            db = folder / "obs.db"
            assert not db.exists() or rows(db)["decision"] == []


def test_the_guard_forgets_ended_spans(tmp_path: Path) -> None:
    from otel_obs.config import get_pipeline
    from otel_obs.transcript_writer import TranscriptWriter

    pipeline = get_pipeline(tmp_path / "obs.db")
    try:
        writer = TranscriptWriter("exec-guard", "agent-1", pipeline=pipeline)
        with writer.task("T1", "short"):
            pass
        assert pipeline.exit_guard.open_spans() == 1  # the agent, still open
        writer.close()
        assert pipeline.exit_guard.open_spans() == 0
    finally:
        pipeline.shutdown()
