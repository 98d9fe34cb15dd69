"""Every producer used after close() behaves one way: nothing written, nothing raised,
each call counted in ``stats["dropped_after_close"]``."""

from __future__ import annotations

from producer_support import Traced

from otel_obs import conventions as c
from otel_obs.assertion_recorder import AssertionRecorder
from otel_obs.skill_tracer import SkillTracer
from otel_obs.tool_use_logger import ToolUseLogger
from otel_obs.transcript_writer import TranscriptWriter


def test_every_producer_after_close_is_dropped_and_counted(traced: Traced, tmp_path):
    writer = TranscriptWriter("exec-1", "agent-1", pipeline=traced.pipeline)
    tools = ToolUseLogger(writer)
    skills = SkillTracer(writer, tools)
    recorder = AssertionRecorder(writer, "exec-1", cwd=tmp_path)
    writer.close()
    spans_at_close = len(traced.spans())
    events_at_close = len(traced.sink.events)

    writer.write({"entry_type": "decision"})  # 1
    tool_id = tools.log_start({"id": "t1", "name": "Bash", "input": {"command": "ls"}})  # 2
    assert tool_id == "t1"
    tools.log_end(tool_id, {"content": "ok"})  # 3
    tools.log_blocked(tools.log_start({"name": "Bash", "input": {}}), "no")  # 4, 5
    trace_id = skills.trace_start({"skill_name": "codegen"})  # 6
    skills.trace_end(trace_id, "success")  # 7
    chain_id = recorder.start_chain("T1", "late chain")  # 8
    result = recorder.assert_custom("T1", "x", "runs", "true")  # 9 (the check still runs)
    verdict = recorder.end_chain(chain_id)
    writer._runtime.record_error("late", "late_error")  # 10
    with writer.task("T2"):  # 11 (start); its end finds no open task and is not written
        pass

    assert result.result == "pass"
    assert (verdict.overall_result, verdict.pass_count) == ("pass", 1)
    assert writer.stats["dropped_after_close"] == 11
    assert writer.stats["unbalanced"] == 0
    assert len(traced.spans()) == spans_at_close
    assert len(traced.sink.events) == events_at_close
    assert all(s.attributes.get(c.KIND) != c.KIND_CHAIN for s in traced.spans())
