"""Several ``otel-obs serve`` receivers, one PostgreSQL store: one SIGKILLed mid-run.

Three receivers (standing for three machines) take the spans of nine senders,
three each; one receiver is killed with SIGKILL in the middle, and its senders
retry their unanswered requests on the next receiver, as a collector with
several endpoints does. Every request is acknowledged, every execution's
sequence numbers are 1..n, and the store is the one a single SQLite ``serve``
makes of the same spans, each sent once: every column of every table (only the
columns that say when a row was written differ), and every SQL tool's answers.

Arrival order decides an execution's sequence numbers and its run's trace (that
of the first span stored), so the SQLite store is fed in the order the
PostgreSQL store numbered the entries. The unit of that order is not always a
request: a receiver queues a request's spans one by one while other requests
are queued and written, and writes what is queued when any request asks for a
flush, so another request's entries, from the same receiver or another, can be
numbered between two of a request's spans (seldom: no run of this test has
shown it, but two runs with requests of 2,100 tool uses made 5 and 10 more
pieces than their 27 requests).
A span's entries, though, are numbered in a row, in one transaction. So each
request is cut where the store's numbering cut it (:func:`numbered_pieces`,
:func:`cut`), and the pieces, each a request of its own, go to SQLite one after
another in the order of their first entries (:func:`replay`); when no request
was cut, the pieces are the requests.
"""

from __future__ import annotations

import itertools
import signal
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import requests
from ingest_support import Served, protobuf_body, served_at_once, table_rows, wait_for
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from pg_stores import pg_table_rows
from producer_support import Traced
from tool_answers import tool_calls, typed

from otel_obs import ToolUseLogger, TranscriptWriter
from otel_obs.exporters.exporter import SqliteSpanExporter
from otel_obs.exporters.schema import TABLES
from otel_obs.exporters.store_choice import thread_store
from otel_obs.ingest.decode import parse_protobuf, records_of
from otel_obs.queries.runner import ObservabilitySkills
from otel_obs.store_location import StoreArg

PROTOBUF = {"Content-Type": "application/x-protobuf"}
#: Columns that say when a row was written, not what the spans said.
WRITTEN_AT = {"unmapped_spans": {"first_seen_at", "last_seen_at"}}
#: An entry as the store numbered it: (execution, sequence, agent, span id).
Entry = tuple[str, int, str, str]


def agent(sender: int, k: int) -> str:
    """The agent whose task is request ``k`` of ``sender``: its entries name it."""
    return f"agent-{sender}-{k}"


def request_body(execution_id: str, sender: int, k: int, tools: int = 4) -> bytes:
    """One request: an agent's task in a wave, with tool uses (one failing for some agents),
    a file it changes, the task it depends on and a decision (the real producers)."""
    traced = Traced()
    writer = TranscriptWriter(
        execution_id,
        agent(sender, k),
        wave_number=1 + k // 3,
        task_list_id=f"list-{execution_id}",
        pipeline=traced.pipeline,
    )
    logger = ToolUseLogger(writer)
    depends = {"depends_on": [f"T-{sender}-{k - 3}"]} if k >= 3 else {}
    with writer.task(
        f"T-{sender}-{k}", "work", action="UPDATE", file=f"src/m{sender % 4}.py", **depends
    ):
        for n in range(tools):
            tid = logger.log_start(
                {"id": f"tool-{sender}-{k}-{n}", "name": "Bash", "input": {"command": f"ls {n}"}}
            )
            failed = n == tools - 1 and sender == k % 9
            logger.log_end(
                tid, {"tool_use_id": tid, "content": "boom" if failed else "ok", "is_error": failed}
            )
        writer.write({"entry_type": "decision", "summary": f"{sender}:{k}"})
    writer.close()
    return protobuf_body(traced.spans())


