"""Fixture stores built through the real producers, whose right answers are known.

Each ``build_*`` function writes one small SQLite store with the real
TranscriptWriter / ToolUseLogger / SkillTracer / AssertionRecorder (and so the
real span processor and mapping) and returns the facts a test needs — ids,
counts, expected orders — taken from how the scenario was constructed, never
from what a tool answers. Where the producers can't produce a situation in
real time (an old heartbeat), tests pass ``now``; where a validation check
needs a broken invariant, :func:`copy_store` gives a copy to break with SQL.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otel_obs import (
    AssertionRecorder,
    SkillReference,
    SkillTracer,
    ToolUseLogger,
    TranscriptEntry,
    TranscriptWriter,
)


@dataclass
class Store:
    """Where a scenario's rows live."""

    db_path: Path
    transcripts_dir: Path


class Agent:
    """One worker's four producers, plus shorthands for what scenarios do often."""

    def __init__(
        self,
        store: Store,
        execution_id: str,
        instance_id: str,
        *,
        wave: int | None = None,
        task_list_id: str | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.instance_id = instance_id
        self.writer = TranscriptWriter(
            execution_id,
            instance_id,
            wave_number=wave,
            task_list_id=task_list_id,
            db_path=store.db_path,
            transcripts_dir=store.transcripts_dir,
        )
        self.tools = ToolUseLogger(self.writer)
        self.skills = SkillTracer(self.writer, self.tools)
        self.assertions = AssertionRecorder(self.writer, execution_id)

    def tool(
        self,
        tool_id: str,
        name: str,
        tool_input: dict[str, Any],
        *,
        error: bool = False,
        output: str = "ok",
        sleep_s: float = 0.0,
    ) -> str:
        """A tool use that runs to its end: ``done``, or ``error`` when ``error``."""
        tool_id = self.tools.log_start({"id": tool_id, "name": name, "input": tool_input})
        if sleep_s:
            time.sleep(sleep_s)
        self.tools.log_end(tool_id, {"tool_use_id": tool_id, "content": output, "is_error": error})
        return tool_id

    def blocked(self, tool_id: str, name: str, tool_input: dict[str, Any], reason: str) -> str:
        tool_id = self.tools.log_start({"id": tool_id, "name": name, "input": tool_input})
        self.tools.log_blocked(tool_id, reason)
        return tool_id

    def event(
        self, entry_type: str, summary: str = "", task_id: str | None = None, **details: Any
    ) -> str:
        """Write an event entry (decision, error, lock, checkpoint …); return its id."""
        return self.writer.write(
            TranscriptEntry(
                entry_type=entry_type, summary=summary, task_id=task_id, details=details
            )
        )

    def start_task(self, task_id: str, title: str = "", **details: Any) -> str:
        return self.writer.write(
            TranscriptEntry(
                entry_type="task_start", task_id=task_id, details={"title": title, **details}
            )
        )

    def end_task(self, task_id: str, status: str = "completed", error: str | None = None) -> str:
        details: dict[str, Any] = {"status": status}
        if error:
            details["error"] = error
        return self.writer.write(
            TranscriptEntry(entry_type="task_end", task_id=task_id, details=details)
        )

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


def in_own_thread(build: Any) -> Any:
    """Run ``build`` in a thread of its own and return its result.

    An agent left open (stuck, or still running) keeps its spans current in
    the thread that opened them; a real one lives in its own process, so the
    scenario gives it its own thread, and agents built later do not nest
    under it.
    """
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(build()))
    worker.start()
    worker.join()
    return results[0]


def store_in(folder: Path) -> Store:
    folder.mkdir(parents=True, exist_ok=True)
    return Store(folder / "observability.db", folder / "transcripts")


def copy_store(db_path: Path, target: Path) -> Path:
    """A consistent copy of a store (WAL included) to break deliberately."""
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    with copy:
        source.backup(copy)
    source.close()
    copy.close()
    return target


def remove_store(store: Store) -> None:
    shutil.rmtree(store.db_path.parent, ignore_errors=True)


# ---------------------------------------------------------------------------
# A clean execution: nothing wrong, every check quiet.
# ---------------------------------------------------------------------------


@dataclass
class CleanRun:
    db_path: Path
    execution_id: str
    task_list_id: str
    instance_id: str
    task_ids: list[str]
    #: tool name -> number of uses (all done)
    tool_uses: dict[str, int]
    tool_use_ids: list[str]
    decision_ids: list[str]
    assertion_count: int
    skill_name: str
    #: task -> tasks it depends on
    depends_on: dict[str, list[str]]


