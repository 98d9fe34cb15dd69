"""A real OpenTelemetry SDK pipeline whose finished spans can be inspected.

The producers' tests look at exactly what the mapping will read: span names,
parents, attributes and events, as the SDK records them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

from otel_obs import conventions as c
from otel_obs.pipeline import Pipeline


class EventLog:
    """An event sink that keeps what it is handed, in order (the store's place in the pipeline)."""

    def __init__(self) -> None:
        self.events: list[tuple[Span, str, dict[str, AttributeValue], int]] = []
        self.flushes = 0

    def on_event(
        self,
        span: Span,
        name: str,
        attributes: Mapping[str, AttributeValue],
        timestamp_ns: int,
    ) -> None:
        self.events.append((span, name, dict(attributes), timestamp_ns))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self.flushes += 1
        return True


class Traced:
    """A TracerProvider with an in-memory exporter, and a Pipeline over it."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.sink = EventLog()
        self.pipeline = Pipeline(self.provider, self.sink)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def kind(self, kind: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.attributes.get(c.KIND) == kind]

    def one(self, kind: str) -> ReadableSpan:
        found = self.kind(kind)
        assert len(found) == 1, [s.name for s in found]
        return found[0]

    def named(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, [s.name for s in self.spans()]
        return found[0]

    def events(self, name: str) -> list[tuple[ReadableSpan, dict]]:
        """Events called ``name`` on finished spans, with the span that carries each."""
        return [(s, dict(e.attributes)) for s in self.spans() for e in s.events if e.name == name]


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    return span.context.span_id


class StatusServer:
    """A real HTTP server on 127.0.0.1: ``/status/<code>`` answers ``<code>``,
    ``/slow/<seconds>`` answers 200 after a delay."""

    def __init__(self) -> None:
        import http.server
        import threading
        import time

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                parts = self.path.strip("/").split("/")
                code = 200
                if parts[0] == "status":
                    code = int(parts[1])
                elif parts[0] == "slow":
                    time.sleep(float(parts[1]))
                body = f"answer {code}".encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> StatusServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rows(db: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    """The rows ``sql`` selects from the store at ``db``, as dicts."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()
