"""Several ``otel-obs serve`` receivers, one PostgreSQL store: one SIGKILLed mid-run.

Three receivers (standing for three machines) take the spans of nine senders;
one receiver is killed with SIGKILL in the middle, and its senders retry their
unanswered requests on the next receiver, as a collector with several
endpoints does. Every span is stored once, every execution's sequence numbers
are 1..n, and the store holds exactly the rows one SQLite store gets from the
same requests.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import psycopg
import requests
from ingest_support import ASSIGNED, Close, Served, protobuf_body, table_rows, wait_for
from producer_support import Traced

from otel_obs import ToolUseLogger, TranscriptWriter
from otel_obs.exporters.schema import TABLES

PROTOBUF = {"Content-Type": "application/x-protobuf"}
#: Columns that say when a row was written, not what the spans said.
WRITTEN_AT = {"unmapped_spans": {"first_seen_at", "last_seen_at"}}


def request_body(execution_id: str, sender: int, k: int, tools: int = 4) -> bytes:
    """One request: an agent's task with tool uses and a decision (the real producers)."""
    traced = Traced()
    writer = TranscriptWriter(execution_id, f"agent-{sender}-{k}", pipeline=traced.pipeline)
    logger = ToolUseLogger(writer)
    with writer.task(f"T-{sender}-{k}", "work"):
        for n in range(tools):
            tid = logger.log_start(
                {"id": f"tool-{sender}-{k}-{n}", "name": "Bash", "input": {"command": f"ls {n}"}}
            )
            logger.log_end(tid, {"tool_use_id": tid, "content": "ok", "is_error": False})
        writer.write({"entry_type": "decision", "summary": f"{sender}:{k}"})
    writer.close()
    return protobuf_body(traced.spans())


def pg_table_rows(url: str, exclude: dict[str, set[str]]) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    with psycopg.connect(url) as conn:
        for table in sorted(TABLES):
            columns = [
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
                    " ORDER BY ordinal_position",
                    (table,),
                )
                if r[0] not in exclude.get(table, set())
            ]
            rows = conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
            out[table] = sorted(
                (tuple(Close(v) if isinstance(v, float) else v for v in row) for row in rows),
                key=repr,
            )
    return out


def test_three_receivers_one_killed_store_every_acknowledged_span_once(
    pg_url: str, tmp_path: Path
) -> None:
    receivers = [Served(pg_url, "--transcripts-dir", str(tmp_path / f"t{n}")) for n in range(3)]
    executions = ["exec-r0", "exec-r1", "exec-r2"]
    bodies = {
        (sender, k): request_body(executions[k % 3], sender, k)
        for sender in range(9)
        for k in range(12)
    }
    acknowledged: set[tuple[int, int]] = set()
    lock = threading.Lock()
    dead: set[int] = set()

    def send(sender: int) -> None:
        for k in range(12):
            target = sender % 3
            for _ in range(20):  # retry on the next receiver until one answers 200
                if target in dead:
                    target = (target + 1) % 3
                    continue
                try:
                    reply = requests.post(
                        receivers[target].http,
                        data=bodies[(sender, k)],
                        headers=PROTOBUF,
                        timeout=30,
                    )
                except requests.RequestException:
                    target = (target + 1) % 3
                    continue
                if reply.status_code == 200:
                    with lock:
                        acknowledged.add((sender, k))
                    break
                target = (target + 1) % 3

    senders = [threading.Thread(target=send, args=(s,)) for s in range(9)]
    try:
        for t in senders:
            t.start()
        wait_for(lambda: len(acknowledged) >= 20, timeout_s=60, what="some requests acknowledged")
        receivers[0].proc.send_signal(signal.SIGKILL)
        receivers[0].proc.wait(10)
        dead.add(0)
        for t in senders:
            t.join(180)
        stats = [r.stop() for r in receivers[1:]]
    finally:
        for r in receivers:
            r.kill()
    assert len(acknowledged) == len(bodies), "a sender gave up"
    assert all(s["flushed"] for s in stats), stats

    with psycopg.connect(pg_url) as conn:
        for execution_id in executions:
            sequences = [
                r[0]
                for r in conn.execute(
                    "SELECT sequence FROM transcript_entries WHERE execution_id = %s"
                    " ORDER BY sequence",
                    (execution_id,),
                )
            ]
            assert sequences == list(range(1, len(sequences) + 1)), execution_id
        tools = conn.execute("SELECT count(*) FROM tool_uses").fetchone()[0]
    assert tools == 4 * len(bodies)

    # The same requests, once each, into one SQLite store: the same rows.
    alone = Served(tmp_path / "alone.db")
    try:
        for key in sorted(bodies):
            reply = requests.post(alone.http, data=bodies[key], headers=PROTOBUF, timeout=30)
            assert reply.status_code == 200
        alone.stop()
    finally:
        alone.kill()
    # An execution's trace is that of the first of its requests to arrive, which the
    # receivers' interleaving decides (as it decides the sequence numbers' order).
    exclude = {**ASSIGNED, **WRITTEN_AT, "task_list_execution_runs": {"trace_id"}}
    expected = table_rows(tmp_path / "alone.db", exclude)
    got = pg_table_rows(pg_url, exclude)
    for table in TABLES:
        assert got[table] == expected[table], table
