"""The store against its floor: agent-thread cost and end-to-end throughput of tool uses.

Measured in one run (medians of repeated runs where it says so):

(a) a bare OpenTelemetry span start/end pair with a BatchSpanProcessor and a
    no-op exporter: µs per pair, the yardstick for the agent's cost;
(b) the raw floor: the same rows (one ``tool_uses`` and one
    ``transcript_entries`` row per tool use) inserted with ``executemany`` into
    the same schema and indexes, WAL and ``synchronous=NORMAL``;
(c) end to end through the store, for each writer mode (``thread``: mapping
    and writing on a thread of the agent's process; ``process``: in a writer
    process), 20,000 and 200,000 tool uses through ``ToolUseLogger.log_start``
    / ``log_end``: the agent thread's cost per tool use as wall time and as
    thread CPU time (``time.thread_time``: what the producers themselves
    spend, without waiting for the GIL), and tool uses per second until
    ``flush`` returns, with what was stored and dropped.

Targets: (T1) agent-thread cost ≤ 3× the bare pair; (T2) end-to-end
throughput ≥ 50% of the raw floor; (T3) nothing dropped in the long run.

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
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Tracer

from otel_obs import conventions as c
from otel_obs.config import attach
from otel_obs.exporters import schema
from otel_obs.exporters.store import Store
from otel_obs.exporters.writer_process import ProcessStore
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


def through_store(n: int, writer: str) -> dict[str, float]:
    """Agent-thread µs per tool use (wall and CPU), and tool uses per second until flushed."""
    with tempfile.TemporaryDirectory() as tmp:
        store_kind = ProcessStore if writer == "process" else Store
        store = store_kind(Path(tmp) / "obs.db", Path(tmp) / "transcripts")
        pipeline = attach(TracerProvider(), store)
        writer_ = TranscriptWriter("bench", "agent-1", pipeline=pipeline)
        writer_.write({"entry_type": "task_start", "task_id": "T1"})
        pipeline.flush()
        tools = ToolUseLogger(writer_)
        log_start, log_end = tools.log_start, tools.log_end
        result = {"content": RESULT_TEXT, "is_error": False}
        started = time.perf_counter()
        cpu_started = time.thread_time()
        for i in range(n):
            log_end(log_start({"id": f"toolu_{i}", "name": "Read", "input": BLOCK_INPUT}), result)
        cpu_s = time.thread_time() - cpu_started
        agent_s = time.perf_counter() - started
        ok = pipeline.flush(600)
        total_s = time.perf_counter() - started
        stats = pipeline.store.stats()
        conn = sqlite3.connect(pipeline.db_path)
        count = conn.execute("SELECT count(*) FROM tool_uses").fetchone()[0]
        conn.close()
        writer_.close()
        pipeline.shutdown()
    return {
        "agent_us": agent_s / n * 1e6,
        "cpu_us": cpu_s / n * 1e6,
        "per_s": n / total_s,
        "stored": count,
        "dropped": stats["queue_overflow"],
        "flushed": ok,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="tool uses per short run")
    parser.add_argument(
        "--big", type=int, default=200_000, help="tool uses in the long run (0: skip)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--writers", default="thread,process", help="writer modes to run")
    args = parser.parse_args()

    bare = median_of(lambda: bare_pair_us(args.n), args.repeat)
    floor = median_of(lambda: floor_tool_uses_per_s(args.n), args.repeat)
    print(f"(a) bare span pair, BatchSpanProcessor: {bare:8.2f} µs")
    print(f"(b) raw floor: {floor:10.0f} tool uses/s  ({2 * floor:.0f} rows/s)")
    print()
    header = (
        f"{'writer':<8} {'tool uses':>9} {'agent µs':>9} {'× bare':>7} {'cpu µs':>7}"
        f" {'× bare':>7} {'tool uses/s':>12} {'% floor':>8} {'stored':>8} {'dropped':>8}"
    )
    print(header)
    print("-" * len(header))
    verdicts: list[tuple[str, bool]] = []
    for writer in args.writers.split(","):
        for n, repeat in ((args.n, args.repeat), (args.big, 1)):
            if not n:
                continue
            runs = [through_store(n, writer) for _ in range(repeat)]
            agent = statistics.median(r["agent_us"] for r in runs)
            cpu = statistics.median(r["cpu_us"] for r in runs)
            per_s = statistics.median(r["per_s"] for r in runs)
            stored = min(r["stored"] for r in runs)
            dropped = max(r["dropped"] for r in runs)
            print(
                f"{writer:<8} {n:>9} {agent:>9.2f} {agent / bare:>7.2f} {cpu:>7.2f}"
                f" {cpu / bare:>7.2f} {per_s:>12.0f} {per_s / floor:>8.0%} {stored:>8}"
                f" {dropped:>8}",
                flush=True,
            )
            tag = f"{writer} {n}"
            verdicts.append((f"T1 {tag}: agent wall ≤ 3.00× bare ({agent / bare:.2f}×)",
                             agent <= 3 * bare))  # fmt: skip
            verdicts.append((f"T1 {tag}: agent CPU ≤ 3.00× bare ({cpu / bare:.2f}×)",
                             cpu <= 3 * bare))  # fmt: skip
            verdicts.append((f"T2 {tag}: ≥ 50% of floor ({per_s / floor:.0%})",
                             per_s >= 0.5 * floor))  # fmt: skip
            if n == args.big:
                verdicts.append((f"T3 {tag}: nothing dropped, all stored ({stored}/{n})",
                                 dropped == 0 and stored == n))  # fmt: skip
    print()
    for text, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")


if __name__ == "__main__":
    main()