def build_clean(folder: Path) -> CleanRun:
    """Two tasks in one wave, one agent: skills, tools, a decision, a balanced lock,
    a committed checkpoint and passing assertion chains."""
    store = store_in(folder)
    execution_id, task_list_id, instance_id = "exec-clean", "list-clean", "agent-clean"
    agent = Agent(store, execution_id, instance_id, wave=1, task_list_id=task_list_id)
    tool_ids: list[str] = []
    decisions: list[str] = []
    with agent.writer.phase("prime"):
        agent.start_task("clean-1", "Create the app", action="CREATE", file="src/app.py")
        trace = agent.skills.trace_start(
            SkillReference(
                skill_name="code-generation",
                skill_file="skills/code-generation.md",
                line_number=12,
                section_title="Create",
            )
        )
        tool_ids.append(agent.tool("toolu_clean_read1", "Read", {"file_path": "src/app.py"}))
        tool_ids.append(
            agent.tool("toolu_clean_write", "Write", {"file_path": "src/app.py", "content": "x"})
        )
        agent.skills.trace_end(trace, "success")
        decisions.append(
            agent.event(
                "decision",
                "pick the layout",
                "clean-1",
                options=["flat", "nested"],
                chosen="flat",
                reasoning="fewer files",
            )
        )
        agent.event("lock_acquire", "lock app", "clean-1", file_path="src/app.py")
        agent.event("lock_release", "unlock app", "clean-1", file_path="src/app.py")
        agent.event("checkpoint", "before tests", "clean-1", checkpoint_id="cp-1", action="create")
        agent.event("checkpoint", "tests passed", "clean-1", checkpoint_id="cp-1", action="commit")
        chain = agent.assertions.start_chain("clean-1", "Validate CREATE")
        agent.assertions.assert_custom("clean-1", "tests_pass", "unit tests pass", "true")
        agent.assertions.end_chain(chain)
        agent.end_task("clean-1")

        agent.start_task(
            "clean-2",
            "Update the util",
            action="UPDATE",
            file="src/util.py",
            depends_on=["clean-1"],
        )
        tool_ids.append(agent.tool("toolu_clean_read2", "Read", {"file_path": "src/util.py"}))
        tool_ids.append(
            agent.tool(
                "toolu_clean_edit",
                "Edit",
                {"file_path": "src/util.py", "old_string": "a", "new_string": "b"},
            )
        )
        tool_ids.append(agent.tool("toolu_clean_bash", "Bash", {"command": "pytest -q"}))
        chain = agent.assertions.start_chain("clean-2", "Validate UPDATE")
        agent.assertions.assert_custom("clean-2", "lint_passes", "lint is clean", "true")
        agent.assertions.end_chain(chain)
        agent.end_task("clean-2")
    agent.close()
    return CleanRun(
        db_path=store.db_path,
        execution_id=execution_id,
        task_list_id=task_list_id,
        instance_id=instance_id,
        task_ids=["clean-1", "clean-2"],
        tool_uses={"Read": 2, "Write": 1, "Edit": 1, "Bash": 1},
        tool_use_ids=tool_ids,
        decision_ids=decisions,
        assertion_count=2,
        skill_name="code-generation",
        depends_on={"clean-2": ["clean-1"]},
    )


# ---------------------------------------------------------------------------
# A task chain that fails: a failing test command (twice), a failed skill, a
# failed assertion, an error entry; the dependent task ends blocked.
# ---------------------------------------------------------------------------


@dataclass
class FailingChain:
    db_path: Path
    execution_id: str
    failed_task: str
    blocked_task: str
    #: (source, id) of every error in the order they happened
    errors_in_order: list[tuple[str, str]]
    first_error_tool_use_id: str
    #: entry types from the first error on, in transcript order
    entry_types_from_first_error: list[str]
    #: tool names of the failed task's tool uses, in order
    task_tools: list[str]
    #: assertion results of the failed task, in order
    task_assertions: list[str]
    failing_assertion_id: str
    assertion_ids: list[str]
    #: the task's last tool use before its assertions (none is recorded with them)
    supporting_tool_use_id: str
    failed_skill: str
    failed_skill_line: str
    succeeded_skill: str
    repeated_command: str
    repeated_count: int
    decision_id: str
    decision: dict[str, Any]
    #: entry type of what the agent wrote right before the decision
    before_decision: str
    error_entry_id: str
    #: message-bus events correlated with the failed task (its id), by entry id
    task_event_ids: list[str]
    #: (file, tool) -> (accesses, errors)
    file_access: dict[tuple[str, str], tuple[int, int]]
    #: tool -> (uses, done, error, blocked)
    tool_outcomes: dict[str, tuple[int, int, int, int]]


