"""Writers on one store: SQLite's single writer against PostgreSQL with one and several.

Two tables, configurations alternated within each round, medians over the
rounds, each configuration's ratio to SQLite with one writer (the target:
PostgreSQL with 4 writers at least 1.0):

- **writes**: what the store takes. Each writer is a writer process (the one
  an agent starts: decoding, mapping, the JSONL spool, the engine) fed the
  frames an agent sent it, recorded once beforehand (the n tool uses split
  over 4 executions; SQLite's one writer gets all four streams). The figure is
  tool uses stored per second from the moment the frames are handed over
  until the last writer has written them all and exited; the agents are not
  running, so the writers and the server have the machine.
- **end to end**: each writer is an agent process (the real producers, a
  writer process of its own) logging its share of the tool uses, all started
  together; the figure is tool uses stored per second until the last writer's
  ``flush`` returned. On a small machine the agents share the cores with the
  writers and the server.

    python benchmarks/bench_engines.py --pg-url postgresql://USER:PW@127.0.0.1:PORT/postgres
        [--n 40000] [--rounds 3] [--writers 1,4] [--tables writes,end-to-end]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_store import count_tool_uses, fresh_pg_database

#: How many executions the recorded frames hold (one stream each).
STREAMS = 4

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
    if go:
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


def record(execution: str, n: int, out: str) -> None:
    """One agent's n tool uses, as the frames its writer process is sent, into ``out``."""
    os.environ["OTEL_OBS_WRITER"] = "process"
    from otel_obs.exporters import process_store
    from otel_obs.exporters.wire import frame

    frames: list[bytes] = []
    original = process_store.ProcessStore._write

    def keep(self: Any, payload: bytes, items: int = 0) -> None:
        frames.append(frame(payload))
        original(self, payload, items)

    process_store.ProcessStore._write = keep  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp:
        child(f"{tmp}/obs.db", f"{tmp}/t", execution, n, "")
    Path(out).write_bytes(b"".join(frames))


def recorded_streams(n: int, folder: str) -> list[bytes]:
    """The frames of n tool uses over :data:`STREAMS` executions (``r0`` …), one stream each."""
    paths = [f"{folder}/r{k}.frames" for k in range(STREAMS)]
    for k, path in enumerate(paths):
        subprocess.run(
            [sys.executable, __file__, "--record", f"r{k}", str(n // STREAMS), path],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return [Path(path).read_bytes() for path in paths]


def split_at_first_flush(stream: bytes) -> tuple[bytes, bytes]:
    """The frames up to the first flush (the agent's start) and the rest."""
    import pickle

    from otel_obs.exporters.wire import HEADER

    at = 0
    while at < len(stream):
        (size,) = HEADER.unpack_from(stream, at)
        payload = stream[at + HEADER.size : at + HEADER.size + size]
        at += HEADER.size + size
        if payload[:1] == b"\x80" and pickle.loads(payload)[0] == "flush":
            return stream[:at], stream[at:]
    raise ValueError("no flush in the recorded stream")


def replay(engine: str, writers: int, streams: list[bytes], pg_url: str, n: int) -> dict[str, Any]:
    """``writers`` writer processes take the recorded streams (shared out in order)."""
    from otel_obs.exporters.wire import FrameReader
    from otel_obs.store_location import CHILD_URL_ENV

    with tempfile.TemporaryDirectory() as tmp:
        location = fresh_pg_database(pg_url) if engine == "postgresql" else f"{tmp}/obs.db"
        shares = [streams[k::writers] for k in range(writers)]
        env = dict(os.environ)
        if engine == "postgresql":
            env[CHILD_URL_ENV] = location
        config = json.dumps(
            {"db": "" if engine == "postgresql" else location, "transcripts": f"{tmp}/t"}
        )
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "otel_obs.exporters.writer_process", config],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
            for _ in range(writers)
        ]
        rests = []
        for proc, share in zip(procs, shares, strict=True):
            start, rest = split_at_first_flush(share[0])
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(start)
            proc.stdin.flush()
            reader = FrameReader(proc.stdout.fileno())
            while True:  # until the writer has written the agent's start
                replies = reader.messages(1)
                if replies is None:
                    raise RuntimeError(f"the {engine} writer process ended before its start")
                if any(reply[0] == "flushed" for reply in replies):
                    break
            rests.append(rest + b"".join(share[1:]))

        def feed(proc: subprocess.Popen[bytes], data: bytes) -> None:
            assert proc.stdin is not None
            proc.stdin.write(data)
            proc.stdin.close()

        feeders = [
            threading.Thread(target=feed, args=(proc, rest))
            for proc, rest in zip(procs, rests, strict=True)
        ]
        drains = [threading.Thread(target=lambda p=p: p.stdout.read()) for p in procs]
        started = time.perf_counter()
        for t in feeders + drains:
            t.start()
        for proc in procs:
            proc.wait(timeout=1200)
            assert proc.returncode == 0
        seconds = time.perf_counter() - started
        for t in feeders + drains:
            t.join()
        count = count_tool_uses(location)
    return {"per_s": count / seconds, "stored": count, "expected": n}


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
    parser.add_argument("--tables", default="writes,end-to-end", help="writes and/or end-to-end")
    args = parser.parse_args()
    n = args.n - args.n % STREAMS
    configs = [("sqlite", 1)] + [("postgresql", int(w)) for w in args.writers.split(",")]
    tables = args.tables.split(",")
    unknown = set(tables) - {"writes", "end-to-end"}
    if unknown:
        parser.error(f"--tables: unknown {', '.join(sorted(unknown))}")
    results = {(t, c): [] for t in tables for c in configs}  # type: dict[tuple[str, tuple[str, int]], list[dict[str, Any]]]
    with tempfile.TemporaryDirectory() as folder:
        streams = recorded_streams(n, folder) if "writes" in tables else []
        for _ in range(args.rounds):
            for table in tables:
                for engine, writers in configs:
                    if table == "writes":
                        got = replay(engine, writers, streams, args.pg_url, n)
                    else:
                        got = run(engine, writers, n, args.pg_url)
                    results[table, (engine, writers)].append(got)
    for table in tables:
        print(f"\n{table}: {n} tool uses, medians of {args.rounds} rounds")
        base = statistics.median(r["per_s"] for r in results[table, ("sqlite", 1)])
        print(
            f"{'engine':<11} {'writers':>7} {'tool uses/s':>12} {'× sqlite 1':>11} {'stored':>14}"
        )
        for engine, writers in configs:
            runs = results[table, (engine, writers)]
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
    elif sys.argv[1:2] == ["--record"]:
        record(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
