"""Loopback OTLP receivers (gRPC and HTTP) that keep what they got, and a worker runner.

Real protobuf messages from the real exporters, on 127.0.0.1: spans with their
resource attributes, and the request metadata (headers) each export carried.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import KeyValue


def values(pairs: Any) -> dict[str, Any]:
    """OTLP key-values as a plain dict."""
    out: dict[str, Any] = {}
    for kv in pairs:
        kv: KeyValue
        which = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, which) if which else None
    return out


@dataclass
class Got:
    """One received span: its name, attributes, resource, trace id and sampled flag."""

    name: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    trace_id: str
    span: Any


@dataclass
class Received:
    spans: list[Got] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        with self.lock:
            for rs in request.resource_spans:
                resource = values(rs.resource.attributes)
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        self.spans.append(
                            Got(
                                span.name,
                                values(span.attributes),
                                resource,
                                span.trace_id.hex(),
                                span,
                            )
                        )

    def names(self) -> list[str]:
        return sorted(s.name for s in self.spans)


@contextmanager
def grpc_receiver() -> Iterator[tuple[str, Received]]:
    received = Received()

    class Service(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request, context):  # noqa: N802 - the generated service's name
            with received.lock:
                received.headers.append(dict(context.invocation_metadata()))
            received.take(request)
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        server.stop(None)


@contextmanager
def http_receiver() -> Iterator[tuple[str, Received]]:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with received.lock:
                received.paths.append(self.path)
                received.headers.append({k.lower(): v for k, v in self.headers.items()})
            request = trace_service_pb2.ExportTraceServiceRequest()
            request.ParseFromString(body)
            received.take(request)
            reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def clean_env(folder: Path, **env: str) -> dict[str, str]:
    """The environment without OTel or proxy variables, a store in ``folder``, plus ``env``."""
    out = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "TRACEPARENT", "TRACESTATE", "BAGGAGE"))
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    }
    out["OTEL_OBS_DB"] = str(folder / "obs.db")
    out["OTEL_OBS_TRANSCRIPTS_DIR"] = str(folder / "transcripts")
    out.update(env)
    return out


def run(code: str, folder: Path, argv: list[str] | None = None, **env: str):
    """Run ``code`` (or ``argv``) in a fresh interpreter in ``folder``; it must succeed."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        argv or [sys.executable, "-c", textwrap.dedent(code)],
        cwd=folder,
        env=clean_env(folder, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


#: Two tool uses, a task and a decision through the real producers.
WORKER_BODY = """
from otel_obs import ToolUseLogger, TranscriptWriter
writer = TranscriptWriter("exec-std", "agent-1")
tools = ToolUseLogger(writer)
with writer.task("T1", "export me", action="UPDATE", file="src/app.py"):
    for n in range(N_TOOLS):
        tid = tools.log_start({"id": f"toolu_{n:03d}_long_identifier", "name": "Bash",
                               "input": {"command": f"echo {n}"}})
        tools.log_end(tid, {"tool_use_id": tid, "content": f"out {n}", "is_error": False})
    writer.write({"entry_type": "decision", "summary": "ship it", "details": {"chosen": "a"}})
writer.close()
"""


def worker(n_tools: int = 2, configure: str | None = None, before: str = "") -> str:
    """Worker code: ``before``, then ``configure(<configure>)`` when given, then the producers."""
    head = (
        f"from otel_obs import configure\nconfigure({configure})\n" if configure is not None else ""
    )
    return before + head + WORKER_BODY.replace("N_TOOLS", str(n_tools))


def stored_tools(db: Path) -> list[str]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM tool_uses ORDER BY id")]
    finally:
        conn.close()


def stored_count(db: Path, table: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()
