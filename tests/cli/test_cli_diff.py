"""``otel-obs diff``: two runs of one task list with planted changes, each one found."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from otel_obs import ToolUseLogger, TranscriptWriter
from otel_obs.config import get_pipeline
from otel_obs.propagation import execution_scope
from otel_obs.queries.diff import CHANGES


def run(pipeline: Any, execution_id: str, *, regressed: bool) -> None:
    """One run of the task list; ``regressed`` plants the changes the diff must find."""
    with execution_scope(execution_id, task_list_id="list-1", pipeline=pipeline):
        writer = TranscriptWriter(None, "agent-1", pipeline=pipeline)
        tools = ToolUseLogger(writer)

        def call(call_id: str, name: str, command: str, *, error: bool = False, wait_s=0.0):
            tool_id = tools.log_start({"id": call_id, "name": name, "input": {"command": command}})
            time.sleep(wait_s)
            tools.log_end(tool_id, {"tool_use_id": call_id, "content": "x", "is_error": error})

        for task_id, fails_in_a in (("T1", False), ("T2", True), ("T3", False)):
            fails = fails_in_a != regressed if task_id != "T3" else False
            try:
                with writer.task(task_id, f"task {task_id}", action="UPDATE", file=f"{task_id}.py"):
                    for n in range(3):  # Grep: quick, but slow in B's T3
                        slow = regressed and task_id == "T3"
                        call(f"{task_id}-g{n}", "Grep", f"grep -n x {n}", wait_s=0.06 * slow)
                    call(
                        f"{task_id}-make",
                        "Bash",
                        f"make {task_id}",
                        error=regressed and task_id == "T1",
                    )
                    if task_id == "T3" and regressed:
                        time.sleep(0.3)  # T3 slower beyond the spread of task times
                    if fails:
                        raise RuntimeError("it broke")  # the task ends failed
            except RuntimeError:
                pass
        if regressed:
            blocked = tools.log_start(
                {"id": "rm", "name": "Bash", "input": {"command": "rm -rf /"}}
            )
            tools.log_blocked(blocked, "destructive command")
            TranscriptWriter(None, "agent-2", pipeline=pipeline).close()
        writer.close()


def test_diff_finds_each_planted_change(tmp_path: Path) -> None:
    pipeline = get_pipeline(tmp_path / "obs.db", tmp_path / "transcripts")
    try:
        run(pipeline, "exec-a", regressed=False)
        run(pipeline, "exec-b", regressed=True)
        assert pipeline.flush(10)
    finally:
        pipeline.shutdown()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "otel_obs",
            "diff",
            "exec-a",
            "exec-b",
            "--db",
            str(tmp_path / "obs.db"),
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stderr  # B regressed
    result = json.loads(done.stdout)
    assert [r["tool"] for r in result["tools_slower"]] == ["Grep"]
    assert [r["task_id"] for r in result["tasks_slower"]] == ["T3"]
    assert result["tool_uses_newly_failing"] == [{"tool": "Bash", "input_summary": "make T1"}]
    assert result["newly_blocked"] == [
        {"tool": "Bash", "input_summary": "rm -rf /", "block_reason": "destructive command"}
    ]
    assert result["agents_added"] == ["agent-2"] and result["agents_gone"] == []
    assert result["tasks_newly_failing"] == ["T1"] and result["tasks_fixed"] == ["T2"]
    assert result["tasks_added"] == [] and result["tasks_gone"] == []
    same = subprocess.run(
        [
            sys.executable,
            "-m",
            "otel_obs",
            "diff",
            "exec-a",
            "exec-a",
            "--db",
            str(tmp_path / "obs.db"),
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert same.returncode == 0, same.stderr
    unchanged = json.loads(same.stdout)
    assert not any(unchanged[name] for name in CHANGES)


def test_the_report_shows_the_changes_since_an_earlier_run(tmp_path: Path) -> None:
    pipeline = get_pipeline(tmp_path / "obs.db", tmp_path / "transcripts")
    try:
        run(pipeline, "exec-a", regressed=False)
        run(pipeline, "exec-b", regressed=True)
        assert pipeline.flush(10)
    finally:
        pipeline.shutdown()
    page = tmp_path / "report.html"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "otel_obs",
            "report",
            "exec-b",
            "--db",
            str(tmp_path / "obs.db"),
            "--compare",
            "exec-a",
            "-o",
            str(page),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    assert '<section id="comparison"><h2>Changes since exec-a</h2>' in html
    for name, count in (
        ("tasks_newly_failing", 1),
        ("tool_uses_newly_failing", 1),
        ("newly_blocked", 1),
        ("agents_added", 1),
    ):
        assert f'data-table="diff-{name}" data-count="{count}"' in html, name
    plain = subprocess.run(
        [
            sys.executable,
            "-m",
            "otel_obs",
            "report",
            "exec-b",
            "--db",
            str(tmp_path / "obs.db"),
            "-o",
            str(tmp_path / "plain.html"),
        ],
        capture_output=True,
        text=True,
    )
    assert plain.returncode == 0 and 'id="comparison"' not in (tmp_path / "plain.html").read_text()
