"""One file format for recorded spans: an OTLP/JSON ``ExportTraceServiceRequest``.

The OTLP specification's JSON form (hex trace and span ids), as an OTLP/HTTP sender
would post it, so a recording replays unchanged into ``otel-obs serve`` and decodes
with the receiver's own decoder for the in-process paths.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

HERE = Path(__file__).resolve().parent

#: What the scenario's tools do, the same for every framework: ``read_file`` returns
#: FILE_TEXT, ``run_tests`` fails with FAILURE.
FILE_TEXT = "def main():\n    return 42\n"
FAILURE = "3 tests failed in unit"


def read_file_truth(
    call_id: str | None = "call_read_1", path: str = "src/app.py"
) -> dict[str, Any]:
    """The truth of one ``read_file`` call of the scenario."""
    return {
        "name": "read_file",
        "call_id": call_id,
        "arguments": {"path": path},
        "status": "done",
        "output_contains": "return 42",
    }


def run_tests_truth(call_id: str | None = "call_test_1") -> dict[str, Any]:
    """The truth of the scenario's failing ``run_tests`` call."""
    return {
        "name": "run_tests",
        "call_id": call_id,
        "arguments": {"target": "unit"},
        "status": "error",
        "error_contains": FAILURE,
    }


def otlp_json_document(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """``spans`` (finished SDK spans, in the order they ended) as an OTLP/JSON document."""
    document = json_format.MessageToDict(encode_spans(list(spans)))
    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = base64.b64decode(span[key]).hex()
    return document


@contextmanager
def recording_provider(service_name: str) -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A tracer provider whose finished spans are kept in memory, in the order they end."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield provider, exporter
    finally:
        provider.shutdown()


def write_recording(
    name: str, spans: Sequence[ReadableSpan], truth: Mapping[str, Any], folder: Path = HERE
) -> Path:
    """Write ``<name>.json`` (the spans) and ``<name>.truth.json`` (what the scenario did)."""
    path = folder / f"{name}.json"
    path.write_text(json.dumps(otlp_json_document(spans), indent=1, sort_keys=True) + "\n")
    (folder / f"{name}.truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
    return path


def record_all(scenarios: Mapping[str, Callable[[TracerProvider], Mapping[str, Any]]]) -> None:
    """Run each scenario on a recording provider and write its recording (a script's main)."""
    for name, run in scenarios.items():
        with recording_provider(name) as (provider, exporter):
            truth = run(provider)
            spans = exporter.get_finished_spans()
        print(name, write_recording(name, spans, truth), len(spans), "spans")


def load_recording(name: str, folder: Path = HERE) -> tuple[bytes, dict[str, Any]]:
    """(the OTLP/JSON request body, the truth) of a recording."""
    body = (folder / f"{name}.json").read_bytes()
    truth = json.loads((folder / f"{name}.truth.json").read_text())
    return body, truth