def build_failing_chain(folder: Path) -> FailingChain:
    store = store_in(folder)
    execution_id = "exec-fail"
    agent = Agent(store, execution_id, "agent-fail", wave=1, task_list_id="list-fail")
    a, b = "task-a", "task-b"
    agent.start_task(a, "Fix the tests", action="UPDATE", file="src/a.py")
    gen = agent.skills.trace_start(
        SkillReference(
            skill_name="code-generation",
            skill_file="skills/code-generation.md",
            line_number=12,
            section_title="Edit",
        )
    )
    agent.tool("toolu_fail_read", "Read", {"file_path": "src/a.py"})
    agent.tool(
        "toolu_fail_edit", "Edit", {"file_path": "src/a.py", "old_string": "1", "new_string": "2"}
    )
    agent.skills.trace_end(gen, "success")
    testing = agent.skills.trace_start(
        SkillReference(
            skill_name="testing",
            skill_file="skills/testing.md",
            line_number=42,
            section_title="Run tests",
        )
    )
    agent.tool(
        "toolu_fail_test1", "Bash", {"command": "npm test"}, error=True, output="2 tests failed"
    )
    agent.skills.trace_end(testing, "failed", "tests failed")
    decision_id = agent.event(
        "decision",
        "retry the tests",
        a,
        options=["retry", "give up"],
        chosen="retry",
        reasoning="might be flaky",
    )
    agent.tool(
        "toolu_fail_test2", "Bash", {"command": "npm test"}, error=True, output="2 tests failed"
    )
    agent.tool(
        "toolu_fail_missing", "Read", {"file_path": "src/missing.py"}, error=True, output="ENOENT"
    )
    chain = agent.assertions.start_chain(a, "Validate UPDATE")
    passed1 = agent.assertions.assert_custom(a, "file_modified", "a.py changed", "true")
    failed = agent.assertions.assert_custom(a, "tests_pass", "unit tests pass", "false")
    passed2 = agent.assertions.assert_custom(a, "lint_passes", "lint is clean", "true")
    agent.assertions.end_chain(chain)
    error_id = agent.event(
        "error", "tests keep failing", a, message="tests keep failing", error_type="TestFailure"
    )
    agent.end_task(a, "failed", "assertion failed: unit tests pass")
    agent.start_task(b, "Build on a", action="UPDATE", file="src/b.py", depends_on=[a])
    agent.end_task(b, "blocked")
    agent.close()
    return FailingChain(
        db_path=store.db_path,
        execution_id=execution_id,
        failed_task=a,
        blocked_task=b,
        errors_in_order=[
            ("tool", "toolu_fail_test1"),
            ("skill", testing),
            ("tool", "toolu_fail_test2"),
            ("tool", "toolu_fail_missing"),
            ("assertion", failed.id),
            ("entry", error_id),
        ],
        first_error_tool_use_id="toolu_fail_test1",
        entry_types_from_first_error=[
            "tool_use",  # npm test, failed
            "skill_complete",  # testing, failed
            "decision",
            "tool_use",  # npm test again
            "tool_use",  # src/missing.py
            "assertion",
            "assertion",
            "assertion",
            "error",
            "task_end",
        ],
        task_tools=["Read", "Edit", "Bash", "Bash", "Read"],
        task_assertions=["pass", "fail", "pass"],
        failing_assertion_id=failed.id,
        assertion_ids=[passed1.id, failed.id, passed2.id],
        supporting_tool_use_id="toolu_fail_missing",
        failed_skill="testing",
        failed_skill_line="skills/testing.md:42",
        succeeded_skill="code-generation",
        repeated_command="npm test",
        repeated_count=2,
        decision_id=decision_id,
        decision={
            "options": ["retry", "give up"],
            "chosen": "retry",
            "reasoning": "might be flaky",
        },
        before_decision="skill_complete",
        error_entry_id=error_id,
        task_event_ids=[decision_id, error_id],
        file_access={
            ("src/a.py", "Read"): (1, 0),
            ("src/a.py", "Edit"): (1, 0),
            ("src/missing.py", "Read"): (1, 1),
        },
        tool_outcomes={"Read": (2, 1, 1, 0), "Edit": (1, 1, 0, 0), "Bash": (2, 0, 2, 0)},
    )


