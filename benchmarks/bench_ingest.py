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
    encoded beforehand as OTLP/HTTP protobuf bodies, then fired by
    ``--senders`` asyncio senders (aiohttp, spread over ``--burst-procs``
    processes) on a schedule of ``--burst-rate`` times (15 by default) the
    local store's spans/s measured in (a). Synchronous exporter clients cannot
    do this: each waits for its answer before sending again, so they offer
    little more than the server reads (about 1.3× the store's speed). A sender
    refused (503 or 429) waits the Retry-After and sends the same body again,
    so no span may be lost. ``serve`` runs with ``--max-queue 5000`` here (it
    buffers about three times that), so the burst overflows what the server
    may hold and must be refused in part. The same spans are also sent the
    same way on a schedule of 1× the store's speed ("steady"): the baseline
    for memory, since the writer's page cache grows with the database (up to
    its cap), so only a run of the same size tells what the burst itself
    costs. Measured: the offered rate (spans in every request attempted,
    refused ones included, from the start until every body has been sent
    once), the requests refused, the spans lost (rows in the served store
    against spans sent), and the peak memory of serve and of its writer
    process.

Targets: (T1) serve over HTTP/protobuf ≥ 50% of the local store's spans/s;
(T2) no span lost (every span stored, none rejected, no row dropped);
(T3) memory bounded under a burst offered at ≥ 10× the store's speed: peak
memory no more than 1.5× that of the steady run, no span lost (the server
refuses what its store cannot take yet, and the senders retry after the hint).

    python benchmarks/bench_ingest.py [--spans 20000] [--clients 4] [--batch 512] [--burst 10]
        [--burst-rate 15] [--senders 128] [--burst-procs 2]
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
from otel_obs.exporters.store_choice import process_store

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


def peak_rss_mib(pid: int) -> tuple[float, float]:
    """Peak resident memory of ``pid`` and of its children (the writer process), in MiB."""
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(p) for p in children]
    except OSError:
        pass
    peaks = []
    for each in pids:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        peaks.append(int(match.group(1)) / 1024 if match else 0.0)
    return (peaks[0] if peaks else 0.0), sum(peaks[1:])


def start_serve(db: Path, max_queue: int) -> tuple[subprocess.Popen[str], str, str]:
    """``otel-obs serve`` on ``db``: the process, its gRPC and its HTTP address."""
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
    return server, match[1], match[2]


def stop_serve(server: subprocess.Popen[str]) -> dict[str, Any]:
    """SIGTERM ``serve`` and return the counts it prints on stopping."""
    server.send_signal(signal.SIGTERM)
    text, _ = server.communicate(timeout=300)
    return json.loads(text.split("stopped", 1)[1])


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
    server, grpc_address, http_address = start_serve(db, max_queue)
    address = http_address if protocol == "http" else grpc_address
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
    serve_mib, writer_mib = peak_rss_mib(server.pid)
    for proc in procs:
        proc.join()
    counts = stop_serve(server)
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
        "peak_mib": serve_mib + writer_mib,
        "serve_mib": serve_mib,
        "writer_mib": writer_mib,
    }


def burst_sender(
    address: str,
    share: list[tuple[int, bytes, int]],
    per_second: float,
    senders: int,
    start_at: Any,
    ready: Any,
    go: Any,
    out: Any,
) -> None:
    """One burst process: fire pre-encoded bodies on schedule, re-send the refused.

    Body ``i`` (of all processes) is due ``i / per_second`` seconds after the
    common start; at most ``senders`` requests are in flight here at once. A
    503 or 429 is waited out (Retry-After) and the same body sent again.
    Every attempt is reported: (sent, answered, spans, status), in seconds
    from the start; status 0 is a connection error (also retried).
    """
    import asyncio

    import aiohttp

    async def run() -> list[tuple[float, float, int, int, bool]]:
        attempts: list[tuple[float, float, int, int, bool]] = []
        in_flight = asyncio.Semaphore(senders)
        headers = {"Content-Type": "application/x-protobuf"}
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=300)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            ready.set()
            await asyncio.get_running_loop().run_in_executor(None, go.wait)
            start = start_at.value

            async def send(index: int, body: bytes, count: int) -> None:
                await asyncio.sleep(max(0.0, start + index / per_second - time.time()))
                first = True
                while True:
                    wait = 0.0
                    async with in_flight:
                        sent = time.time() - start
                        try:
                            async with session.post(address, data=body, headers=headers) as answer:
                                await answer.read()
                                status = answer.status
                                if status in (429, 503):
                                    wait = float(answer.headers.get("Retry-After", "1"))
                        except aiohttp.ClientError:
                            status, wait = 0, 1.0
                        attempts.append((sent, time.time() - start, count, status, first))
                    first = False
                    if status in (0, 429, 503):
                        await asyncio.sleep(wait)
                        continue
                    return

            await asyncio.gather(*(send(i, body, n) for i, body, n in share))
        return attempts

    out.put(asyncio.run(run()))


