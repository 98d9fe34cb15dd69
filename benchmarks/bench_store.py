"""The store against its floor: agent-thread cost and end-to-end throughput of tool uses.

Measured in one run (medians of repeated short runs):

(a) a bare OpenTelemetry span start/end pair with a BatchSpanProcessor and a
    no-op exporter: µs per pair, the yardstick for the agent's cost;
(b) the raw floor: the same rows (one ``tool_uses`` and one
    ``transcript_entries`` row per tool use) inserted with ``executemany`` into
    the same schema and indexes, WAL and ``synchronous=NORMAL``;
(c) end to end through the store (``get_pipeline`` on a temporary database):
    per tool use, the agent thread's cost, and throughput until ``flush``
    returns. Driven two ways: ``producers`` (``ToolUseLogger.log_start`` /
    ``log_end`` with a ``TranscriptWriter``) and ``spans`` (spans with the same
    attributes started directly, isolating the store from the producers' own
    cost);
(d) the writer alone: tool-use spans queued up front, time until flushed.

Targets: agent-thread cost ≤ 3× the bare pair; end-to-end throughput ≥ 50% of
the raw floor.

    python benchmarks/bench_store.py [--n 20000] [--big 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from otel_obs import conventions as c
from otel_obs.config import attach, get_pipeline
from otel_obs.exporters import schema
from otel_obs.exporters.mapping import map_span_end, map_span_start
from otel_obs.exporters.store import Store
from otel_obs.tool_use_logger import ToolUseLogger
from otel_obs.transcript_writer import TranscriptWriter

BLOCK_INPUT = {"file_path": "src/components/Button.tsx", "offset": 0, "limit": 200}
RESULT_TEXT = "export function Button() { return null }\n" * 5


#: The attributes ToolUseLogger puts on a Read tool span (without the per-call ids).
TOOL_ATTRS = {
    c.KIND: c.KIND_TOOL,
    c.EXECUTION_ID: "bench",
    c.INSTANCE_ID: "agent-1",
    c.TASK_ID: "T1",
    c.GEN_AI_OPERATION_NAME: "execute_tool",
    c.GEN_AI_TOOL_NAME: "Read",
    c.TOOL_CATEGORY: "file_read",
    c.TOOL_INPUT: json.dumps(BLOCK_INPUT),
    c.TOOL_INPUT_SUMMARY: "src/components/Button.tsx",
    c.ENTRY_TYPE: "tool_use",
    c.ENTRY_SUMMARY: "Read: src/components/Button.tsx",
    c.ENTRY_DETAILS: '{"tool": "Read"}',
    c.FILE_PATH: BLOCK_INPUT["file_path"],
    c.FILE_OPERATION: "READ",
}


def tool_span(tracer: Tracer, i: int) -> None:
    """One tool use as a producer-shaped span: start with the call's ids, end with its result."""
    span = tracer.start_span(
        "execute_tool Read",
        attributes={**TOOL_ATTRS, c.GEN_AI_TOOL_CALL_ID: f"toolu_{i}", c.ENTRY_ID: f"e{i}"},
    )
    span.set_attribute(c.TOOL_RESULT_STATUS, "done")
    span.set_attribute(c.TOOL_OUTPUT, RESULT_TEXT)
    span.end()


class DropExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def median_of(fn: Callable[[], float], repeat: int) -> float:
    return statistics.median(fn() for _ in range(repeat))


# (a) ------------------------------------------------------------------------


def bare_pair_us(n: int) -> float:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DropExporter(), max_queue_size=1 << 20))
    tracer = provider.get_tracer("bench")
    for _ in range(1000):
        tracer.start_span("execute_tool Read").end()
    started = time.perf_counter()
    for _ in range(n):
        tracer.start_span("execute_tool Read").end()
    elapsed = time.perf_counter() - started
    provider.shutdown()
    return elapsed / n * 1e6


# (b) ------------------------------------------------------------------------


