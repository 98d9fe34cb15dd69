"""The store against its floor: agent-thread cost and end-to-end throughput of tool uses.

Measured in one run (medians of repeated runs where it says so):

(a) a bare OpenTelemetry span start/end pair with a BatchSpanProcessor and a
    no-op exporter: µs per pair, the yardstick for the agent's cost, measured
    just before each run (× bare is the median of the runs' own ratios);
(b) the raw floor, for each size: the same rows the store wrote for the tool
    uses (each tool use's ``tool_uses`` row, its ``tool_use`` entry in
    ``transcript_entries`` and, a Read being a file tool, its
    ``task_file_impacts`` row), read back from the first run of that size and
    inserted with ``executemany`` into a fresh file of the same schema and
    indexes, WAL and ``synchronous=NORMAL``, 5,000 tool uses a transaction.
    Measured at each size because a larger file costs SQLite more per row.
    Also printed, for information: the same floor "tuned" with the writer
    process's own SQLite settings (a 64 MiB page cache, checkpoints on a thread
    of their own), against which the ratio counts only the store's own work;
(c) end to end through the store, for each writer mode (``thread``: mapping
    and writing on a thread of the agent's process; ``process``: in a writer
    process), 20,000 and 200,000 tool uses through ``ToolUseLogger.log_start``
    / ``log_end``: the agent thread's cost per tool use as wall time and as
    thread CPU time (``time.thread_time``: what the producers themselves
    spend, without waiting for the GIL), and tool uses per second until
    ``flush`` returns, with what was stored and dropped.

Targets: (T1) agent-thread cost ≤ 2× the bare pair with the writer process (the
default), ≤ 3× with the writer on a thread of the agent's process; (T2) end-to-end
throughput ≥ 50% of the raw floor; (T3) nothing dropped in the long run.

``--engines sqlite,postgresql --pg-url URL`` runs (c) on a PostgreSQL store
too (a fresh database per run on the server of URL), beside SQLite in the
same run, against the same SQLite floor; for several writers on one
PostgreSQL store see ``bench_engines.py``.

    python benchmarks/bench_store.py [--n 20000] [--big 200000] [--repeat 5]
        [--engines sqlite[,postgresql]] [--pg-url postgresql://…/postgres]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
from otel_obs.exporters.engines.sqlite import DEDICATED_CACHE_KIB
from otel_obs.exporters.store_choice import open_store
from otel_obs.exporters.wal_checkpoint import Checkpointer
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


#: T1's limit of the agent's cost, × the bare pair, by writer mode.
T1_LIMITS = {"process": 2.0, "thread": 3.0}


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


#: Where a tool use's rows are: each table it writes a row into, and which rows are its.
TOOL_USE_ROWS = {
    "tool_uses": "1",
    "transcript_entries": "entry_type = 'tool_use'",
    "task_file_impacts": "tool_use_id IS NOT NULL",
}

Rows = dict[str, list[tuple[object, ...]]]


def stored_rows(db_path: Path) -> Rows:
    """The rows the store wrote for its tool uses, table by table, in the order written."""
    conn = sqlite3.connect(db_path)
    try:
        return {
            table: conn.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY rowid").fetchall()
            for table, where in TOOL_USE_ROWS.items()
        }
    finally:
        conn.close()


def floor_tool_uses_per_s(rows: Rows, batch: int = 5000, tuned: bool = False) -> float:
    """The same rows into a fresh file of the same schema and indexes: executemany, one
    transaction per ``batch`` tool uses, WAL and ``synchronous=NORMAL`` as the store.

    ``tuned``: also with the writer process's own SQLite settings (its page cache,
    and WAL checkpoints on a thread of their own instead of inside commits), so
    that the ratio to it counts only the store's own work, not SQLite tuning.
    """
    n = len(rows["tool_uses"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "floor.db"
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        checkpointer = None
        if tuned:
            conn.execute(f"PRAGMA cache_size = -{DEDICATED_CACHE_KIB}")
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            checkpointer = Checkpointer(path, 10_000)
        schema.migrate(conn)
        statements = {
            table: f"INSERT INTO {table} VALUES ({','.join('?' * len(table_rows[0]))})"
            for table, table_rows in rows.items()
            if table_rows
        }
        started = time.perf_counter()
        for i in range(0, n, batch):
            conn.execute("BEGIN IMMEDIATE")
            written = 0
            for table, sql in statements.items():
                part = rows[table][i : i + batch]
                conn.executemany(sql, part)
                written += len(part)
            conn.execute("COMMIT")
            if checkpointer is not None:
                checkpointer.wrote(written)
                if checkpointer.behind():  # as the store does when the thread falls behind
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    checkpointer.caught_up()
        elapsed = time.perf_counter() - started
        if checkpointer is not None:
            checkpointer.close()
        conn.close()
    return n / elapsed


# (c) ------------------------------------------------------------------------


def fresh_pg_database(server_url: str) -> str:
    """A new, empty C-collation database on the server of ``server_url``: its URL."""
    import uuid

    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'")
    return server_url.rsplit("/", 1)[0] + "/" + name


def count_tool_uses(location: Any) -> int:
    if isinstance(location, str) and location.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(location) as conn:
            return int(conn.execute("SELECT count(*) FROM tool_uses").fetchone()[0])
    conn = sqlite3.connect(location)
    try:
        return int(conn.execute("SELECT count(*) FROM tool_uses").fetchone()[0])
    finally:
        conn.close()


def through_store(
    n: int, writer: str, keep_rows: bool = False, pg_url: str | None = None
) -> dict[str, Any]:
    """Agent-thread µs per tool use (wall and CPU), and tool uses per second until flushed.

    ``keep_rows``: also return the rows stored for the tool uses (the floor's rows).
    ``pg_url``: a PostgreSQL server to store into (a fresh database) instead of SQLite.
    """
    with tempfile.TemporaryDirectory() as tmp:
        location: Any = fresh_pg_database(pg_url) if pg_url else Path(tmp) / "obs.db"
        store = open_store(location, Path(tmp) / "transcripts", writer)
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
        count = count_tool_uses(location)
        rows = stored_rows(pipeline.db_path) if keep_rows and not pg_url else None
        writer_.close()
        pipeline.shutdown()
    return {
        "agent_us": agent_s / n * 1e6,
        "cpu_us": cpu_s / n * 1e6,
        "per_s": n / total_s,
        "stored": count,
        "dropped": stats["queue_overflow"],
        "flushed": ok,
        "rows": rows,
    }


def measured_run(n: int, writer: str, keep_rows: bool, pg_url: str | None = None) -> dict[str, Any]:
    """One run through the store, with the bare pair measured just before it.

    The machine's speed drifts within minutes: each run's cost is taken as a
    ratio to a bare pair measured next to it, and the ratios' median reported.
    """
    bare = bare_pair_us(min(n, 50_000))
    run = through_store(n, writer, keep_rows, pg_url)
    return {**run, "bare_us": bare}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="tool uses per short run")
    parser.add_argument(
        "--big", type=int, default=200_000, help="tool uses in the long run (0: skip)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs of the short size")
    parser.add_argument("--writers", default="process,thread", help="writer modes to run")
    parser.add_argument("--engines", default="sqlite", help="sqlite and/or postgresql")
    parser.add_argument("--pg-url", help="a PostgreSQL server (for --engines postgresql)")
    args = parser.parse_args()
    engines = args.engines.split(",")
    if "postgresql" in engines and not args.pg_url:
        parser.error("--engines postgresql needs --pg-url")
    if engines[0] != "sqlite":
        parser.error("--engines must start with sqlite (its run gives the floor's rows)")

    sizes = [(n, repeat) for n, repeat in ((args.n, args.repeat), (args.big, 1)) if n]
    results: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    floors: dict[int, float] = {}
    tuned: dict[int, float] = {}
    for n, repeat in sizes:
        for engine, writer in [(e, w) for w in args.writers.split(",") for e in engines]:
            pg_url = args.pg_url if engine == "postgresql" else None
            results[engine, writer, n] = [
                measured_run(n, writer, n not in floors and i == 0, pg_url) for i in range(repeat)
            ]
            rows = results[engine, writer, n][0].pop("rows")
            if rows is not None:
                floors[n] = statistics.median(
                    floor_tool_uses_per_s(rows) for _ in range(max(3, repeat))
                )
                tuned[n] = statistics.median(
                    floor_tool_uses_per_s(rows, tuned=True) for _ in range(max(3, repeat))
                )
                counts = ", ".join(f"{len(r)} {t}" for t, r in rows.items())
                print(f"(b) raw floor, {n} tool uses ({counts}): {floors[n]:.0f} tool uses/s")
                print(f"    tuned (the writer's cache, checkpoints on a thread): {tuned[n]:.0f}/s")
                del rows
    print()
    header = (
        f"{'engine':<10} {'writer':<8} {'tool uses':>9} {'bare µs':>8} {'agent µs':>9}"
        f" {'× bare':>7} {'cpu µs':>7} {'× bare':>7} {'tool uses/s':>12} {'% floor':>8}"
        f" {'% tuned':>8} {'stored':>8} {'dropped':>8}"
    )
    print(header)
    print("-" * len(header))
    verdicts: list[tuple[str, bool]] = []
    for (engine, writer, n), runs in results.items():
        floor = floors[n]
        bare = statistics.median(r["bare_us"] for r in runs)
        agent = statistics.median(r["agent_us"] for r in runs)
        wall_x = statistics.median(r["agent_us"] / r["bare_us"] for r in runs)
        cpu = statistics.median(r["cpu_us"] for r in runs)
        cpu_x = statistics.median(r["cpu_us"] / r["bare_us"] for r in runs)
        per_s = statistics.median(r["per_s"] for r in runs)
        stored = min(r["stored"] for r in runs)
        dropped = max(r["dropped"] for r in runs)
        print(
            f"{engine:<10} {writer:<8} {n:>9} {bare:>8.2f} {agent:>9.2f} {wall_x:>7.2f} {cpu:>7.2f}"
            f" {cpu_x:>7.2f} {per_s:>12.0f} {per_s / floor:>8.0%} {per_s / tuned[n]:>8.0%}"
            f" {stored:>8} {dropped:>8}"
        )
        tag = f"{engine} {writer} {n}"
        most = T1_LIMITS[writer]
        for what, x in (("wall", wall_x), ("CPU", cpu_x)):
            verdicts.append((f"T1 {tag}: agent {what} ≤ {most:.2f}× bare ({x:.2f}×)", x <= most))
        verdicts.append((f"T2 {tag}: ≥ 50% of floor ({per_s / floor:.0%}; of the tuned floor"
                         f" {per_s / tuned[n]:.0%})", per_s >= 0.5 * floor))  # fmt: skip
        if n == args.big:
            verdicts.append((f"T3 {tag}: nothing dropped, all stored ({stored}/{n})",
                             dropped == 0 and stored == n))  # fmt: skip
    print()
    for text, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")


if __name__ == "__main__":
    main()