def burst_through_serve(
    spans: list[ReadableSpan],
    folder: Path,
    batch: int,
    max_queue: int,
    per_second: float,
    senders: int,
    procs_n: int,
    tag: str,
) -> dict[str, Any]:
    """(c): the burst's bodies encoded first, then offered at ``per_second`` spans/s."""
    payloads = [
        (i, encode_spans(spans[at : at + batch]).SerializeToString(), len(spans[at : at + batch]))
        for i, at in enumerate(range(0, len(spans), batch))
    ]
    total = len(spans)
    db = folder / f"served-{tag}.db"
    server, _, address = start_serve(db, max_queue)
    ctx = multiprocessing.get_context("spawn")
    go, out, start_at = ctx.Event(), ctx.Queue(), ctx.Value("d", 0.0)
    readies = [ctx.Event() for _ in range(procs_n)]
    procs = [
        ctx.Process(
            target=burst_sender,
            args=(
                address,
                payloads[k::procs_n],
                per_second / batch,
                max(1, senders // procs_n),
                start_at,
                readies[k],
                go,
                out,
            ),
        )
        for k in range(procs_n)
    ]
    for proc in procs:
        proc.start()
    del payloads
    for ready in readies:
        ready.wait(120)
    start_at.value = time.time() + 0.2
    go.set()
    attempts = [a for _ in procs for a in out.get()]
    while stored(db) < total and time.time() - start_at.value < 600:
        time.sleep(0.02)
    elapsed = time.time() - start_at.value
    serve_mib, writer_mib = peak_rss_mib(server.pid)
    for proc in procs:
        proc.join()
    counts = stop_serve(server)
    got = stored(db)
    # the offering window: from the start until every body has been sent once
    window = max(sent for sent, _, _, _, first in attempts if first)
    offered = sum(n for sent, _, n, _, _ in attempts if sent <= window)
    return {
        "spans": total,
        "seconds": elapsed,
        "rate": total / elapsed,
        "offered_rate": offered / window,
        "window": window,
        "last_answered": max(answered for _, answered, _, _, first in attempts if first),
        "schedule": (-(-total // batch) - 1) * batch / per_second,
        "requests": sum(1 for a in attempts if a[4]),
        "attempts": len(attempts),
        "refused": sum(1 for a in attempts if a[3] in (429, 503)),
        "errors": sum(1 for a in attempts if a[3] == 0),
        "failed": sum(1 for a in attempts if a[3] not in (0, 200, 429, 503)),
        "lost": total - got,
        "rejected": counts["spans_rejected"],
        "dropped_rows": counts["dropped_rows"],
        "peak_mib": serve_mib + writer_mib,
        "serve_mib": serve_mib,
        "writer_mib": writer_mib,
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
    parser.add_argument(
        "--burst-rate",
        type=float,
        default=15,
        help="the burst's schedule, in multiples of the local store's spans/s",
    )
    parser.add_argument(
        "--senders", type=int, default=128, help="burst requests in flight at once (all processes)"
    )
    parser.add_argument("--burst-procs", type=int, default=2, help="processes sending the burst")
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
        paced = {}
        for name, rate in (("steady", 1.0), ("burst", args.burst_rate)):
            paced[name] = burst_through_serve(
                burst_spans,
                folder,
                args.batch,
                args.max_queue,
                rate * local,
                args.senders,
                args.burst_procs,
                name,
            )
        rows.append(("same spans at 1× local, http", paced["steady"]))
        rows.append((f"burst at {args.burst_rate:g}× local, http", paced["burst"]))

    http = rows[0][1]
    steady, burst = paced["steady"], paced["burst"]
    print(
        f"{'path':<36} {'spans':>8} {'s':>7} {'spans/s':>9} {'% local':>8} "
        f"{'offered/s':>10} {'× local':>8} {'refused':>8} {'lost':>5} {'serve MiB':>10} "
        f"{'writer MiB':>11} {'peak MiB':>9}"
    )
    print(
        f"{'local store (SqliteSpanExporter)':<36} {args.spans:>8} {'':>7} {local:>9.0f} "
        f"{100:>7.0f}% {'':>10} {'':>8} {'':>8} {'':>5} {'':>10} {'':>11} {'':>9}"
    )
    for name, r in rows:
        print(
            f"{name:<36} {r['spans']:>8} {r['seconds']:>7.2f} {r['rate']:>9.0f} "
            f"{100 * r['rate'] / local:>7.0f}% {r['offered_rate']:>10.0f} "
            f"{r['offered_rate'] / local:>7.1f}× {r['refused']:>8} {r['lost']:>5} "
            f"{r['serve_mib']:>10.1f} {r['writer_mib']:>11.1f} {r['peak_mib']:>9.1f}"
        )
    t1 = http["rate"] >= 0.5 * local
    t2 = all(
        r["lost"] == 0 and r["rejected"] == 0 and r["dropped_rows"] == 0 and r["failed"] == 0
        for _, r in rows
    )
    ratio = burst["peak_mib"] / max(steady["peak_mib"], 1e-9)
    speed = burst["offered_rate"] / local
    t3 = speed >= 10 and burst["lost"] == 0 and ratio <= 1.5
    print()
    for name, r in (("steady", steady), ("burst", burst)):
        print(
            f"{name}: {r['requests']} requests of ≤ {args.batch} spans, {r['attempts']} "
            f"attempts ({r['refused']} refused, {r['errors']} connection errors, "
            f"{r['failed']} failed), all retried until stored; first attempts sent by "
            f"{r['window']:.2f} s (due by {r['schedule']:.2f} s), the last answered "
            f"at {r['last_answered']:.2f} s"
        )
    print(
        f"T1 serve over HTTP/protobuf ≥ 50% of the local store: "
        f"{100 * http['rate'] / local:.0f}% {'PASS' if t1 else 'FAIL'}"
    )
    print(f"T2 no span lost: {'PASS' if t2 else 'FAIL'}")
    print(
        f"T3 memory bounded under a burst offered at ≥ 10× the store's speed: offered at "
        f"{speed:.1f}×, {burst['lost']} spans lost, peak {burst['peak_mib']:.0f} MiB vs "
        f"{steady['peak_mib']:.0f} MiB for the same spans at 1× ({ratio:.2f}×, ≤ 1.5×): "
        f"{'PASS' if t3 else 'FAIL'}"
    )
    return 0 if t1 and t2 and t3 else 1


if __name__ == "__main__":
    sys.exit(main())
