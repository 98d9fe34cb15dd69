"""``otel-obs serve`` against the local store: spans per second, losses, memory.

Measured in one run, on the same spans (producer-shaped tool spans, finished):

(a) the local store's own throughput: the spans handed to the store's batch
    path (``SqliteSpanExporter`` over a writer-process store, as ``serve``
    uses) in this process, until ``flush`` returns;
(b) through ``otel-obs serve`` (a subprocess): N client processes send the
    spans as OTLP requests (encoded beforehand by the OTLP exporter's own
    encoder, ``--batch`` spans each) over HTTP/protobuf and over gRPC, honouring
    the server's retry hints (503 + Retry-After / RESOURCE_EXHAUSTED), until
    every span is in the served store;
(c) a burst: ``--burst`` seconds of the local store's work (10 by default),
    offered unthrottled by the same clients, with the server's peak memory
    (serve and its writer process) against that of run (b). ``serve`` runs
    with ``--max-queue 5000`` here (it buffers about three times that), so
    the burst overflows what the server may hold and must be refused in part.

Targets: (T1) serve over HTTP/protobuf ≥ 50% of the local store's spans/s;
(T2) no span lost (every span stored, none rejected, no row dropped);
(T3) memory bounded under the burst: peak memory no more than 1.5× that of
the normal run (the server refuses what its store cannot take yet, and the
clients retry after the hint). The rate at which the clients offered spans is
printed too: synchronous clients cannot offer faster than the server reads.

    python benchmarks/bench_ingest.py [--spans 20000] [--clients 4] [--batch 512] [--burst 10]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_obs import conventions as c
from otel_obs.exporters.exporter import SqliteSpanExporter
from otel_obs.exporters.stores import process_store

INPUT = json.dumps({"file_path": "src/components/Button.tsx", "offset": 0, "limit": 200})
OUTPUT = "export function Button() { return null }\n" * 5
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def make_spans(n: int, execution_id: str) -> list[ReadableSpan]:
    """``n`` finished Read tool spans, shaped as ToolUseLogger makes them."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bench-ingest"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")
    base = {
        c.KIND: c.KIND_TOOL,
        c.EXECUTION_ID: execution_id,
        c.INSTANCE_ID: "agent-1",
        c.TASK_ID: "T1",
        c.GEN_AI_OPERATION_NAME: "execute_tool",
        c.GEN_AI_TOOL_NAME: "Read",
        c.TOOL_CATEGORY: "file_read",
        c.TOOL_INPUT: INPUT,
    }
    for i in range(n):
        span = tracer.start_span(
            "execute_tool Read", attributes={**base, c.GEN_AI_TOOL_CALL_ID: f"toolu_{i}"}
        )
        span.set_attribute(c.TOOL_RESULT_STATUS, "done")
        span.set_attribute(c.TOOL_OUTPUT, OUTPUT)
        span.end()
    spans = list(exporter.get_finished_spans())
    provider.shutdown()
    return spans


def bodies(spans: list[ReadableSpan], batch: int) -> list[bytes]:
    return [
        encode_spans(spans[i : i + batch]).SerializeToString() for i in range(0, len(spans), batch)
    ]


def stored(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM tool_uses").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


# (a) ------------------------------------------------------------------------


def local_throughput(spans: list[ReadableSpan], folder: Path) -> float:
    store = process_store(folder / "local.db", folder / "local-transcripts")
    exporter = SqliteSpanExporter(store)
    exporter.export(spans[:100])  # the writer process is up and the schema made
    store.flush(120)
    started = time.perf_counter()
    exporter.export(spans[100:])
    store.flush(600)
    elapsed = time.perf_counter() - started
    store.close()
    assert stored(folder / "local.db") == len(spans), "local store lost spans"
    return (len(spans) - 100) / elapsed


# (b), (c) -------------------------------------------------------------------


def client(protocol: str, address: str, payloads: list[bytes], go: Any, out: Any) -> None:
    """One OTLP client process: send every request, retrying when told to."""
    refused = failed = 0
    go.wait()
    if protocol == "http":
        import requests

        session = requests.Session()
        headers = {"Content-Type": "application/x-protobuf"}
        for body in payloads:
            while True:
                answer = session.post(address, data=body, headers=headers, timeout=120)
                if answer.status_code == 200:
                    break
                if answer.status_code == 503:
                    refused += 1
                    time.sleep(float(answer.headers.get("Retry-After", "1")))
                    continue
                failed += 1
                break
    else:
        import grpc

        channel = grpc.insecure_channel(address)
        call = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)
        for body in payloads:
            while True:
                try:
                    call(body, timeout=120)
                    break
                except grpc.RpcError as error:
                    if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                        refused += 1
                        time.sleep(1.0)
                        continue
                    failed += 1
                    break
        channel.close()
    out.put((refused, failed))


