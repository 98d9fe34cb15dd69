"""TranscriptWriter's public surface is the spec's API and its documented extras, nothing
more: the runtime the producers share is private (``otel_obs._producer_runtime``),
reached through one accessor, ``writer._runtime``."""

from __future__ import annotations

import inspect

import otel_obs
from otel_obs import conventions as c
from otel_obs._producer_runtime import ProducerRuntime
from otel_obs.assertion_recorder import AssertionRecorder
from otel_obs.skill_tracer import SkillTracer
from otel_obs.tool_use_logger import ToolUseLogger
from otel_obs.transcript_writer import TranscriptWriter

#: The spec's interface (seed: class TranscriptWriter).
SPEC_METHODS = {"write", "flush", "close"}
#: Documented extras: the context managers (docs/producers.md).
DOCUMENTED_METHODS = {"task", "phase"}
#: What a writer was made with, and ``stats`` (docs/reliability.md, docs/producers.md).
ATTRIBUTES = {"execution_id", "instance_id", "wave_number", "task_list_id", "pipeline", "stats"}


def public(names) -> set[str]:
    return {name for name in names if not name.startswith("_")}


def test_the_class_offers_the_spec_api_and_the_context_managers_only():
    assert public(dir(TranscriptWriter)) == SPEC_METHODS | DOCUMENTED_METHODS
    # ``with TranscriptWriter(...) as writer:`` closes it.
    assert callable(TranscriptWriter.__enter__) and callable(TranscriptWriter.__exit__)
    assert list(inspect.signature(TranscriptWriter.write).parameters) == ["self", "entry"]
    assert list(inspect.signature(TranscriptWriter.flush).parameters) == ["self"]
    assert list(inspect.signature(TranscriptWriter.close).parameters) == ["self"]


def test_a_writer_adds_only_its_documented_attributes(writer):
    assert public(dir(writer)) == SPEC_METHODS | DOCUMENTED_METHODS | ATTRIBUTES
    assert (writer.execution_id, writer.instance_id) == ("exec-1", "agent-1")
    assert (writer.wave_number, writer.task_list_id) == (None, None)


def test_stats_are_the_runtime_counts_live(writer):
    writer.close()
    writer.write({"entry_type": "decision", "summary": "late"})
    assert writer.stats["dropped_after_close"] == 1
    assert writer.stats is writer._runtime.stats


def test_the_producers_share_the_writer_runtime_through_one_private_accessor(traced, writer):
    runtime = writer._runtime
    assert isinstance(runtime, ProducerRuntime)
    tools = ToolUseLogger(writer)
    skills = SkillTracer(writer, tools)
    recorder = AssertionRecorder(writer, "exec-1")
    assert tools._runtime is skills._runtime is recorder._runtime is runtime
    with writer.task("T1"):
        tool_id = tools.log_start({"id": "t1", "name": "Read", "input": {}})
        assert runtime.tool_is_open(tool_id)
        assert runtime.current_task_id == "T1"
        tools.log_end(tool_id, {"content": "ok"})
    writer.close()
    assert runtime.closed and runtime.task_outcomes == {"T1": "completed"}
    assert traced.one(c.KIND_TOOL).attributes[c.TASK_ID] == "T1"


def test_the_runtime_is_not_exported():
    assert not hasattr(otel_obs, "ProducerRuntime")
    assert "ProducerRuntime" not in getattr(otel_obs, "__all__", ())
