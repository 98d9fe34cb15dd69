"""Spans built the way the producers build them, from the conventions' attribute names.

The store's tests drive the real OpenTelemetry SDK with these, so what they
prove about the mapping holds for any producer that follows the conventions.
Each helper returns the started span; the caller ends it (after setting any
end attributes), exactly as a producer would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, Tracer

from otel_obs import conventions as c


class SpanFactory:
    """Starts producer-shaped spans on ``tracer`` for one execution and agent."""

    def __init__(
        self,
        tracer: Tracer,
        execution_id: str,
        instance_id: str,
        *,
        wave_number: int | None = None,
        task_list_id: str | None = None,
    ) -> None:
        self.tracer = tracer
        self.execution_id = execution_id
        self.instance_id = instance_id
        self.wave_number = wave_number
        self.task_list_id = task_list_id
        self.task_id: str | None = None
        self.skill_id: str | None = None

    def context_attrs(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {c.EXECUTION_ID: self.execution_id, c.INSTANCE_ID: self.instance_id}
        if self.wave_number is not None:
            attrs[c.WAVE_NUMBER] = self.wave_number
        if self.task_list_id is not None:
            attrs[c.TASK_LIST_ID] = self.task_list_id
        if self.task_id is not None:
            attrs[c.TASK_ID] = self.task_id
        if self.skill_id is not None:
            attrs[c.SKILL_TRACE_ID] = self.skill_id
        return attrs

    def _start(self, kind: str, label: str, attrs: Mapping[str, Any]) -> Span:
        full = self.context_attrs()
        full[c.KIND] = kind
        full.update(attrs)
        return self.tracer.start_span(c.span_name(kind, label), attributes=full)

    def agent(self, pid: int = 4242, hostname: str = "worker-host") -> Span:
        return self._start(
            c.KIND_AGENT,
            self.instance_id,
            {c.AGENT_PID: pid, c.AGENT_HOSTNAME: hostname, c.GEN_AI_AGENT_ID: self.instance_id},
        )

    def task(
        self,
        task_id: str,
        entry_id: str,
        *,
        title: str = "",
        action: str | None = None,
        file: str | None = None,
        depends_on: tuple[str, ...] = (),
    ) -> Span:
        self.task_id = task_id
        details = {"title": title, "action": action, "file": file, "depends_on": list(depends_on)}
        attrs: dict[str, Any] = {
            c.TASK_ID: task_id,
            c.TASK_TITLE: title,
            c.ENTRY_ID: entry_id,
            c.ENTRY_TYPE: "task_start",
            c.ENTRY_SUMMARY: f"Starting task: {title}",
            c.ENTRY_DETAILS: json.dumps(details),
        }
        if action:
            attrs[c.TASK_ACTION] = action
        if file:
            attrs[c.TASK_FILE] = file
        if depends_on:
            attrs[c.TASK_DEPENDS_ON] = list(depends_on)
        return self._start(c.KIND_TASK, task_id, attrs)

    def end_task(
        self, span: Span, entry_id: str, status: str = "completed", error: str | None = None
    ) -> None:
        span.set_attribute(c.TASK_STATUS, status)
        if error:
            span.set_attribute(c.TASK_ERROR, error)
        span.set_attribute(c.END_ENTRY_ID, entry_id)
        span.set_attribute(c.END_ENTRY_TYPE, "task_end")
        span.set_attribute(c.END_ENTRY_DETAILS, json.dumps({"status": status}))
        span.end()
        self.task_id = None

    def phase(self, name: str, entry_id: str) -> Span:
        return self._start(
            c.KIND_PHASE,
            name,
            {
                c.PHASE_NAME: name,
                c.ENTRY_ID: entry_id,
                c.ENTRY_TYPE: "phase_start",
                c.ENTRY_DETAILS: json.dumps({"phase": name}),
            },
        )

    def end_phase(self, span: Span, entry_id: str) -> None:
        span.set_attribute(c.END_ENTRY_ID, entry_id)
        span.set_attribute(c.END_ENTRY_TYPE, "phase_end")
        span.end()

    def tool(
        self,
        tool_use_id: str,
        entry_id: str,
        name: str = "Read",
        *,
        file_path: str | None = None,
        operation: str | None = None,
    ) -> Span:
        attrs: dict[str, Any] = {
            c.GEN_AI_OPERATION_NAME: "execute_tool",
            c.GEN_AI_TOOL_NAME: name,
            c.GEN_AI_TOOL_CALL_ID: tool_use_id,
            c.TOOL_CATEGORY: c.tool_category(name),
            c.TOOL_INPUT: json.dumps({"file_path": file_path} if file_path else {}),
            c.TOOL_INPUT_SUMMARY: f"{name} {file_path or ''}".strip(),
            c.ENTRY_ID: entry_id,
            c.ENTRY_TYPE: "tool_use",
            c.ENTRY_SUMMARY: f"{name}: {file_path or ''}",
            c.ENTRY_DETAILS: json.dumps({"tool": name, "tool_use_id": tool_use_id}),
        }
        if self.skill_id is not None:
            attrs[c.TOOL_WITHIN_SKILL] = self.skill_id
        if file_path:
            attrs[c.FILE_PATH] = file_path
            attrs[c.FILE_OPERATION] = operation or "READ"
        return self._start(c.KIND_TOOL, name, attrs)

    def end_tool(
        self,
        span: Span,
        status: str = "done",
        output: str = "ok",
        *,
        block_reason: str | None = None,
        error_message: str | None = None,
    ) -> None:
        span.set_attribute(c.TOOL_RESULT_STATUS, status)
        span.set_attribute(c.TOOL_IS_ERROR, status == "error")
        span.set_attribute(c.TOOL_OUTPUT, output)
        span.set_attribute(c.TOOL_OUTPUT_SUMMARY, output[:500])
        if block_reason:
            span.set_attribute(c.TOOL_BLOCK_REASON, block_reason)
        if error_message:
            span.set_attribute(c.TOOL_ERROR_MESSAGE, error_message)
        span.end()

    def skill(self, skill_id: str, entry_id: str, name: str = "code-generation") -> Span:
        attrs = {
            c.SKILL_ID: skill_id,
            c.SKILL_NAME: name,
            c.SKILL_FILE: f"skills/{name}.md",
            c.SKILL_LINE: 12,
            c.SKILL_SECTION: "Usage",
            c.ENTRY_ID: entry_id,
            c.ENTRY_TYPE: "skill_invoke",
            c.ENTRY_SKILL_REF: json.dumps({"skill_name": name, "line_number": 12}),
        }
        if self.skill_id is not None:
            attrs[c.SKILL_PARENT_ID] = self.skill_id
        span = self._start(c.KIND_SKILL, name, attrs)
        self.skill_id = skill_id
        return span

    def end_skill(
        self,
        span: Span,
        entry_id: str,
        status: str = "success",
        error: str | None = None,
        parent: str | None = None,
    ) -> None:
        span.set_attribute(c.SKILL_STATUS, status)
        if error:
            span.set_attribute(c.SKILL_ERROR, error)
        span.set_attribute(c.END_ENTRY_ID, entry_id)
        span.set_attribute(c.END_ENTRY_TYPE, "skill_complete")
        span.end()
        self.skill_id = parent

    def chain(self, chain_id: str, description: str) -> Span:
        return self._start(
            c.KIND_CHAIN, description, {c.CHAIN_ID: chain_id, c.CHAIN_DESCRIPTION: description}
        )

    def assertion_attrs(
        self,
        assertion_id: str,
        entry_id: str,
        result: str,
        *,
        chain_id: str | None = None,
        category: str = "file_created",
        description: str = "file exists",
    ) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            c.ENTRY_ID: entry_id,
            c.ENTRY_TYPE: "assertion",
            c.ENTRY_SUMMARY: f"{category}: {result}",
            c.ENTRY_DETAILS: json.dumps({"result": result}),
            c.ASSERTION_ID: assertion_id,
            c.ASSERTION_CATEGORY: category,
            c.ASSERTION_DESCRIPTION: description,
            c.ASSERTION_RESULT: result,
            c.ASSERTION_EVIDENCE: json.dumps({"exists": result == "pass"}),
            c.ASSERTION_DURATION_MS: 1.5,
        }
        if chain_id is not None:
            attrs[c.CHAIN_ID] = chain_id
        return attrs

    @staticmethod
    def entry_attrs(entry_id: str, entry_type: str, **details: Any) -> dict[str, Any]:
        return {
            c.ENTRY_ID: entry_id,
            c.ENTRY_TYPE: entry_type,
            c.ENTRY_SUMMARY: f"{entry_type} {entry_id}",
            c.ENTRY_DETAILS: json.dumps(details),
        }


@contextmanager
def current(span: Span) -> Iterator[Span]:
    """Make ``span`` current (what producers do for phases, tasks and skills)."""
    with trace.use_span(span, end_on_exit=False):
        yield span


class Recorder:
    """A provider that keeps finished spans in memory, for the mapping and exporter tests."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("tests")

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())