# ---------------------------------------------------------------------------
# A blocked command among ordinary ones.
# ---------------------------------------------------------------------------


@dataclass
class BlockedCommand:
    db_path: Path
    execution_id: str
    task_id: str
    instance_id: str
    blocked_tool_use_id: str
    command: str
    reason: str
    skill_name: str


def build_blocked_command(folder: Path) -> BlockedCommand:
    store = store_in(folder)
    execution_id, instance_id, task_id = "exec-blocked", "agent-blocked", "task-x"
    agent = Agent(store, execution_id, instance_id, wave=1)
    agent.start_task(task_id, "Clean up")
    trace = agent.skills.trace_start(
        SkillReference(skill_name="cleanup", skill_file="skills/cleanup.md", line_number=3)
    )
    agent.tool("toolu_blk_read", "Read", {"file_path": "src/x.py"})
    command, reason = "rm -rf /", "destructive command outside the workspace"
    blocked = agent.blocked("toolu_blk_rm", "Bash", {"command": command}, reason)
    agent.tool("toolu_blk_ls", "Bash", {"command": "ls"})
    agent.skills.trace_end(trace, "partial")
    agent.end_task(task_id)
    agent.close()
    return BlockedCommand(
        db_path=store.db_path,
        execution_id=execution_id,
        task_id=task_id,
        instance_id=instance_id,
        blocked_tool_use_id=blocked,
        command=command,
        reason=reason,
        skill_name="cleanup",
    )


# ---------------------------------------------------------------------------
# An error cascade: errors one after another, a quiet stretch, a lone error.
# ---------------------------------------------------------------------------


@dataclass
class ErrorCascade:
    db_path: Path
    execution_id: str
    task_id: str
    cascade_error_ids: list[str]
    lone_error_id: str
    quiet_tool_uses: int


def build_error_cascade(folder: Path, cascade: int = 4, quiet: int = 12) -> ErrorCascade:
    store = store_in(folder)
    execution_id, task_id = "exec-cascade", "task-c"
    agent = Agent(store, execution_id, "agent-cascade", wave=1)
    agent.start_task(task_id, "Cascade")
    cascade_ids = [
        agent.event("error", f"failure {n}", task_id, message=f"failure {n}", error_type="Boom")
        for n in range(cascade)
    ]
    for n in range(quiet):
        agent.tool(f"toolu_quiet_{n}", "Read", {"file_path": f"src/q{n}.py"})
    lone = agent.event("error", "late failure", task_id, message="late", error_type="Late")
    agent.end_task(task_id)
    agent.close()
    return ErrorCascade(
        db_path=store.db_path,
        execution_id=execution_id,
        task_id=task_id,
        cascade_error_ids=cascade_ids,
        lone_error_id=lone,
        quiet_tool_uses=quiet,
    )


# ---------------------------------------------------------------------------
# Orphaned resources: a lock never released, a checkpoint never committed.
# ---------------------------------------------------------------------------


@dataclass
class Orphans:
    db_path: Path
    execution_id: str
    task_id: str
    instance_id: str
    unreleased_lock: str
    released_lock: str
    open_checkpoint: str
    committed_checkpoint: str


def build_orphans(folder: Path) -> Orphans:
    store = store_in(folder)
    execution_id, instance_id, task_id = "exec-orphans", "agent-orphans", "task-o"
    agent = Agent(store, execution_id, instance_id, wave=1)
    agent.start_task(task_id, "Leaks")
    agent.event("lock_acquire", "lock", task_id, file_path="src/locked.py")
    agent.event("lock_acquire", "lock", task_id, file_path="src/ok.py")
    agent.event("lock_release", "unlock", task_id, file_path="src/ok.py")
    agent.event("checkpoint", "cp", task_id, checkpoint_id="cp-open", action="create")
    agent.event("checkpoint", "cp", task_id, checkpoint_id="cp-done", action="create")
    agent.event("checkpoint", "cp", task_id, checkpoint_id="cp-done", action="commit")
    agent.end_task(task_id)
    agent.close()
    return Orphans(
        db_path=store.db_path,
        execution_id=execution_id,
        task_id=task_id,
        instance_id=instance_id,
        unreleased_lock="src/locked.py",
        released_lock="src/ok.py",
        open_checkpoint="cp-open",
        committed_checkpoint="cp-done",
    )


# ---------------------------------------------------------------------------
# A stuck agent: its task, skill, tool use and chain open, its writer never
# closed. A second agent of the same wave finished normally.
# ---------------------------------------------------------------------------


