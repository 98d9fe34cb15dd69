"""The writer's open spans: one module, used through methods; the current task per
thread and per asyncio task."""

from __future__ import annotations

import asyncio
import threading

from opentelemetry import trace
from producer_support import Traced, parent_id, span_id

from otel_obs import conventions as c
from otel_obs.span_stack import Frame, SpanStack
from otel_obs.tool_use_logger import ToolUseLogger
from otel_obs.transcript_writer import TranscriptWriter


def make_writer(traced: Traced) -> TranscriptWriter:
    return TranscriptWriter("exec-1", "agent-1", pipeline=traced.pipeline)


def test_open_tools_is_a_view_the_producers_do_not_write_into(traced):
    writer = make_writer(traced)
    tools = ToolUseLogger(writer)
    tool_id = tools.log_start({"id": "t1", "name": "Read", "input": {}})
    view = writer._runtime.open_tools
    view.clear()  # changing the copy changes nothing
    assert writer._runtime.tool_is_open(tool_id)
    assert isinstance(writer._runtime.open_tools[tool_id], Frame)
    tools.log_end(tool_id, {"content": "ok"})
    assert not writer._runtime.tool_is_open(tool_id)
    writer.close()
    assert traced.one(c.KIND_TOOL).attributes[c.TOOL_RESULT_STATUS] == "done"


def test_the_span_stack_is_a_module_of_its_own_used_through_methods(traced):
    import otel_obs.skill_tracer
    import otel_obs.tool_use_logger
    import otel_obs.transcript_writer

    writer = make_writer(traced)
    assert isinstance(writer._runtime._spans, SpanStack)
    assert not hasattr(writer, "_stack")
    for module in (otel_obs.tool_use_logger, otel_obs.skill_tracer, otel_obs.transcript_writer):
        assert module.Frame is Frame
    writer.close()


def run_threads(writer: TranscriptWriter, threads_n: int, per_thread: int) -> None:
    tools = ToolUseLogger(writer)
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with writer.task(f"T{n}", f"task {n}"):
                barrier.wait()
                for i in range(per_thread):
                    tid = tools.log_start(
                        {"id": f"t{n}-{i}", "name": "Read", "input": {"file_path": f"f{n}"}}
                    )
                    writer.write({"entry_type": "validation", "summary": f"{n}-{i}"})
                    tools.log_end(tid, {"content": "ok"})
                barrier.wait()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_four_threads_each_in_its_own_task_keep_their_tool_uses(traced):
    writer = make_writer(traced)
    run_threads(writer, 4, 50)
    writer.close()
    tasks = {s.attributes[c.TASK_ID]: s for s in traced.kind(c.KIND_TASK)}
    assert sorted(tasks) == ["T0", "T1", "T2", "T3"]
    tool_spans = traced.kind(c.KIND_TOOL)
    assert len(tool_spans) == 200
    wrong = [
        s.name
        for s in tool_spans
        if s.attributes[c.TASK_ID] != "T" + s.attributes[c.GEN_AI_TOOL_CALL_ID][1:].split("-")[0]
        or parent_id(s) != span_id(tasks[s.attributes[c.TASK_ID]])
    ]
    assert wrong == []
    events = [a for _, name, a, _ in traced.sink.events if name == "obs.validation"]
    assert len(events) == 200
    assert all(a[c.TASK_ID] == "T" + a[c.ENTRY_SUMMARY].split("-")[0] for a in events)
    assert all(t.attributes[c.TASK_STATUS] == "completed" for t in tasks.values())


def test_asyncio_tasks_each_in_their_own_task(traced):
    writer = make_writer(traced)
    tools = ToolUseLogger(writer)

    async def agent_task(n: int) -> None:
        with writer.task(f"A{n}"):
            for i in range(20):
                tid = tools.log_start({"id": f"a{n}-{i}", "name": "Bash", "input": {}})
                await asyncio.sleep(0)  # let the other tasks run in between
                tools.log_end(tid, {"content": "ok"})
                assert writer._runtime.current_task_id == f"A{n}"

    async def main() -> None:
        with writer.phase("iterate"):
            await asyncio.gather(*(agent_task(n) for n in range(5)))
            assert writer._runtime.current_task_id is None

    asyncio.run(main())
    writer.close()
    tasks = {s.attributes[c.TASK_ID]: s for s in traced.kind(c.KIND_TASK)}
    phase = traced.one(c.KIND_PHASE)
    assert all(parent_id(t) == span_id(phase) for t in tasks.values())
    tool_spans = traced.kind(c.KIND_TOOL)
    assert len(tool_spans) == 100
    for s in tool_spans:
        expected = "A" + s.attributes[c.GEN_AI_TOOL_CALL_ID][1:].split("-")[0]
        assert s.attributes[c.TASK_ID] == expected
        assert parent_id(s) == span_id(tasks[expected])
    assert traced.events("obs.error") == []


def test_a_thread_with_no_task_of_its_own_follows_the_latest_one(traced):
    writer = make_writer(traced)
    tools = ToolUseLogger(writer)
    with writer.task("T1"):
        worker = threading.Thread(
            target=lambda: tools.log_end(
                tools.log_start({"id": "w", "name": "Read", "input": {}}), {}
            )
        )
        worker.start()
        worker.join()
    writer.close()
    assert traced.one(c.KIND_TOOL).attributes[c.TASK_ID] == "T1"


def test_a_task_ended_from_another_thread_is_no_longer_current_in_its_own(traced):
    writer = make_writer(traced)
    writer.write({"entry_type": "phase_start", "details": {"phase": "iterate"}})
    writer.write({"entry_type": "task_start", "task_id": "T1"})
    ender = threading.Thread(
        target=lambda: writer.write({"entry_type": "task_end", "task_id": "T1"})
    )
    ender.start()
    ender.join()
    assert writer._runtime.current_task_id is None
    writer.write({"entry_type": "decision", "summary": "after"})
    writer.write({"entry_type": "phase_end", "details": {"phase": "iterate"}})
    writer.close()
    [(span, attrs)] = traced.events("obs.decision")
    assert span is traced.one(c.KIND_PHASE)
    assert c.TASK_ID not in attrs
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_a_pool_worker_run_in_a_copied_context_joins_that_task(traced):
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    writer = make_writer(traced)
    tools = ToolUseLogger(writer)

    def call_tool(n: int) -> None:
        tools.log_end(tools.log_start({"id": f"p{n}", "name": "Read", "input": {}}), {})

    with ThreadPoolExecutor(2) as pool, writer.task("A"):
        ctx_a = contextvars.copy_context()
        other = threading.Thread(
            target=lambda: writer.write({"entry_type": "task_start", "task_id": "Z"})
        )
        other.start()
        other.join()  # task Z, opened last, in another thread
        pool.submit(ctx_a.run, call_tool, 1).result()
    writer.close()
    assert traced.one(c.KIND_TOOL).attributes[c.TASK_ID] == "A"