EXECUTION = "exec-scenario"
AGENT = "agent-1"
WAVE = 2
TASK_LIST = "tl-1"


def run_scenario(
    tracer: Tracer, add_event: Any, execution_id: str = EXECUTION, task_list_id: str = TASK_LIST
) -> dict[str, Any]:
    """One agent's small execution touching every span kind and event kind.

    ``add_event(span, name, attributes)`` is how events are added (a
    ``Pipeline.add_event`` or a plain ``span.add_event``). Returns what was
    emitted, in emission order, so tests derive their expectations from it.
    Every id but the execution's (and the task list's) is fixed.
    """
    f = SpanFactory(tracer, execution_id, AGENT, wave_number=WAVE, task_list_id=task_list_id)
    entries: list[tuple[str, str]] = []  # (entry id, entry type) in emission order

    def event(span: Span, entry_id: str, entry_type: str, **extra: Any) -> None:
        attrs = f.entry_attrs(entry_id, entry_type, **extra.pop("details", {}))
        attrs.update(extra)
        add_event(span, c.EVENT_PREFIX + entry_type, attrs)
        entries.append((entry_id, entry_type))

    agent = f.agent()
    with current(agent):
        phase = f.phase("iterate", "e-phase-start")
        entries.append(("e-phase-start", "phase_start"))
        with current(phase):
            task = f.task(
                "T1",
                "e-task-start",
                title="Create a.ts",
                action="CREATE",
                file="src/a.ts",
                depends_on=("T0",),
            )
            entries.append(("e-task-start", "task_start"))
            with current(task):
                skill = f.skill("S1", "e-skill-start")
                entries.append(("e-skill-start", "skill_invoke"))
                with current(skill):
                    read = f.tool("tu-read", "e-read", "Read", file_path="src/a.ts")
                    entries.append(("e-read", "tool_use"))
                    f.end_tool(read, "done", "file text")
                f.end_skill(skill, "e-skill-end")
                entries.append(("e-skill-end", "skill_complete"))
                write = f.tool(
                    "tu-write", "e-write", "Write", file_path="src/a.ts", operation="CREATE"
                )
                entries.append(("e-write", "tool_use"))
                f.end_tool(write, "error", "EACCES", error_message="permission denied")
                bash = f.tool("tu-bash", "e-bash", "Bash")
                entries.append(("e-bash", "tool_use"))
                f.end_tool(bash, "blocked", "", block_reason="rm -rf is not allowed")
                event(
                    task,
                    "e-decision",
                    "decision",
                    details={"options": ["a", "b"], "chosen": "a", "reasoning": "simpler"},
                    **{c.CORRELATION_ID: "corr-9"},
                )
                event(task, "e-lock", "lock_acquire", details={"file_path": "src/a.ts"})
                chain = f.chain("CH1", "Validate CREATE")
                add_event(
                    chain, "obs.assertion", f.assertion_attrs("A1", "e-a1", "pass", chain_id="CH1")
                )
                entries.append(("e-a1", "assertion"))
                add_event(
                    chain,
                    "obs.assertion",
                    f.assertion_attrs("A2", "e-a2", "fail", chain_id="CH1", category="lint_passes"),
                )
                entries.append(("e-a2", "assertion"))
                chain.end()
                add_event(task, "obs.assertion", f.assertion_attrs("A3", "e-a3", "skip"))
                entries.append(("e-a3", "assertion"))
            f.end_task(task, "e-task-end", "completed")
            entries.append(("e-task-end", "task_end"))
        f.end_phase(phase, "e-phase-end")
        entries.append(("e-phase-end", "phase_end"))
        event(agent, "e-discovery", "discovery", details={"discovery_type": "api", "content": "x"})
    agent.set_attribute(c.AGENT_STATUS, "completed")
    agent.end()
    return {"execution_id": execution_id, "entries": entries}