def peak_rss_mib(pid: int) -> float:
    """Peak resident memory of ``pid`` and its children (the writer process), in MiB."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(p) for p in children]
    except OSError:
        pass
    for each in pids:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        if match:
            total += int(match.group(1))
    return total / 1024


def through_serve(
    protocol: str,
    spans: list[ReadableSpan],
    folder: Path,
    clients: int,
    batch: int,
    tag: str,
    max_queue: int,
) -> dict[str, Any]:
    db = folder / f"served-{tag}.db"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "otel_obs",
            "serve",
            "--db",
            str(db),
            "--grpc-port",
            "0",
            "--http-port",
            "0",
            "--max-queue",
            str(max_queue),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    match = re.search(r"gRPC on (\S+), HTTP on (http://\S+)", line)
    assert match, line
    address = match[2] if protocol == "http" else match[1]
    payloads = bodies(spans, batch)
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    shares = [payloads[i::clients] for i in range(clients)]
    procs = [ctx.Process(target=client, args=(protocol, address, s, go, out)) for s in shares]
    for proc in procs:
        proc.start()
    time.sleep(1.0)  # the clients are up
    started = time.perf_counter()
    go.set()
    results = [out.get() for _ in procs]
    offered = time.perf_counter() - started
    while stored(db) < len(spans) and time.perf_counter() - started < 600:
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    peak = peak_rss_mib(server.pid)
    for proc in procs:
        proc.join()
    server.send_signal(signal.SIGTERM)
    text, _ = server.communicate(timeout=300)
    counts = json.loads(text.split("stopped", 1)[1])
    got = stored(db)
    return {
        "spans": len(spans),
        "seconds": elapsed,
        "rate": len(spans) / elapsed,
        "offered_rate": len(spans) / offered if offered > 0 else float("inf"),
        "refused": sum(r for r, _ in results),
        "failed": sum(f for _, f in results),
        "lost": len(spans) - got,
        "rejected": counts["spans_rejected"],
        "dropped_rows": counts["dropped_rows"],
        "peak_mib": peak,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--spans", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=512, help="spans per OTLP request")
    parser.add_argument(
        "--max-queue",
        type=int,
        default=5_000,
        help="serve --max-queue: the burst must overflow what the server buffers",
    )
    parser.add_argument(
        "--burst", type=float, default=10, help="burst size, in seconds of the local store's work"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        spans = make_spans(args.spans, "bench-local")
        local = local_throughput(spans, folder)
        rows = []
        for protocol in ("http", "grpc"):
            result = through_serve(
                protocol, spans, folder, args.clients, args.batch, protocol, args.max_queue
            )
            rows.append((f"serve, {protocol} protobuf, {args.clients} clients", result))
        del spans
        burst_spans = make_spans(int(local * args.burst), "bench-burst")
        burst = through_serve(
            "http", burst_spans, folder, args.clients, args.batch, "burst", args.max_queue
        )
        rows.append((f"burst ({args.burst:g} s of store work), http", burst))

    print(
        f"{'path':<36} {'spans':>8} {'s':>7} {'spans/s':>9} {'% local':>8} "
        f"{'offered/s':>10} {'refused':>8} {'lost':>5} {'peak MiB':>9}"
    )
    print(
        f"{'local store (SqliteSpanExporter)':<36} {args.spans:>8} {'':>7} {local:>9.0f} "
        f"{100:>7.0f}% {'':>10} {'':>8} {'':>5} {'':>9}"
    )
    for name, r in rows:
        print(
            f"{name:<36} {r['spans']:>8} {r['seconds']:>7.2f} {r['rate']:>9.0f} "
            f"{100 * r['rate'] / local:>7.0f}% {r['offered_rate']:>10.0f} {r['refused']:>8} "
            f"{r['lost']:>5} {r['peak_mib']:>9.1f}"
        )
    http = rows[0][1]
    t1 = http["rate"] >= 0.5 * local
    t2 = all(
        r["lost"] == 0 and r["rejected"] == 0 and r["dropped_rows"] == 0 and r["failed"] == 0
        for _, r in rows
    )
    ratio = burst["peak_mib"] / max(http["peak_mib"], 1e-9)
    t3 = ratio <= 1.5
    print()
    print(
        f"T1 serve over HTTP/protobuf ≥ 50% of the local store: "
        f"{100 * http['rate'] / local:.0f}% {'PASS' if t1 else 'FAIL'}"
    )
    print(f"T2 no span lost: {'PASS' if t2 else 'FAIL'}")
    print(
        f"T3 memory bounded under the burst: peak {burst['peak_mib']:.0f} MiB vs "
        f"{http['peak_mib']:.0f} MiB ({ratio:.2f}×, ≤ 1.5×) while offered at "
        f"{burst['offered_rate'] / local:.1f}× the store's speed, {burst['refused']} requests "
        f"refused and retried: {'PASS' if t3 else 'FAIL'}"
    )
    return 0 if t1 and t2 and t3 else 1


if __name__ == "__main__":
    sys.exit(main())
