"""One simulated build-agent worker of the demo, written on the real producers.

A worker process joins its orchestrator's trace through ``TRACEPARENT`` /
``BAGGAGE`` (the writer reads them), then works through its tasks the way a
coding agent would: a prime phase that reads the project and decides an order,
an iterate phase where each task runs skills whose tool uses really write files
in a shared workspace, with locks, checkpoints and an assertion chain, and a
validate phase. Tool durations are tiny sleeps. The faults a plan assigns to a
task (blocked command, failing assertion, error cascade, unreleased lock) are
acted out here, so the diagnosis tools have something real to find.

Progress goes to stdout as JSON lines (``{"event": "task_done", …}``), which
the orchestrator turns into its progress display.
"""

from __future__ import annotations

import json
import random
import shlex
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from ..models import SkillReference, TranscriptEntry
from .plan import (
    BLOCKED_COMMAND,
    CASCADE_FAILED_TOOLS,
    ERROR_CASCADE,
    FAILING_ASSERTION,
    UNRELEASED_LOCK,
    DemoPlan,
    DemoTask,
    WorkerPlan,
)

CODE_GENERATION = SkillReference(
    skill_name="code-generation",
    skill_file="skills/code-generation.md",
    line_number=12,
    section_title="Write the module",
)
TEST_WRITING = SkillReference(
    skill_name="test-writing",
    skill_file="skills/test-writing.md",
    line_number=8,
    section_title="Cover the public functions",
)
DEPENDENCY_SETUP = SkillReference(
    skill_name="dependency-setup",
    skill_file="skills/dependency-setup.md",
    line_number=5,
    section_title="Install what the module imports",
)

#: Simulated duration of each tool in milliseconds (jittered ±15%): steady enough per
#: tool that the unusual-duration detector has a baseline to compare against.
SIMULATED_MS = {"Read": 2.0, "Glob": 2.5, "Grep": 3.0, "Write": 4.0, "Edit": 3.0, "Bash": 6.0}
FAILED_TEST_OUTPUT = "1 failed: test_round_trip expected 2, got 3"
BLOCK_REASON = "destructive command outside the workspace (rm -rf /) denied by the security hook"


def _emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def _write_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