@dataclass
class StuckAgent:
    db_path: Path
    execution_id: str
    stuck_instance: str
    healthy_instance: str
    wave: int
    #: (kind, id) of everything left open
    open_operations: list[tuple[str, str]]
    stuck_task: str
    #: wall-clock time right after the last write (a test adds its threshold to it)
    built_at: float
    #: the producers of the stuck agent, kept so nothing ends its spans
    keep_alive: list[Any] = field(default_factory=list, repr=False)


def build_stuck_agent(folder: Path) -> StuckAgent:
    store = store_in(folder)
    execution_id, wave = "exec-stuck", 1
    healthy = Agent(store, execution_id, "agent-healthy", wave=wave)
    healthy.start_task("task-ok", "Fine")
    healthy.tool("toolu_ok", "Read", {"file_path": "src/ok.py"})
    healthy.end_task("task-ok")
    healthy.close()

    def hang() -> tuple[Agent, str, str, str]:
        stuck = Agent(store, execution_id, "agent-stuck", wave=wave)
        stuck.start_task("task-hang", "Hangs")
        skill = stuck.skills.trace_start(
            SkillReference(skill_name="long-skill", skill_file="skills/long.md", line_number=7)
        )
        chain = stuck.assertions.start_chain("task-hang", "Validate hang")
        tool = stuck.tools.log_start(
            {"id": "toolu_hang", "name": "Bash", "input": {"command": "sleep 3600"}}
        )
        stuck.writer.flush()
        return stuck, skill, chain, tool

    stuck, skill, chain, tool = in_own_thread(hang)
    return StuckAgent(
        db_path=store.db_path,
        execution_id=execution_id,
        stuck_instance="agent-stuck",
        healthy_instance="agent-healthy",
        wave=wave,
        open_operations=[
            ("task", "task-hang"),
            ("skill", skill),
            ("assertion_chain", chain),
            ("tool_use", tool),
        ],
        stuck_task="task-hang",
        built_at=time.time(),
        keep_alive=[stuck],
    )


# ---------------------------------------------------------------------------
# Waves: three tasks of wave 1 touching one file (two write, one reads); in
# wave 2 a task still writing a file that a blocked task reads.
# ---------------------------------------------------------------------------


@dataclass
class WaveConflicts:
    db_path: Path
    execution_id: str
    #: (wave, file, task_a, task_b) with task_a < task_b
    conflicts: set[tuple[int, str, str, str]]
    running_task: str
    blocked_task: str
    hot_file: str
    #: task -> wave
    waves: dict[str, int]
    keep_alive: list[Any] = field(default_factory=list, repr=False)


def build_wave_conflicts(folder: Path) -> WaveConflicts:
    store = store_in(folder)
    execution_id = "exec-waves"
    shared, hot = "src/shared.py", "src/hot.py"
    w1 = Agent(store, execution_id, "agent-w1", wave=1)
    w2 = Agent(store, execution_id, "agent-w2", wave=1)
    w3 = Agent(store, execution_id, "agent-w3", wave=1)
    w1.start_task("w-1", "Write shared")
    w2.start_task("w-2", "Edit shared")
    w3.start_task("w-3", "Read shared")
    w1.tool("toolu_w1", "Write", {"file_path": shared, "content": "v1"})
    w2.tool("toolu_w2", "Edit", {"file_path": shared, "old_string": "v1", "new_string": "v2"})
    w3.tool("toolu_w3r", "Read", {"file_path": shared})
    w3.tool("toolu_w3w", "Write", {"file_path": "src/other.py", "content": "o"})
    for agent, task in ((w1, "w-1"), (w2, "w-2"), (w3, "w-3")):
        agent.end_task(task)
        agent.close()

    def still_running() -> Agent:
        w5 = Agent(store, execution_id, "agent-w5", wave=2)
        w5.start_task("w-5", "Rewrite hot")
        w5.tool("toolu_w5", "Write", {"file_path": hot, "content": "h"})
        w5.writer.flush()  # w-5 stays in progress
        return w5

    w5 = in_own_thread(still_running)
    w4 = Agent(store, execution_id, "agent-w4", wave=2)
    w4.start_task("w-4", "Read hot")
    w4.tool("toolu_w4", "Read", {"file_path": hot})
    w4.end_task("w-4", "blocked")
    w4.close()
    return WaveConflicts(
        db_path=store.db_path,
        execution_id=execution_id,
        conflicts={
            (1, shared, "w-1", "w-2"),
            (1, shared, "w-1", "w-3"),
            (1, shared, "w-2", "w-3"),
            (2, hot, "w-4", "w-5"),
        },
        running_task="w-5",
        blocked_task="w-4",
        hot_file=hot,
        waves={"w-1": 1, "w-2": 1, "w-3": 1, "w-4": 2, "w-5": 2},
        keep_alive=[w5],
    )


