"""SkillTracer: skill spans with file:line references, nesting, statuses."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode
from producer_support import parent_id, span_id

from otel_obs import conventions as c
from otel_obs.models import SkillReference
from otel_obs.skill_tracer import SkillTracer
from otel_obs.tool_use_logger import ToolUseLogger
from otel_obs.transcript_writer import CLOSED_SKILL_ERROR


@dataclass
class SpecSkillReference:
    """The spec's own dataclass, field for field."""

    skill_name: str
    skill_file: str
    line_number: int
    section_title: str


@pytest.fixture
def skills(writer) -> SkillTracer:
    return SkillTracer(writer, ToolUseLogger(writer))


@pytest.mark.parametrize(
    "ref",
    [
        SkillReference(
            skill_name="code-generation",
            skill_file="skills/code-generation.md",
            line_number=42,
            section_title="Generate API",
        ),
        {
            "skill_name": "code-generation",
            "skill_file": "skills/code-generation.md",
            "line_number": 42,
            "section_title": "Generate API",
        },
        SpecSkillReference("code-generation", "skills/code-generation.md", 42, "Generate API"),
    ],
    ids=["model", "dict", "dataclass"],
)
def test_skill_span_carries_its_reference_and_entries(traced, writer, skills, ref):
    writer.write({"entry_type": "task_start", "task_id": "T1"})
    trace_id = skills.trace_start(ref)
    assert skills.get_active_skill() == trace_id
    assert trace.get_current_span().get_span_context().span_id != 0
    skills.trace_end(trace_id, "partial")
    assert skills.get_active_skill() is None
    writer.write({"entry_type": "task_end", "task_id": "T1"})
    writer.close()
    skill = traced.one(c.KIND_SKILL)
    a = skill.attributes
    assert skill.name == "skill code-generation"
    assert parent_id(skill) == span_id(traced.one(c.KIND_TASK))
    assert a[c.SKILL_ID] == trace_id and a[c.SKILL_TRACE_ID] == trace_id
    assert (a[c.SKILL_NAME], a[c.SKILL_FILE], a[c.SKILL_LINE], a[c.SKILL_SECTION]) == (
        "code-generation",
        "skills/code-generation.md",
        42,
        "Generate API",
    )
    assert a[c.SKILL_STATUS] == "partial"
    assert a[c.TASK_ID] == "T1"
    assert c.SKILL_PARENT_ID not in a
    assert a[c.ENTRY_TYPE] == "skill_invoke" and a[c.END_ENTRY_TYPE] == "skill_complete"
    for key in (c.ENTRY_SKILL_REF, c.END_ENTRY_SKILL_REF):
        assert json.loads(a[key]) == {
            "skill_name": "code-generation",
            "skill_file": "skills/code-generation.md",
            "line_number": 42,
            "section_title": "Generate API",
        }
    assert "skills/code-generation.md:42" in a[c.ENTRY_SUMMARY]


def test_nested_skill_is_a_sub_skill(traced, writer, skills):
    outer = skills.trace_start({"skill_name": "outer"})
    inner = skills.trace_start({"skill_name": "inner"})
    assert skills.get_active_skill() == inner
    skills.trace_end(inner, "success")
    assert skills.get_active_skill() == outer
    skills.trace_end(outer, "success")
    writer.close()
    spans = {s.attributes[c.SKILL_NAME]: s for s in traced.kind(c.KIND_SKILL)}
    assert spans["inner"].attributes[c.SKILL_PARENT_ID] == outer
    assert parent_id(spans["inner"]) == span_id(spans["outer"])
    assert c.SKILL_PARENT_ID not in spans["outer"].attributes


def test_events_inside_a_skill_land_on_it(traced, writer, skills):
    trace_id = skills.trace_start({"skill_name": "s"})
    writer.write({"entry_type": "decision", "summary": "inside"})
    skills.trace_end(trace_id, "success")
    writer.close()
    [(span, _)] = traced.events("obs.decision")
    assert span is traced.one(c.KIND_SKILL)


def test_failed_skill_records_the_error(traced, writer, skills):
    trace_id = skills.trace_start({"skill_name": "s"})
    skills.trace_end(trace_id, "failed", "template missing")
    writer.close()
    skill = traced.one(c.KIND_SKILL)
    assert skill.attributes[c.SKILL_STATUS] == "failed"
    assert skill.attributes[c.SKILL_ERROR] == "template missing"
    assert json.loads(skill.attributes[c.END_ENTRY_DETAILS])["error"] == "template missing"
    assert skill.status.status_code == StatusCode.ERROR


def test_invalid_status_names_it_and_the_valid_ones(writer, skills):
    trace_id = skills.trace_start({"skill_name": "s"})
    with pytest.raises(ValueError, match="'done'.*success, partial, failed"):
        skills.trace_end(trace_id, "done")
    skills.trace_end(trace_id, "success")


def test_invalid_skill_reference_is_refused(skills):
    with pytest.raises(ValueError, match="skill_ref"):
        skills.trace_start(42)
    with pytest.raises(ValueError, match="skill_name"):
        skills.trace_start({"skill_file": "x.md"})


def test_unknown_trace_id_is_recorded_not_raised(traced, writer, skills):
    skills.trace_end("nope", "success")
    writer.close()
    [(_, attrs)] = traced.events("obs.error")
    assert "nope" in json.loads(attrs[c.ENTRY_DETAILS])["message"]


def test_context_manager_success_and_failure(traced, writer, skills):
    with skills.skill({"skill_name": "good"}) as good_id:
        assert skills.get_active_skill() == good_id
    with pytest.raises(ZeroDivisionError):
        with skills.skill({"skill_name": "bad"}):
            1 / 0  # noqa: B018
    writer.close()
    spans = {s.attributes[c.SKILL_NAME]: s for s in traced.kind(c.KIND_SKILL)}
    assert spans["good"].attributes[c.SKILL_STATUS] == "success"
    assert spans["bad"].attributes[c.SKILL_STATUS] == "failed"
    assert "ZeroDivisionError" in spans["bad"].attributes[c.SKILL_ERROR]


def test_close_fails_an_open_skill(traced, writer, skills):
    skills.trace_start({"skill_name": "forever"})
    writer.close()
    skill = traced.one(c.KIND_SKILL)
    assert skill.attributes[c.SKILL_STATUS] == "failed"
    assert skill.attributes[c.SKILL_ERROR] == CLOSED_SKILL_ERROR
    assert skill.attributes[c.CLOSED_BY] == "close"
    assert skill.attributes[c.END_ENTRY_TYPE] == "skill_complete"
