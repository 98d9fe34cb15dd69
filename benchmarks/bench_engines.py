"""Writers on one store: SQLite's single writer against PostgreSQL with one and several.

Each writer is an agent process (the real producers, a writer process of its
own) logging its share of the tool uses into one store, all started together;
the figure is tool uses stored per second, from the start until the last
writer's ``flush`` returned. Configurations alternate within each round and
the table shows medians over the rounds, and each configuration's ratio to
SQLite with one writer (the target: PostgreSQL with 4 writers at least 1.0).

    python benchmarks/bench_engines.py --pg-url postgresql://USER:PW@127.0.0.1:PORT/postgres
        [--n 40000] [--rounds 3] [--writers 1,4]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_store import count_tool_uses, fresh_pg_database

BLOCK_INPUT = {"file_path": "src/components/Button.tsx", "offset": 0, "limit": 200}
RESULT = {"content": "export function Button() { return null }\n" * 5, "is_error": False}


def child(location: str, transcripts: str, execution: str, n: int, go: str) -> None:
    """One agent: n tool uses into ``location``, then flush; prints its own timings."""
    import os

    os.environ["OTEL_OBS_WRITER"] = "process"
    from otel_obs import ToolUseLogger, TranscriptWriter

    writer = TranscriptWriter(execution, "agent", db_path=location, transcripts_dir=transcripts)
    writer.write({"entry_type": "task_start", "task_id": "T1"})
    writer.flush()
    tools = ToolUseLogger(writer)
    Path(go + ".ready." + execution).touch()
    while not Path(go).exists():
        time.sleep(0.001)
    started = time.perf_counter()
    for i in range(n):
        tools.log_end(
            tools.log_start({"id": f"t{i}", "name": "Read", "input": BLOCK_INPUT}), RESULT
        )
    writer.flush()
    print(json.dumps({"seconds": time.perf_counter() - started}), flush=True)
    writer.close()


def run(engine: str, writers: int, n: int, pg_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        location = fresh_pg_database(pg_url) if engine == "postgresql" else f"{tmp}/obs.db"
        go = f"{tmp}/go"
        share = n // writers
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    location,
                    f"{tmp}/t",
                    f"e{k}",
                    str(share),
                    go,
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for k in range(writers)
        ]
        while len(list(Path(tmp).glob("go.ready.*"))) < writers:
            time.sleep(0.01)
        started = time.perf_counter()
        Path(go).touch()
        for proc in procs:
            proc.communicate(timeout=1200)
            assert proc.returncode == 0
        seconds = time.perf_counter() - started
        count = count_tool_uses(location)
    return {"per_s": count / seconds, "stored": count, "expected": share * writers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", required=True, help="a PostgreSQL server (any database)")
    parser.add_argument("--n", type=int, default=40_000, help="tool uses per configuration")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writers", default="1,4", help="writer counts for PostgreSQL")
    args = parser.parse_args()
    configs = [("sqlite", 1)] + [("postgresql", int(w)) for w in args.writers.split(",")]
    results: dict[tuple[str, int], list[dict[str, Any]]] = {c: [] for c in configs}
    for _ in range(args.rounds):
        for engine, writers in configs:
            results[engine, writers].append(run(engine, writers, args.n, args.pg_url))
    base = statistics.median(r["per_s"] for r in results["sqlite", 1])
    print(f"{'engine':<11} {'writers':>7} {'tool uses/s':>12} {'× sqlite 1':>11} {'stored':>14}")
    for (engine, writers), runs in results.items():
        per_s = statistics.median(r["per_s"] for r in runs)
        complete = all(r["stored"] == r["expected"] for r in runs)
        shown = f"{min(r['stored'] for r in runs)}/{runs[0]['expected']}"
        print(
            f"{engine:<11} {writers:>7} {per_s:>12.0f} {per_s / base:>11.2f} {shown:>14}"
            + ("" if complete else "  INCOMPLETE")
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:5], int(sys.argv[5]), sys.argv[6])
    else:
        main()