# ---------------------------------------------------------------------------
# A dependency cycle a -> c -> b -> a, and d hanging off it.
# ---------------------------------------------------------------------------


@dataclass
class DependencyCycle:
    db_path: Path
    execution_id: str
    cycle: list[str]
    outside: str
    #: task -> tasks it depends on
    depends_on: dict[str, list[str]]


def build_dependency_cycle(folder: Path) -> DependencyCycle:
    store = store_in(folder)
    execution_id = "exec-cycle"
    depends_on = {
        "cyc-a": ["cyc-c"],
        "cyc-b": ["cyc-a"],
        "cyc-c": ["cyc-b"],
        "cyc-d": ["cyc-a"],
    }
    agent = Agent(store, execution_id, "agent-cycle", wave=1)
    for task, deps in depends_on.items():
        agent.start_task(task, task, depends_on=deps)
        agent.end_task(task, "blocked")
    agent.close()
    return DependencyCycle(
        db_path=store.db_path,
        execution_id=execution_id,
        cycle=["cyc-a", "cyc-b", "cyc-c"],
        outside="cyc-d",
        depends_on=depends_on,
    )


# ---------------------------------------------------------------------------
# One tool use ten times slower than its siblings.
# ---------------------------------------------------------------------------


@dataclass
class SlowTool:
    db_path: Path
    execution_id: str
    slow_tool_use_id: str
    tool: str
    fast_calls: int
    fast_ms: float
    slow_ms: float


def build_slow_tool(folder: Path, fast_calls: int = 9) -> SlowTool:
    store = store_in(folder)
    execution_id, fast_s, slow_s = "exec-slow", 0.01, 0.1
    agent = Agent(store, execution_id, "agent-slow", wave=1)
    agent.start_task("task-slow", "Read a lot")
    for n in range(fast_calls):
        agent.tool(f"toolu_fast_{n}", "Read", {"file_path": f"src/f{n}.py"}, sleep_s=fast_s)
    slow = agent.tool("toolu_slow", "Read", {"file_path": "src/big.py"}, sleep_s=slow_s)
    for n in range(3):
        agent.tool(f"toolu_grep_{n}", "Grep", {"pattern": "x"}, sleep_s=fast_s)
    agent.end_task("task-slow")
    agent.close()
    return SlowTool(
        db_path=store.db_path,
        execution_id=execution_id,
        slow_tool_use_id=slow,
        tool="Read",
        fast_calls=fast_calls,
        fast_ms=fast_s * 1000,
        slow_ms=slow_s * 1000,
    )


# ---------------------------------------------------------------------------
# An assertion that passed in an earlier execution of a task list and fails in
# a later one.
# ---------------------------------------------------------------------------


@dataclass
class Regression:
    db_path: Path
    task_list_id: str
    earlier_execution: str
    later_execution: str
    task_id: str
    category: str
    description: str
    earlier_assertion_id: str
    later_assertion_id: str


def build_regression(folder: Path) -> Regression:
    store = store_in(folder)
    task_list_id, task_id = "list-reg", "task-r"
    assertion_ids = []
    for execution_id, command in (("exec-reg-1", "true"), ("exec-reg-2", "false")):
        agent = Agent(store, execution_id, f"agent-{execution_id}", task_list_id=task_list_id)
        agent.start_task(task_id, "Regress")
        chain = agent.assertions.start_chain(task_id, "Validate")
        result = agent.assertions.assert_custom(task_id, "tests_pass", "unit tests pass", command)
        agent.assertions.assert_custom(task_id, "lint_passes", "lint is clean", "true")
        agent.assertions.end_chain(chain)
        agent.end_task(task_id, "completed" if command == "true" else "failed")
        agent.close()
        assertion_ids.append(result.id)
        time.sleep(0.002)  # the later execution starts strictly later
    return Regression(
        db_path=store.db_path,
        task_list_id=task_list_id,
        earlier_execution="exec-reg-1",
        later_execution="exec-reg-2",
        task_id=task_id,
        category="tests_pass",
        description="unit tests pass",
        earlier_assertion_id=assertion_ids[0],
        later_assertion_id=assertion_ids[1],
    )