def floor_tool_uses_per_s(n: int, batch: int = 5000) -> float:
    """Pre-built rows into the real schema with executemany, one transaction per batch."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        schema.migrate(conn)
        ts = "2026-01-02T03:04:05.123456Z"
        tools, entries = [], []
        for i in range(n):
            tool_id, entry_id = f"toolu_{uuid.uuid4().hex}", uuid.uuid4().hex
            tools.append(
                (tool_id, "bench", entry_id, "agent-1", None, "T1", "Read", "file_read",
                 json.dumps(BLOCK_INPUT), "Read src/components/Button.tsx", RESULT_TEXT,
                 RESULT_TEXT[:500], "done", 0, 0, None, None, BLOCK_INPUT["file_path"], None,
                 ts, ts, 0.1, "0" * 32, "0" * 16)
            )  # fmt: skip
            entries.append(
                (entry_id, "bench", i + 1, ts, "agent-1", None, "T1", "tool_use", "action",
                 "Read: src/components/Button.tsx", '{"tool": "Read"}', None, None, tool_id,
                 None, None, "0" * 32, "0" * 16)
            )  # fmt: skip
        tool_sql = f"INSERT INTO tool_uses VALUES ({','.join('?' * 24)})"
        entry_sql = f"INSERT INTO transcript_entries VALUES ({','.join('?' * 18)})"
        started = time.perf_counter()
        for i in range(0, n, batch):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(tool_sql, tools[i : i + batch])
            conn.executemany(entry_sql, entries[i : i + batch])
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        conn.close()
    return n / elapsed


# (c) ------------------------------------------------------------------------


def through_store(n: int, driver: str, writer_idle: bool = False) -> dict[str, float]:
    """Agent-thread µs per tool use, and tool uses per second until flushed.

    ``writer_idle`` holds the writer back until the loop is done (a long flush
    interval and a queue big enough for all): the agent's cost without the
    writer thread competing for the GIL.
    """
    with tempfile.TemporaryDirectory() as tmp:
        if writer_idle:
            store = Store(
                Path(tmp) / "obs.db",
                Path(tmp) / "transcripts",
                flush_interval_ms=600_000,
                batch_items=4 * n,
                queue_capacity=4 * n,
            )
            pipeline = attach(TracerProvider(), store)
        else:
            pipeline = get_pipeline(Path(tmp) / "obs.db", Path(tmp) / "transcripts")
        pipeline.flush()
        writer = TranscriptWriter("bench", "agent-1", pipeline=pipeline)
        writer.write({"entry_type": "task_start", "task_id": "T1"})
        pipeline.flush()
        if driver == "producers":
            tools = ToolUseLogger(writer)

            def one(i: int) -> None:
                tool_id = tools.log_start(
                    {"id": f"toolu_{i}", "name": "Read", "input": BLOCK_INPUT}
                )
                tools.log_end(tool_id, {"content": RESULT_TEXT, "is_error": False})

        else:
            tracer = pipeline.tracer

            def one(i: int) -> None:
                tool_span(tracer, i)

        started = time.perf_counter()
        for i in range(n):
            one(i)
        agent_s = time.perf_counter() - started
        ok = pipeline.flush(600)
        total_s = time.perf_counter() - started
        stats = pipeline.store.stats()
        stored = sqlite3.connect(pipeline.db_path).execute("SELECT count(*) FROM tool_uses")
        count = stored.fetchone()[0]
        writer.close()
        pipeline.shutdown()
    return {
        "agent_us": agent_s / n * 1e6,
        "per_s": n / total_s,
        "stored": count,
        "dropped": stats["queue_overflow"],
        "flushed": ok,
    }


# (d) ------------------------------------------------------------------------


def writer_alone_per_s(n: int) -> float:
    """Spans already recorded, queued at once: how fast the writer maps and stores them."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    for i in range(n):
        tool_span(tracer, i)
    spans = memory.get_finished_spans()
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = get_pipeline(Path(tmp) / "obs.db", Path(tmp) / "transcripts")
        pipeline.flush()
        store = pipeline.store
        started = time.perf_counter()
        for span in spans:
            store.put((map_span_start, span), block=True)
            store.put((map_span_end, span), block=True)
        store.flush(600)
        elapsed = time.perf_counter() - started
        pipeline.shutdown()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="tool uses per short run")
    parser.add_argument(
        "--big", type=int, default=200_000, help="tool uses in the long run (0: skip)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    bare = median_of(lambda: bare_pair_us(args.n), args.repeat)
    floor = median_of(lambda: floor_tool_uses_per_s(args.n), args.repeat)
    writer_only = median_of(lambda: writer_alone_per_s(args.n), args.repeat)
    print(f"(a) bare span pair, BatchSpanProcessor: {bare:8.2f} µs")
    print(f"(b) raw floor: {floor:10.0f} tool uses/s  ({2 * floor:.0f} rows/s)")
    print(f"(d) writer alone (queued spans → flushed): {writer_only:8.0f} tool uses/s"
          f"  = {writer_only / floor:.0%} of floor")  # fmt: skip
    print()
    header = (
        f"{'driver':<10} {'tool uses':>9} {'agent µs':>9} {'× bare':>7} {'tool uses/s':>12}"
        f" {'% floor':>8} {'stored':>8} {'dropped':>8}"
    )
    print(header)
    print("-" * len(header))
    plan = [
        ("spans", args.n, args.repeat, False),
        ("spans", args.big, 1, False),
        ("producers", args.n, args.repeat, False),
        ("producers", args.big, 1, False),
        ("spans*", args.n, args.repeat, True),
        ("producers*", args.n, args.repeat, True),
    ]
    for driver, n, repeat, idle in plan:
        if n:
            runs = [through_store(n, driver.rstrip("*"), idle) for _ in range(repeat)]
            agent = statistics.median(r["agent_us"] for r in runs)
            per_s = statistics.median(r["per_s"] for r in runs)
            print(
                f"{driver:<10} {n:>9} {agent:>9.2f} {agent / bare:>7.2f} {per_s:>12.0f}"
                f" {per_s / floor:>8.0%} {runs[-1]['stored']:>8} {runs[-1]['dropped']:>8}"
            )
    print("* writer held back until the loop ends: agent cost without GIL contention")
    print()
    print("targets: agent µs ≤ 3.00 × bare; tool uses/s ≥ 50% of floor")


if __name__ == "__main__":
    main()
