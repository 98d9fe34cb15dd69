"""``otel-obs prune`` against a writer's batch: how long can a prune hold writers off?

Measured in one run, on one store of ``--executions`` executions (1,000 by default,
each a copy of one execution of ``--tool-uses`` tool uses with its entries, tasks
and file impacts, made by the real producers):

(a) the writer's batch: a store writer (the thread writer, in this process) writes
    batches of ``--batch`` tool uses into the same store; the median and longest
    time of one batch's write transaction;
(b) the prune of ``--prune`` executions (100 by default) while that writer runs:
    the longest single delete transaction (what a writer can wait for), the prune's
    whole time, and the writer's longest batch during the prune.

Targets: the longest delete transaction is no longer than one writer batch; a
writer batch during the prune is delayed by no more than one batch (at most twice
its longest before); nothing the writer wrote is lost. The machine's
noise moves all three: read them from a quiet run.

    python benchmarks/bench_prune.py [--executions 1000] [--tool-uses 200] [--prune 100]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from otel_obs import ToolUseLogger, TranscriptWriter
from otel_obs.cli.prune import prune
from otel_obs.config import get_pipeline
from otel_obs.exporters.schema import TABLES
from otel_obs.propagation import execution_scope


def template(db: Path, transcripts: Path, tool_uses: int) -> None:
    """One execution made by the real producers: the template every copy repeats."""
    pipeline = get_pipeline(db, transcripts)
    try:
        with execution_scope("tpl", pipeline=pipeline):
            writer = TranscriptWriter(None, "agent-1", pipeline=pipeline)
            logger = ToolUseLogger(writer)
            with writer.task("T1", "task", action="UPDATE", file="a.py"):
                for n in range(tool_uses):
                    block = {"id": f"c{n}", "name": "Read", "input": {"file_path": f"f{n}.py"}}
                    tool_id = logger.log_start(block)
                    logger.log_end(tool_id, {"tool_use_id": f"c{n}", "content": "x"})
            writer.close()
        pipeline.flush(30)
    finally:
        pipeline.shutdown()


def copy_template(db: Path, executions: int) -> None:
    """``executions`` copies of the template, older than anything the writer adds."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        for table in TABLES:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            key = (
                "id"
                if table == "task_list_execution_runs"
                else "execution_id"
                if "execution_id" in columns
                else None
            )
            if key is None:
                continue
            picked = ", ".join(
                "?" if c == key else ("'2020-01-01T00:00:00.000000Z'" if c == "started_at" else c)
                for c in columns
            )
            conn.execute("BEGIN")
            for n in range(executions):
                conn.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"SELECT {picked} FROM {table} WHERE {key} = 'tpl'",
                    (f"old-{n:05d}",),
                )
            conn.execute("COMMIT")
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--tool-uses", type=int, default=200)
    parser.add_argument("--prune", type=int, default=100)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="otel-obs-bench-prune-"))
    db, transcripts = folder / "obs.db", folder / "transcripts"
    template(db, transcripts, args.tool_uses)
    copy_template(db, args.executions)
    print(f"store: {args.executions} executions of {args.tool_uses} tool uses", file=sys.stderr)

    batches: list[tuple[float, float]] = []  # (start, seconds) of each batch flush
    stop = threading.Event()
    written = [0]

    def write() -> None:
        pipeline = get_pipeline(db, transcripts, writer="thread")
        try:
            with execution_scope("live", pipeline=pipeline):
                writer = TranscriptWriter(None, "agent-live", pipeline=pipeline)
                logger = ToolUseLogger(writer)
                n = 0
                while not stop.is_set():
                    for _ in range(args.batch):
                        block = {"id": f"l{n}", "name": "Bash", "input": {"command": "ls"}}
                        logger.log_end(logger.log_start(block), {"tool_use_id": f"l{n}"})
                        n += 1
                    began = time.perf_counter()
                    pipeline.flush(60)
                    batches.append((began, time.perf_counter() - began))
                writer.close()
                written[0] = n
            pipeline.flush(60)
        finally:
            pipeline.shutdown()

    worker = threading.Thread(target=write)
    worker.start()
    time.sleep(3.0)  # the writer's own batches first: the baseline
    pruned_from = time.perf_counter()
    keep = args.executions - args.prune + 2  # the template and the live run stay too
    result = prune(db, transcripts, keep_last=keep)
    pruned_to = time.perf_counter()
    time.sleep(1.0)
    stop.set()
    worker.join(120)

    before = [s for began, s in batches if began < pruned_from]
    during = [s for began, s in batches if pruned_from <= began <= pruned_to]
    conn = sqlite3.connect(db)
    stored = conn.execute("SELECT count(*) FROM tool_uses WHERE execution_id = 'live'").fetchone()
    conn.close()
    print(f"{'measure':<44} {'ms':>10}")
    print("-" * 56)
    print(
        f"{'writer batch, median (before the prune)':<44} {statistics.median(before) * 1e3:>10.1f}"
    )
    print(f"{'writer batch, longest (before the prune)':<44} {max(before) * 1e3:>10.1f}")
    print(f"{'prune: longest delete transaction':<44} {result.longest_lock_ms:>10.1f}")
    print(f"{'prune: whole run':<44} {(pruned_to - pruned_from) * 1e3:>10.1f}")
    longest_during = max(during) * 1e3 if during else float("nan")
    print(f"{'writer batch, longest during the prune':<44} {longest_during:>10.1f}")
    print(
        f"\nremoved {len(result.executions)} executions, {sum(result.rows_by_table.values())} rows"
    )
    ok_lock = result.longest_lock_ms <= statistics.median(before) * 1e3
    # "Does not block writers for more than one batch": a writer's batch during the prune
    # is delayed by no more than one batch, so it takes at most twice its longest before
    # (the delay holds one delete and SQLite's busy-handler sleep, up to 100 ms a step).
    bound = 2 * max(before) * 1e3
    ok_wait = not during or longest_during <= bound
    ok_lost = stored[0] == written[0]
    print(
        f"{'PASS' if ok_lock else 'FAIL'}  longest delete ≤ one writer batch "
        f"({result.longest_lock_ms:.1f} ms vs {statistics.median(before) * 1e3:.1f} ms)"
    )
    print(
        f"{'PASS' if ok_wait else 'FAIL'}  a batch during the prune is delayed by one batch "
        f"at most ({longest_during:.1f} ms vs {bound:.1f} ms)"
    )
    print(
        f"{'PASS' if ok_lost else 'FAIL'}  nothing the writer wrote lost ({stored[0]}/{written[0]})"
    )
    return 0 if ok_lock and ok_wait and ok_lost else 1


if __name__ == "__main__":
    raise SystemExit(main())
