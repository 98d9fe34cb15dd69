"""ToolUseLogger: GenAI tool spans, result statuses, file facts, parallel calls."""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode
from producer_support import Traced, parent_id, span_id

from otel_obs import conventions as c
from otel_obs import redaction
from otel_obs.exporters.mapping import map_span
from otel_obs.skill_tracer import SkillTracer
from otel_obs.tool_facts import INPUT_SUMMARY_MAX, OUTPUT_SUMMARY_MAX
from otel_obs.tool_use_logger import ToolUseLogger
from otel_obs.transcript_writer import TranscriptWriter


@dataclass
class SdkToolUseBlock:
    """Shaped like claude_agent_sdk.types.ToolUseBlock (a dataclass)."""

    id: str
    name: str
    input: dict[str, Any]


@dataclass
class SdkToolResultBlock:
    tool_use_id: str
    content: str | list[dict[str, Any]] | None = None
    is_error: bool | None = None


@pytest.fixture
def tools(writer) -> ToolUseLogger:
    return ToolUseLogger(writer)


def finish(traced: Traced, writer: TranscriptWriter):
    writer.close()
    return traced.kind(c.KIND_TOOL)


def mapped(tool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tool_uses and tool_use entry rows the mapping makes of a tool span."""
    rows = map_span(tool)
    [entry] = [r for r in rows.rows("transcript_entries") if r["entry_type"] == "tool_use"]
    [row] = rows.rows("tool_uses")
    return row, entry


def test_tool_span_follows_genai_conventions_and_is_not_current(traced, writer, tools):
    writer.write({"entry_type": "task_start", "task_id": "T1"})
    before = trace.get_current_span()
    tool_id = tools.log_start(SdkToolUseBlock("toolu_01", "Grep", {"pattern": "TODO"}))
    assert tool_id == "toolu_01"
    assert trace.get_current_span() is before
    tools.log_end(tool_id, SdkToolResultBlock("toolu_01", "a.py:3: TODO", False))
    writer.write({"entry_type": "task_end", "task_id": "T1"})
    [tool] = finish(traced, writer)
    assert tool.name == "execute_tool Grep"
    assert tool.attributes[c.GEN_AI_OPERATION_NAME] == "execute_tool"
    assert tool.attributes[c.GEN_AI_TOOL_NAME] == "Grep"
    assert tool.attributes[c.GEN_AI_TOOL_CALL_ID] == "toolu_01"
    assert tool.attributes[c.TOOL_CATEGORY] == "file_read"
    assert tool.attributes[c.TOOL_RESULT_STATUS] == "done"
    assert tool.attributes[c.TOOL_OUTPUT] == "a.py:3: TODO"
    assert json.loads(tool.attributes[c.TOOL_INPUT]) == {"pattern": "TODO"}
    # What the mapping derives is left off the agent's hot path (conventions.py,
    # tool_facts.py), and the mapping does derive it.
    derived = (
        c.TOOL_IS_ERROR,
        c.TOOL_OUTPUT_SUMMARY,
        c.ENTRY_ID,
        c.ENTRY_TYPE,
        c.ENTRY_SUMMARY,
        c.TOOL_INPUT_SUMMARY,
        c.FILE_PATH,
        c.FILE_OPERATION,
    )
    assert not set(derived) & set(tool.attributes)
    row, entry = mapped(tool)
    assert row["input_summary"] == "TODO" and entry["summary"] == "Grep: TODO"
    assert tool.attributes[c.TASK_ID] == "T1"
    assert parent_id(tool) == span_id(traced.one(c.KIND_TASK))


def test_anthropic_tool_use_block_qualifies(traced, writer, tools):
    types = pytest.importorskip("anthropic.types")
    block = types.ToolUseBlock(
        id="toolu_x", name="Read", input={"file_path": "README.md"}, type="tool_use"
    )
    tool_id = tools.log_start(block)
    result = {
        "type": "tool_result",
        "tool_use_id": tool_id,
        "content": [{"type": "text", "text": "# Title"}],
        "is_error": False,
    }
    tools.log_end(tool_id, result)
    [tool] = finish(traced, writer)
    assert tool_id == "toolu_x"
    assert mapped(tool)[0]["file_path"] == "README.md"
    assert tool.attributes[c.TOOL_OUTPUT] == "# Title"


def test_block_without_id_gets_a_generated_unique_one(traced, writer, tools):
    ids = {tools.log_start(SimpleNamespace(name="Bash", input={"command": "ls"})) for _ in range(3)}
    assert len(ids) == 3
    for tool_id in ids:
        tools.log_end(tool_id, SimpleNamespace(content="", is_error=False))
    spans = finish(traced, writer)
    assert {s.attributes[c.GEN_AI_TOOL_CALL_ID] for s in spans} == ids


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ("plain", "plain"),
        (None, ""),
        ([{"type": "text", "text": "one"}, {"type": "text", "text": "two"}], "one\ntwo"),
        ([SimpleNamespace(type="text", text="obj")], "obj"),
        ([{"type": "image", "source": {}}], "[image]"),
    ],
)
def test_result_content_forms(traced, writer, tools, content, text):
    tool_id = tools.log_start({"id": "t", "name": "Read", "input": {"file_path": "f"}})
    tools.log_end(tool_id, {"tool_use_id": tool_id, "content": content, "is_error": False})
    [tool] = finish(traced, writer)
    assert tool.attributes[c.TOOL_OUTPUT] == text


def test_error_result_maps_to_error_with_message(traced, writer, tools):
    tool_id = tools.log_start({"id": "t", "name": "Bash", "input": {"command": "false"}})
    tools.log_end(tool_id, {"content": "command failed: exit 1", "is_error": True})
    [tool] = finish(traced, writer)
    assert tool.attributes[c.TOOL_RESULT_STATUS] == "error"
    assert mapped(tool)[0]["is_error"] == 1
    assert tool.attributes[c.TOOL_ERROR_MESSAGE] == "command failed: exit 1"
    assert tool.status.status_code == StatusCode.ERROR


def test_blocked_maps_to_blocked_with_reason(traced, writer, tools):
    tool_id = tools.log_start({"id": "t", "name": "Bash", "input": {"command": "rm -rf /"}})
    tools.log_blocked(tool_id, "rm -rf outside the workspace")
    [tool] = finish(traced, writer)
    assert tool.attributes[c.TOOL_RESULT_STATUS] == "blocked"
    assert tool.attributes[c.TOOL_BLOCK_REASON] == "rm -rf outside the workspace"
    assert c.TOOL_OUTPUT not in tool.attributes


def test_summaries_are_capped_and_long_output_is_truncated_and_counted(traced, writer, tools):
    long_command = "echo " + "x" * 1000
    long_output = "y" * (redaction.OUTPUT_CAP + 5000)
    before = redaction.stats()["truncated_chars"]
    tool_id = tools.log_start({"id": "t", "name": "Bash", "input": {"command": long_command}})
    tools.log_end(tool_id, {"content": long_output})
    [tool] = finish(traced, writer)
    row, entry = mapped(tool)
    assert row["input_summary"].startswith("echo xxx")
    assert len(row["input_summary"]) == INPUT_SUMMARY_MAX
    assert len(entry["summary"]) <= INPUT_SUMMARY_MAX
    assert len(row["output_summary"]) == OUTPUT_SUMMARY_MAX
    output = tool.attributes[c.TOOL_OUTPUT]
    assert output.startswith("y" * redaction.OUTPUT_CAP)
    assert output.endswith("[truncated 5000 chars]")
    assert redaction.stats()["truncated_chars"] - before >= 5000


def test_secrets_in_inputs_and_outputs_are_redacted(traced, writer, tools):
    tool_id = tools.log_start(
        {
            "id": "t",
            "name": "Bash",
            "input": {"command": "curl -H 'Authorization: Bearer abcdefgh12345678' https://x"},
        }
    )
    tools.log_end(tool_id, {"content": "ok, token: ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaa"})
    [tool] = finish(traced, writer)
    row, entry = mapped(tool)
    for key, text in [
        ("input attribute", tool.attributes[c.TOOL_INPUT]),
        ("input summary", row["input_summary"]),
        ("entry summary", entry["summary"]),
    ]:
        assert "abcdefgh12345678" not in text, key
        assert "[REDACTED]" in text, key
    assert "ghp_aaaa" not in tool.attributes[c.TOOL_OUTPUT]


def test_file_tools_record_path_and_operation(traced, writer, tools, tmp_path):
    existing = tmp_path / "old.txt"
    existing.write_text("x")
    fresh = tmp_path / "new.txt"
    calls = [
        ("Read", {"file_path": str(existing)}, str(existing), "READ"),
        ("Glob", {"pattern": "*.py", "path": str(tmp_path)}, str(tmp_path), "READ"),
        ("Write", {"file_path": str(fresh), "content": "x"}, str(fresh), "CREATE"),
        ("Write", {"file_path": str(existing), "content": "y"}, str(existing), "UPDATE"),
        ("Edit", {"file_path": str(existing), "old_string": "y"}, str(existing), "UPDATE"),
        ("NotebookEdit", {"notebook_path": "nb.ipynb"}, "nb.ipynb", "UPDATE"),
        ("Bash", {"command": "rm -f build/out.js"}, "build/out.js", "DELETE"),
        ("Bash", {"command": "ls -la"}, None, None),
    ]
    for n, (name, tool_input, _, _) in enumerate(calls):
        tools.log_end(tools.log_start({"id": f"t{n}", "name": name, "input": tool_input}), {})
    spans = {s.attributes[c.GEN_AI_TOOL_CALL_ID]: s for s in finish(traced, writer)}
    for n, (name, _, path, operation) in enumerate(calls):
        span = spans[f"t{n}"]
        rows = map_span(span)
        [row] = rows.rows("tool_uses")
        impacts = [(i["file_path"], i["operation"]) for i in rows.rows("task_file_impacts")]
        assert row["file_path"] == path, name
        assert impacts == ([] if path is None else [(path, operation)]), name
        # Created or replaced is the one fact only the producer knows (when the tool starts).
        expected = operation if name == "Write" else None
        assert span.attributes.get(c.FILE_OPERATION) == expected, name


def test_an_input_stored_cut_short_carries_its_summary_and_file_facts(traced, writer, tools):
    """The store cannot read them back out of a capped input, so the producer states them."""
    content = "z" * (redaction.INPUT_CAP + 100)
    tools.log_end(
        tools.log_start(
            {"id": "big", "name": "Write", "input": {"file_path": "out.txt", "content": content}}
        ),
        {},
    )
    [tool] = finish(traced, writer)
    assert json.loads(tool.attributes[c.TOOL_INPUT])["_truncated"] is True
    assert tool.attributes[c.TOOL_INPUT_SUMMARY] == "out.txt"
    assert (tool.attributes[c.FILE_PATH], tool.attributes[c.FILE_OPERATION]) == (
        "out.txt",
        "CREATE",
    )
    rows = map_span(tool)
    [row] = rows.rows("tool_uses")
    assert (row["input_summary"], row["file_path"]) == ("out.txt", "out.txt")
    [impact] = rows.rows("task_file_impacts")
    assert (impact["file_path"], impact["operation"]) == ("out.txt", "CREATE")


def test_tool_category_comes_from_the_conventions(traced, writer, tools):
    names = ["Write", "WebFetch", "mcp__playwright__click", "Task", "my_tool"]
    for n, name in enumerate(names):
        tools.log_end(tools.log_start({"id": f"t{n}", "name": name, "input": {}}), {})
    spans = {s.attributes[c.GEN_AI_TOOL_NAME]: s for s in finish(traced, writer)}
    for name in names:
        assert spans[name].attributes[c.TOOL_CATEGORY] == c.tool_category(name)


def test_parallel_tool_uses_may_be_open_at_once(traced, writer, tools):
    writer.write({"entry_type": "task_start", "task_id": "T1"})
    ids = [tools.log_start({"id": f"p{n}", "name": "Read", "input": {}}) for n in range(3)]
    assert set(writer._runtime.open_tools) == set(ids)
    for n, tool_id in reversed(list(enumerate(ids))):
        tools.log_end(tool_id, {"content": f"r{n}"})
    writer.write({"entry_type": "task_end", "task_id": "T1"})
    spans = {s.attributes[c.GEN_AI_TOOL_CALL_ID]: s for s in finish(traced, writer)}
    task = traced.one(c.KIND_TASK)
    for n, tool_id in enumerate(ids):
        assert spans[tool_id].attributes[c.TOOL_OUTPUT] == f"r{n}"
        assert parent_id(spans[tool_id]) == span_id(task)
    assert traced.events("obs.error") == []


def test_tool_inside_a_skill_is_within_it(traced, writer, tools):
    skills = SkillTracer(writer, tools)
    trace_id = skills.trace_start({"skill_name": "code-generation"})
    tools.log_end(tools.log_start({"id": "in", "name": "Edit", "input": {}}), {})
    skills.trace_end(trace_id, "success")
    tools.log_end(tools.log_start({"id": "out", "name": "Edit", "input": {}}), {})
    spans = {s.attributes[c.GEN_AI_TOOL_CALL_ID]: s for s in finish(traced, writer)}
    skill = traced.one(c.KIND_SKILL)
    assert spans["in"].attributes[c.TOOL_WITHIN_SKILL] == trace_id
    assert spans["in"].attributes[c.SKILL_TRACE_ID] == trace_id
    assert parent_id(spans["in"]) == span_id(skill)
    assert c.TOOL_WITHIN_SKILL not in spans["out"].attributes


def test_unknown_tool_use_id_is_recorded_not_raised(traced, writer, tools):
    tools.log_end("never-started", {"content": "x"})
    tools.log_blocked("also-never", "policy")
    tool_id = tools.log_start({"id": "once", "name": "Read", "input": {}})
    tools.log_end(tool_id, {})
    tools.log_end(tool_id, {})  # a second end for the same id
    finish(traced, writer)
    errors = [json.loads(a[c.ENTRY_DETAILS]) for _, a in traced.events("obs.error")]
    assert [e["error_type"] for e in errors] == ["unknown_tool_use"] * 3
    assert "never-started" in errors[0]["message"] and "also-never" in errors[1]["message"]
    assert writer.stats["unbalanced"] == 3


def test_block_without_a_name_is_refused(writer, tools):
    with pytest.raises(ValueError, match="tool name"):
        tools.log_start({"id": "x", "input": {}})
