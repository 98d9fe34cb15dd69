"""The spec's ``BuildAgentWorker`` integration example runs as written.

The class below is the spec's, with only its imports changed. The spec leaves
``Task``, ``is_blocked``, ``execute_tool`` and ``get_block_reason`` to the
worker; small stand-ins follow. The example configures the store the default
way (no paths: the producers' default pipeline), so it runs in
a subprocess of its own, with the store placed by ``OTEL_OBS_*`` variables and
an empty ``PATH`` (no ``npx``: the TypeScript and lint checks skip).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otel_obs import AssertionRecorder, SkillTracer, ToolUseLogger, TranscriptWriter
from otel_obs.models import SkillReference, TranscriptEntry

# --------------------------------------------------------------------------
# What the spec leaves to the worker
# --------------------------------------------------------------------------


@dataclass
class Task:
    id: str
    title: str
    action: str
    file: str


@dataclass
class ToolUseBlock:
    id: str
    name: str
    input: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolResultBlock:
    tool_use_id: str
    content: str
    is_error: bool = False


def is_blocked(tool_use_block: ToolUseBlock) -> bool:
    return "rm -rf" in str(tool_use_block.input.get("command", ""))


def get_block_reason() -> str:
    return "destructive command blocked by the security hook"


def execute_tool(tool_use_block: ToolUseBlock) -> ToolResultBlock:
    if tool_use_block.name == "Write":
        Path(tool_use_block.input["file_path"]).write_text(tool_use_block.input["content"])
        return ToolResultBlock(tool_use_block.id, "File written")
    return ToolResultBlock(tool_use_block.id, f"unknown tool {tool_use_block.name}", True)


# --------------------------------------------------------------------------
# The spec's class, as written
# --------------------------------------------------------------------------


class BuildAgentWorker:
    def __init__(self, execution_id: str, instance_id: str):
        # Initialize observability
        self.transcript = TranscriptWriter(execution_id, instance_id)
        self.tool_logger = ToolUseLogger(self.transcript)
        self.skill_tracer = SkillTracer(self.transcript, self.tool_logger)
        self.assertions = AssertionRecorder(self.transcript, execution_id)

    def execute_task(self, task: Task):
        # Start task
        self.transcript.write(
            TranscriptEntry(
                entry_type="task_start", task_id=task.id, summary=f"Starting task: {task.title}"
            )
        )

        # Start assertion chain
        chain_id = self.assertions.start_chain(task.id, f"Validate {task.action}")

        try:
            # Execute task...

            # Run assertions
            if task.action == "CREATE":
                self.assertions.assert_file_created(task.id, task.file)

            self.assertions.assert_typescript_compiles(task.id)
            self.assertions.assert_lint_passes(task.id, task.file)

        finally:
            # End assertion chain
            chain_result = self.assertions.end_chain(chain_id)

            # End task
            self.transcript.write(
                TranscriptEntry(
                    entry_type="task_end",
                    task_id=task.id,
                    summary=f"Task completed: {chain_result.overall_result}",
                )
            )

    def handle_tool_use(self, tool_use_block):
        # Log tool start
        tool_id = self.tool_logger.log_start(tool_use_block)

        # Check security hooks
        if is_blocked(tool_use_block):
            self.tool_logger.log_blocked(tool_id, get_block_reason())
            return

        # Execute tool
        result = execute_tool(tool_use_block)

        # Log tool end
        self.tool_logger.log_end(tool_id, result)


# --------------------------------------------------------------------------
# Driving it
# --------------------------------------------------------------------------


SKILL = SkillReference(
    skill_name="code-generation",
    skill_file="skills/code-generation.md",
    line_number=12,
    section_title="Write the module",
)


def run_worker() -> None:
    """What the subprocess runs: tool uses that succeed, are blocked and fail; two tasks."""
    worker = BuildAgentWorker("exec-spec", "worker-1")
    # Inside a skill: its tool uses are recorded as within it.
    skill_id = worker.skill_tracer.trace_start(SKILL)
    worker.handle_tool_use(
        ToolUseBlock("toolu_1", "Write", {"file_path": "notes.md", "content": "hi"})
    )
    worker.skill_tracer.trace_end(skill_id, "success")
    worker.handle_tool_use(ToolUseBlock("toolu_2", "Bash", {"command": "rm -rf /"}))
    worker.handle_tool_use(ToolUseBlock("toolu_3", "WebFetch", {"url": "http://127.0.0.1:9"}))
    # The example's task body is a placeholder, so the CREATE task's file never appears.
    worker.execute_task(Task("T1", "Create the API", "CREATE", "src/api.ts"))
    worker.execute_task(Task("T2", "Tidy the README", "UPDATE", "README.md"))
    worker.transcript.close()


def test_the_spec_example_runs_and_lands_in_the_store(tmp_path):
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {
        **os.environ,
        "PATH": str(empty_bin),
        "OTEL_OBS_DB": str(tmp_path / "database" / "observability.db"),
        "OTEL_OBS_TRANSCRIPTS_DIR": str(tmp_path / "transcripts"),
        "PYTHONPATH": str(Path(__file__).parent),
    }
    for var in ("TRACEPARENT", "BAGGAGE", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        env.pop(var, None)
    done = subprocess.run(
        [sys.executable, "-c", "import test_spec_example as t; t.run_worker()"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "notes.md").read_text() == "hi"

    conn = sqlite3.connect(tmp_path / "database" / "observability.db")
    conn.row_factory = sqlite3.Row
    q = lambda sql: [dict(r) for r in conn.execute(sql)]  # noqa: E731

    entries = q("SELECT entry_type, task_id, summary, sequence FROM transcript_entries")
    assert [e["sequence"] for e in entries] == list(range(1, len(entries) + 1))
    assert [(e["entry_type"], e["task_id"]) for e in entries] == [
        ("skill_invoke", None),
        ("tool_use", None),
        ("skill_complete", None),
        ("tool_use", None),
        ("tool_use", None),
        ("task_start", "T1"),
        ("assertion", "T1"),
        ("assertion", "T1"),
        ("assertion", "T1"),
        ("task_end", "T1"),
        ("task_start", "T2"),
        ("assertion", "T2"),
        ("assertion", "T2"),
        ("task_end", "T2"),
    ]
    assert entries[9]["summary"] == "Task completed: fail"
    assert entries[13]["summary"] == "Task completed: skip"

    tools = {t["id"]: t for t in q("SELECT * FROM tool_uses")}
    assert {i: t["result_status"] for i, t in tools.items()} == {
        "toolu_1": "done",
        "toolu_2": "blocked",
        "toolu_3": "error",
    }
    assert tools["toolu_2"]["block_reason"] == get_block_reason()
    assert tools["toolu_3"]["is_error"] == 1
    assert tools["toolu_3"]["error_message"] == "unknown tool WebFetch"
    assert {i: t["tool_category"] for i, t in tools.items()} == {
        "toolu_1": "file_write",
        "toolu_2": "shell",
        "toolu_3": "network",
    }
    # Every tool use links to its own tool_use transcript entry.
    linked = q(
        "SELECT u.id, e.entry_type, e.tool_use_id FROM tool_uses u"
        " JOIN transcript_entries e ON e.id = u.transcript_entry_id ORDER BY e.sequence"
    )
    assert linked == [
        {"id": i, "entry_type": "tool_use", "tool_use_id": i}
        for i in ("toolu_1", "toolu_2", "toolu_3")
    ]
    (skill,) = q("SELECT * FROM skill_traces")
    assert (skill["skill_name"], skill["skill_file"], skill["line_number"]) == (
        SKILL.skill_name,
        SKILL.skill_file,
        SKILL.line_number,
    )
    assert (skill["section_title"], skill["status"], skill["tool_use_count"]) == (
        SKILL.section_title,
        "success",
        1,
    )
    assert {i: t["within_skill"] for i, t in tools.items()} == {
        "toolu_1": skill["id"],
        "toolu_2": None,
        "toolu_3": None,
    }
    impacts = q("SELECT file_path, operation, tool_use_id FROM task_file_impacts")
    assert impacts == [{"file_path": "notes.md", "operation": "CREATE", "tool_use_id": "toolu_1"}]

    results = q("SELECT task_id, category, result, evidence FROM assertion_results ORDER BY rowid")
    assert [(r["task_id"], r["category"], r["result"]) for r in results] == [
        ("T1", "file_created", "fail"),
        ("T1", "typescript_compiles", "skip"),
        ("T1", "lint_passes", "skip"),
        ("T2", "typescript_compiles", "skip"),
        ("T2", "lint_passes", "skip"),
    ]
    assert "npx" in json.loads(results[1]["evidence"])["error"]
    chains = q(
        "SELECT id, task_id, overall_result, fail_count, skip_count, first_failure_id"
        " FROM assertion_chains ORDER BY task_id"
    )
    chain_ids = {chain.pop("id"): chain["task_id"] for chain in chains}
    first_failure = chains[0].pop("first_failure_id")
    assert chains[1].pop("first_failure_id") is None
    assert chains == [
        {"task_id": "T1", "overall_result": "fail", "fail_count": 1, "skip_count": 2},
        {"task_id": "T2", "overall_result": "skip", "fail_count": 0, "skip_count": 2},
    ]
    # Each assertion belongs to its task's chain, and T1's chain names its failure.
    by_chain = q("SELECT id, chain_id, task_id, result FROM assertion_results ORDER BY rowid")
    assert all(chain_ids[r["chain_id"]] == r["task_id"] for r in by_chain)
    assert first_failure == next(r["id"] for r in by_chain if r["result"] == "fail")
    # task_start without details: a task row with the default end status.
    tasks = q("SELECT id, status, started_at, completed_at FROM tasks ORDER BY id")
    assert [(t["id"], t["status"]) for t in tasks] == [("T1", "completed"), ("T2", "completed")]
    assert all(t["completed_at"] >= t["started_at"] for t in tasks)
    (run,) = q("SELECT id, started_at FROM task_list_execution_runs")
    assert run["id"] == "exec-spec"
    assert q("SELECT id, status FROM build_agent_instances") == [
        {"id": "worker-1", "status": "completed"}
    ]
    transcript = tmp_path / "transcripts" / "exec-spec" / "transcript.jsonl"
    assert len(transcript.read_text().splitlines()) == len(entries)