def pg_entries(url: str) -> list[Entry]:
    """Every entry of a PostgreSQL store, each execution's in sequence order."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT execution_id, sequence, instance_id, span_id FROM transcript_entries"
            " ORDER BY execution_id, sequence"
        ).fetchall()
    return [(e, s, a, span) for e, s, a, span in rows]


@dataclass(frozen=True)
class Piece:
    """Entries of one request that the store numbered in a row, and the spans they came from."""

    first: int
    execution_id: str
    agent: str
    spans: frozenset[str]


def numbered_pieces(entries: Iterable[Entry]) -> list[Piece]:
    """Each execution's entries cut into runs of one request's, in the order of their
    first sequence numbers (executions do not share numbers: any merge of theirs will do)."""
    pieces = [
        Piece(run[0][1], execution_id, name, frozenset(e[3] for e in run))
        for (execution_id, name), group in itertools.groupby(entries, key=lambda e: (e[0], e[2]))
        for run in [list(group)]
    ]
    return sorted(pieces, key=lambda p: (p.first, p.execution_id))


def cut(body: bytes, pieces: list[Piece]) -> list[bytes]:
    """A request's spans cut into one request per piece (its pieces, in order).

    Its spans were queued in the request's order, so each piece is a run of them:
    a span without entries (the agent's) goes with the piece before it.
    """
    request = parse_protobuf(body)
    piece_of = {span: n for n, piece in enumerate(pieces) for span in piece.spans}
    assert len(piece_of) == sum(len(p.spans) for p in pieces), "a span's entries were cut"
    placed: dict[bytes, int] = {}
    n = 0
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                at = piece_of.pop(span.span_id.hex(), n)
                assert at >= n, "a request's spans were numbered out of their order"
                n = placed[span.span_id] = at
    assert not piece_of, f"entries of spans the request does not have: {piece_of}"
    parts = []
    for n in range(len(pieces)):
        part = ExportTraceServiceRequest()
        part.CopyFrom(request)
        for resource_spans in part.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                kept = [s for s in scope_spans.spans if placed[s.span_id] == n]
                del scope_spans.spans[:]
                scope_spans.spans.extend(kept)
        parts.append(part.SerializeToString())
    return parts


def replay(entries: list[Entry], bodies: Mapping[str, bytes]) -> list[bytes]:
    """The requests (by agent) as pieces, in the order the store numbered their entries:
    sent one after another to one receiver, they make the same sequences and traces."""
    pieces = numbered_pieces(entries)
    assert {p.agent for p in pieces} == set(bodies), "a request made no entry"
    mine = {name: [p for p in pieces if p.agent == name] for name in bodies}
    parts = {name: iter(cut(bodies[name], mine[name])) for name in bodies}
    return [next(parts[p.agent]) for p in pieces]


def export_each(location: StoreArg, bodies: Iterable[bytes], transcripts: Path) -> None:
    """Each request decoded as ``serve`` decodes it and committed before the next."""
    store = thread_store(location, transcripts)
    for body in bodies:
        SqliteSpanExporter(store).export(records_of(parse_protobuf(body)).records)
        assert store.flush()
    assert store.close()


def test_a_request_cut_by_another_is_replayed_in_pieces(pg_url: str, tmp_path: Path) -> None:
    # Request A's first two spans, then all of B, then the rest of A: B's entries are
    # numbered between A's, as when A's spans straddle a write of B's.
    a, b = request_body("exec-r0", 0, 0), request_body("exec-r0", 1, 0)
    spans = parse_protobuf(a).resource_spans[0].scope_spans[0].spans
    head = frozenset(s.span_id.hex() for s in spans[:2])
    rest = frozenset(s.span_id.hex() for s in spans[2:])
    a_head, a_rest = cut(
        a, [Piece(1, "exec-r0", agent(0, 0), head), Piece(2, "exec-r0", agent(0, 0), rest)]
    )
    export_each(pg_url, [a_head, b, a_rest], tmp_path / "t")
    entries = pg_entries(pg_url)
    assert [p.agent for p in numbered_pieces(entries)] == [agent(0, 0), agent(1, 0), agent(0, 0)]

    bodies = {agent(0, 0): a, agent(1, 0): b}
    export_each(tmp_path / "pieces.db", replay(entries, bodies), tmp_path / "t1")
    expected = pg_table_rows(pg_url, WRITTEN_AT)
    assert table_rows(tmp_path / "pieces.db", WRITTEN_AT) == expected
    # Whole requests in the order of their first entries make other sequence numbers.
    export_each(tmp_path / "whole.db", [a, b], tmp_path / "t2")
    whole = table_rows(tmp_path / "whole.db", WRITTEN_AT)
    assert whole["transcript_entries"] != expected["transcript_entries"]
    assert {t: rows for t, rows in whole.items() if t != "transcript_entries"} == {
        t: rows for t, rows in expected.items() if t != "transcript_entries"
    }


def test_three_receivers_one_killed_store_what_one_sqlite_store_does(
    pg_url: str, tmp_path: Path
) -> None:
    executions = ["exec-r0", "exec-r1", "exec-r2"]
    bodies = {
        (sender, k): request_body(executions[k % 3], sender, k)
        for sender in range(9)
        for k in range(12)
    }
    # The three receivers (migrating the new store at once) and the SQLite one, together.
    servers = served_at_once(
        *[(pg_url, "--transcripts-dir", tmp_path / f"t{n}") for n in range(3)],
        (tmp_path / "alone.db", "--transcripts-dir", tmp_path / "t-alone"),
    )
    receivers, alone = servers[:3], servers[3]
    try:
        acknowledged, stats = send_killing_one(receivers, bodies)
        assert len(acknowledged) == len(bodies), "a sender gave up"
        assert all(s["flushed"] for s in stats), stats

        entries = pg_entries(pg_url)
        for execution_id, group in itertools.groupby(entries, key=lambda e: e[0]):
            sequences = [e[1] for e in group]
            assert sequences == list(range(1, len(sequences) + 1)), execution_id
        with psycopg.connect(pg_url) as conn:
            tools = conn.execute("SELECT count(*) FROM tool_uses").fetchone()
        assert tools == (4 * len(bodies),)

        # The same spans, once each, into one SQLite store, in the order PostgreSQL
        # numbered them.
        for body in replay(entries, {agent(*key): body for key, body in bodies.items()}):
            reply = requests.post(alone.http, data=body, headers=PROTOBUF, timeout=30)
            assert reply.status_code == 200
        alone.stop()
    finally:
        for served in servers:
            served.kill()
    expected = table_rows(tmp_path / "alone.db", WRITTEN_AT)
    got = pg_table_rows(pg_url, WRITTEN_AT)
    for table in TABLES:
        assert got[table] == expected[table], table

    # And every SQL tool answers the same of both stores.
    answered: set[str] = set()
    with ObservabilitySkills(tmp_path / "alone.db") as lite, ObservabilitySkills(pg_url) as server:
        for tool_id, params in tool_calls(tmp_path / "alone.db"):
            answer = lite.run(tool_id, **params)
            assert typed(server.run(tool_id, **params)) == typed(answer), (tool_id, params)
            if answer:
                answered.add(tool_id)
    assert len(answered) >= 20, sorted(answered)


def send_killing_one(
    receivers: list[Served], bodies: Mapping[tuple[int, int], bytes]
) -> tuple[set[tuple[int, int]], list[dict[str, Any]]]:
    """Each sender's requests to its receiver, the first receiver SIGKILLed once some are
    acknowledged, an unanswered request sent again to the next receiver; the requests
    acknowledged, and what the living receivers said as they stopped."""
    acknowledged: set[tuple[int, int]] = set()
    lock = threading.Lock()
    dead: set[int] = set()
    senders = sorted({sender for sender, _ in bodies})
    requests_of = {s: sorted(k for sender, k in bodies if sender == s) for s in senders}

    def send(sender: int) -> None:
        for k in requests_of[sender]:
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

    threads = [threading.Thread(target=send, args=(s,)) for s in senders]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(acknowledged) >= 20, timeout_s=60, what="some requests acknowledged")
        receivers[0].proc.send_signal(signal.SIGKILL)
        receivers[0].proc.wait(10)
        dead.add(0)
    finally:
        for t in threads:
            t.join(180)
    return acknowledged, [r.stop() for r in receivers[1:]]