class DemoWorker:
    """Acts out one worker plan through the four producers."""

    def __init__(
        self,
        plan: DemoPlan,
        worker: WorkerPlan,
        workspace: Path,
        db_path: str | None,
        transcripts_dir: Path,
    ) -> None:
        from ..assertion_recorder import AssertionRecorder
        from ..skill_tracer import SkillTracer
        from ..tool_use_logger import ToolUseLogger
        from ..transcript_writer import TranscriptWriter

        self.plan = plan
        self.worker = worker
        self.workspace = workspace
        self.rng = random.Random(f"{plan.seed}:{worker.instance_id}")
        # Execution, wave and task list come from the orchestrator's W3C baggage.
        self.writer = TranscriptWriter(
            None, worker.instance_id, db_path=db_path, transcripts_dir=transcripts_dir
        )
        self.execution_id = self.writer.execution_id
        self.tools = ToolUseLogger(self.writer)
        self.skills = SkillTracer(self.writer, self.tools)
        self.assertions = AssertionRecorder(
            self.writer, self.execution_id, cwd=str(workspace), timeout_s=20
        )
        self.python = shlex.quote(sys.executable)

    # -- helpers -------------------------------------------------------

    def _write(
        self, entry_type: str, summary: str, task_id: str | None = None, **details: Any
    ) -> None:
        self.writer.write(
            TranscriptEntry(
                entry_type=entry_type, summary=summary, task_id=task_id, details=details
            )
        )

    def _tool(
        self,
        name: str,
        tool_input: dict[str, Any],
        output: str = "ok",
        *,
        is_error: bool = False,
        blocked: str | None = None,
        work: Any = None,
        simulated_ms: float | None = None,
    ) -> str:
        """One tool use: start, a tiny simulated duration (and real work), then its result."""
        tool_id = f"toolu_{uuid.uuid4().hex[:24]}"
        self.tools.log_start({"id": tool_id, "name": name, "input": tool_input})
        if blocked is not None:
            self.tools.log_blocked(tool_id, blocked)
            return tool_id
        if work is not None:
            work()
        base = simulated_ms if simulated_ms is not None else SIMULATED_MS.get(name, 2.0)
        time.sleep(base * self.rng.uniform(0.85, 1.15) / 1000)
        self.tools.log_end(
            tool_id, {"tool_use_id": tool_id, "content": output, "is_error": is_error}
        )
        return tool_id

    def _path(self, relative: str) -> Path:
        return self.workspace / relative

    # -- phases --------------------------------------------------------

    def run(self) -> None:
        try:
            self.prime()
            self.iterate()
            self.validate()
        finally:
            self.writer.close()

    def prime(self) -> None:
        with self.writer.phase("prime"):
            self._tool("Glob", {"pattern": "src/**/*.py"}, "\n".join(self._existing_files()))
            self._tool("Read", {"file_path": str(self._path("PLAN.md"))}, "task plan")
            for task in self.worker.tasks:
                for dep in task.depends_on:
                    dep_file = self._task(dep).file
                    self._tool(
                        "Read", {"file_path": str(self._path(dep_file))}, f"contents of {dep_file}"
                    )
                self._tool(
                    "Grep", {"pattern": f"def .*{task.id.lower()}", "path": "src"}, "no matches"
                )
            order = [t.id for t in self.worker.tasks]
            self._write(
                "decision",
                f"Work through {', '.join(order)} in plan order",
                options=["plan order", "smallest first", "dependencies first"],
                chosen="plan order",
                reasoning="dependencies are satisfied by the previous wave",
            )
            self._write(
                "discovery",
                "Project keeps one module per file under src/",
                discovery_type="convention",
                content="modules live in src/<package>/<module>.py with a test beside them",
            )

    def iterate(self) -> None:
        with self.writer.phase("iterate"):
            for task in self.worker.tasks:
                status = self.run_task(task)
                _emit(
                    "task_done", task_id=task.id, status=status, instance_id=self.worker.instance_id
                )

    def validate(self) -> None:
        with self.writer.phase("validate"):
            files = [t.file for t in self.worker.tasks]
            self._tool("Bash", {"command": f"python -m compileall -q {' '.join(files)}"}, "")
            self._write("validation", f"{len(files)} module(s) compile", files=files)

    # -- one task ------------------------------------------------------

    def run_task(self, task: DemoTask) -> str:
        details = {
            "title": task.title,
            "action": task.action,
            "file": task.file,
            "depends_on": list(task.depends_on),
        }
        self._write("task_start", f"Starting task: {task.title}", task.id, **details)
        chain_id = self.assertions.start_chain(
            task.id, f"Validate {task.action} {task.file}", watch=[task.file]
        )
        checkpoint = f"cp-{task.id}"
        self._write(
            "checkpoint",
            f"Checkpoint before {task.id}",
            task.id,
            checkpoint_id=checkpoint,
            action="create",
        )
        error: str | None = None

        if task.fault == ERROR_CASCADE:
            error = self._dependency_cascade(task)
        else:
            self._generate_code(task)
            self._write_tests(task)
            if task.fault == BLOCKED_COMMAND:
                self._tool(
                    "Bash",
                    {"command": "rm -rf / --no-preserve-root", "description": "clean build output"},
                    blocked=BLOCK_REASON,
                )
                self._write(
                    "decision",
                    "Clean the build folder inside the workspace instead",
                    task.id,
                    options=["retry the command", "clean build/ only"],
                    chosen="clean build/ only",
                    reasoning="the security hook denied a command outside the workspace",
                )
                self._tool("Bash", {"command": "rm -rf build/"}, "")

        target = shlex.quote(task.file)
        if error is None:
            self.assertions.assert_file_created(task.id, str(self._path(task.file)))
            self.assertions.assert_custom(
                task.id,
                "schema_valid",
                f"{task.file} parses as Python",
                f'{self.python} -c "import ast,sys; ast.parse(open(sys.argv[1]).read())" {target}',
            )
        if task.fault == FAILING_ASSERTION:
            result = self.assertions.assert_custom(
                task.id,
                "tests_pass",
                f"tests for {task.file} pass",
                f"{self.python} -c \"import sys; sys.exit('{FAILED_TEST_OUTPUT}')\"",
            )
            error = f"assertion failed: {result.description}"
        elif error is None:
            self.assertions.assert_custom(
                task.id,
                "tests_pass",
                f"tests for {task.file} pass",
                f'{self.python} -c "import sys; sys.exit(0)"',
            )
        chain = self.assertions.end_chain(chain_id)

        status = "failed" if error else "completed"
        self._write(
            "checkpoint",
            f"{'Roll back' if error else 'Commit'} {task.id}",
            task.id,
            checkpoint_id=checkpoint,
            action="rollback" if error else "commit",
        )
        end_details: dict[str, Any] = {"status": status}
        if error:
            end_details["error"] = error
        self._write("task_end", f"Task {status}: {chain.overall_result}", task.id, **end_details)
        return status

    def _generate_code(self, task: DemoTask) -> None:
        path = self._path(task.file)
        with self.skills.skill(CODE_GENERATION):
            for dep in task.depends_on:
                self._tool(
                    "Read", {"file_path": str(self._path(self._task(dep).file))}, "module source"
                )
            self._tool("Grep", {"pattern": "^class |^def ", "path": "src"}, "src/…: def …")
            self._write("lock_acquire", f"Lock {task.file}", task.id, file_path=task.file)
            body = f'"""{task.title}."""\n\n\ndef {task.id.lower()}_ready() -> bool:\n'
            body += "    return True\n"
            self._tool(
                "Write",
                {"file_path": str(path), "content": body},
                f"File created: {task.file}",
                work=lambda: _write_file(path, body),
            )
            for index in range(self.rng.randint(4, 8)):
                line = f"\n\ndef helper_{index}(value: int) -> int:\n    return value + {index}\n"
                self._tool(
                    "Edit",
                    {"file_path": str(path), "old_string": "", "new_string": line},
                    "edited",
                    work=lambda line=line: path.open("a").write(line),
                )
                self._tool("Read", {"file_path": str(path)}, "module source")
            if task.fault != UNRELEASED_LOCK:
                self._write("lock_release", f"Unlock {task.file}", task.id, file_path=task.file)
            else:
                self._write(
                    "discovery",
                    f"Left {task.file} locked for a follow-up edit",
                    task.id,
                    discovery_type="note",
                    content="the follow-up edit never came; the lock stays held",
                )

    def _write_tests(self, task: DemoTask) -> None:
        test_path = self._path(task.file.replace("src/", "tests/").replace(".py", "_test.py"))
        with self.skills.skill(TEST_WRITING):
            self._tool(
                "Write",
                {"file_path": str(test_path), "content": "def test_ready(): ..."},
                "File created",
                work=lambda: _write_file(test_path, "def test_ready():\n    assert True\n"),
            )
            for _ in range(self.rng.randint(3, 6)):
                self._tool("Bash", {"command": f"python -m pytest -q {test_path.name}"}, "1 passed")
            self._tool("Grep", {"pattern": "TODO", "path": str(test_path.parent)}, "no matches")

    def _dependency_cascade(self, task: DemoTask) -> str:
        """Installs that fail one after another, then the error that ends the task."""
        # Store what came before, so the failures that follow are written together
        # (one batch) rather than spread among other workers' entries.
        self.writer.flush()
        trace_id = self.skills.trace_start(DEPENDENCY_SETUP)
        self._tool("Read", {"file_path": str(self._path("requirements.txt"))}, "fastapi\nuvicorn")
        for attempt in range(1, CASCADE_FAILED_TOOLS + 1):
            self._tool(
                "Bash",
                {"command": "pip install -r requirements.txt"},
                f"ERROR: no version satisfies the requirement fastapi (attempt {attempt})",
                is_error=True,
                # Quick failures, one after another: that is what makes it a cascade.
                simulated_ms=1.0,
            )
        message = f"dependency installation failed {CASCADE_FAILED_TOOLS} times; giving up"
        self.skills.trace_end(trace_id, "failed", message)
        self._write("error", message, task.id, message=message, error_type="DependencyError")
        return message

    # -- plan lookups --------------------------------------------------

    def _task(self, task_id: str) -> DemoTask:
        return next(t for t in self.plan.tasks if t.id == task_id)

    def _existing_files(self) -> list[str]:
        src = self.workspace / "src"
        return (
            sorted(str(p.relative_to(self.workspace)) for p in src.rglob("*.py"))
            if src.exists()
            else []
        )
