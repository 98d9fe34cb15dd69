"""SkillTracer: skill invocations as ``skill {skill_name}`` spans with file:line references.

A skill span is opened through the writer, so it becomes the current span:
tool uses started while it is open get ``obs.tool.within_skill``, events land on
it, and a skill started inside another is recorded as its sub-skill
(``obs.skill.parent_trace_id``). The span carries its ``skill_invoke`` entry
under ``obs.entry.*`` and, when it ends, its ``skill_complete`` entry under
``obs.end_entry.*``; both hold the skill reference (file, line, section).

An unknown or already-ended trace id in :meth:`SkillTracer.trace_end` is
recorded as an ``error`` entry and logged, never raised into the agent; an
invalid status is the caller's bug and raises ``ValueError``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from . import conventions as c
from .models import SkillReference
from .redaction import redact_text
from .span_stack import Frame
from .tool_use_logger import ToolUseLogger
from .transcript_writer import (
    CLOSED_SKILL_ERROR,
    TranscriptWriter,
    entry_attributes,
    new_id,
)


class SkillTracer:
    """Traces skills of one :class:`TranscriptWriter`'s agent."""

    def __init__(self, transcript_writer: TranscriptWriter, tool_logger: ToolUseLogger) -> None:
        self._runtime = transcript_writer._runtime
        self._tool_logger = tool_logger

    def trace_start(self, skill_ref: SkillReference | Mapping[str, Any] | Any) -> str:
        """Open the skill's span (current, nested under any active skill); return its trace id."""
        ref = coerce_skill_ref(skill_ref)
        if self._runtime.closed:
            return self._runtime.drop_after_close("trace_start")
        trace_id = new_id()
        parent = self._runtime.active_skill
        ref_json = ref.model_dump_json()
        details = {"skill_name": ref.skill_name, "skill_trace_id": trace_id}
        if parent is not None:
            details["parent_trace_id"] = parent
        attrs = entry_attributes(
            new_id(),
            "skill_invoke",
            _where(ref, "invoked"),
            details,
            skill_ref_json=ref_json,
        )
        attrs.update(
            {
                c.SKILL_ID: trace_id,
                c.SKILL_NAME: ref.skill_name,
                c.SKILL_FILE: ref.skill_file,
                c.SKILL_LINE: ref.line_number,
                c.SKILL_SECTION: ref.section_title,
            }
        )
        if parent is not None:
            attrs[c.SKILL_PARENT_ID] = parent
        frame = self._runtime.open_frame(
            c.KIND_SKILL,
            ref.skill_name,
            attrs,
            key=trace_id,
            skill_id=trace_id,
            on_close=self._abandon,
        )
        frame.extra["ref"] = ref
        frame.extra["ref_json"] = ref_json
        return trace_id

    def trace_end(self, trace_id: str, status: str, error: str | None = None) -> None:
        """End the skill's span with ``status``: success, partial or failed."""
        if status not in c.SKILL_STATUSES:
            raise ValueError(
                f"unknown skill status {status!r}; valid statuses: {', '.join(c.SKILL_STATUSES)}"
            )
        if not isinstance(trace_id, str):
            raise ValueError(f"trace_id must be the string trace_start returned, got {trace_id!r}")
        frame = self._runtime.find_frame(c.KIND_SKILL, trace_id)
        if frame is None and self._runtime.closed:
            self._runtime.drop_after_close("trace_end")
            return
        if frame is None:
            self._runtime.record_unbalanced(
                f"trace_end for skill trace {trace_id!r} which is not open", "unbalanced_end"
            )
            return
        self._end(frame, status, error)

    def get_active_skill(self) -> str | None:
        """The trace id of the innermost open skill (for nesting), or None."""
        return self._runtime.active_skill

    @contextmanager
    def skill(self, skill_ref: SkillReference | Mapping[str, Any] | Any) -> Iterator[str]:
        """Trace a block as a skill: ``success`` when it returns, ``failed`` when it raises."""
        trace_id = self.trace_start(skill_ref)
        try:
            yield trace_id
        except BaseException as exc:
            if self._runtime.find_frame(c.KIND_SKILL, trace_id) is not None:
                self.trace_end(trace_id, "failed", f"{type(exc).__name__}: {exc}")
            raise
        if self._runtime.find_frame(c.KIND_SKILL, trace_id) is not None:
            self.trace_end(trace_id, "success")

    def _end(
        self, frame: Frame, status: str, error: str | None, *, closed_by: str | None = None
    ) -> None:
        ref: SkillReference = frame.extra["ref"]
        details: dict[str, Any] = {
            "skill_name": ref.skill_name,
            "skill_trace_id": frame.key,
            "status": status,
        }
        if error:
            details["error"] = error
        attrs = entry_attributes(
            new_id(),
            "skill_complete",
            _where(ref, status),
            details,
            skill_ref_json=frame.extra["ref_json"],
            end=True,
        )
        attrs[c.SKILL_STATUS] = status
        if error:
            attrs[c.SKILL_ERROR] = redact_text(error)
        if closed_by is not None:
            attrs[c.CLOSED_BY] = closed_by
        self._runtime.close_frame(frame, attrs, error=error if status == "failed" else None)

    def _abandon(self, frame: Frame) -> None:
        self._end(frame, "failed", CLOSED_SKILL_ERROR, closed_by="close")


def coerce_skill_ref(skill_ref: Any) -> SkillReference:
    """A ``SkillReference`` from the model, a mapping, a dataclass or any object with its fields."""
    if isinstance(skill_ref, SkillReference):
        return skill_ref
    if isinstance(skill_ref, Mapping):
        data = dict(skill_ref)
    elif dataclasses.is_dataclass(skill_ref) and not isinstance(skill_ref, type):
        data = dataclasses.asdict(skill_ref)
    elif hasattr(skill_ref, "skill_name"):
        data = {
            name: getattr(skill_ref, name)
            for name in SkillReference.model_fields
            if getattr(skill_ref, name, None) is not None
        }
    else:
        raise ValueError(
            "skill_ref must be a SkillReference, a mapping or an object with skill_name, "
            f"skill_file, line_number, section_title; got {skill_ref!r}"
        )
    return SkillReference.model_validate(data)


def _where(ref: SkillReference, what: str) -> str:
    """``Skill code-generation invoked at skills/code-generation.md:12 (Section)``."""
    location = f" at {ref.skill_file}:{ref.line_number}" if ref.skill_file else ""
    section = f" ({ref.section_title})" if ref.section_title else ""
    return f"Skill {ref.skill_name} {what}{location}{section}"
