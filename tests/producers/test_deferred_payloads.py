"""Tool payloads left raw by the agent's thread: redacted and capped wherever they leave.

When only otel-obs reads a tool span before it leaves the process, the
producers leave its input and output raw (``otel_obs.deferred_payloads``).
These tests plant secrets in them and grep every sink: the store written by a
writer process and by a thread (SQLite, WAL, JSONL), the spans exporters
receive and their OTLP bytes, what other span processors see of the live
span, and a store fed over OTLP by ``serve``; and they check that the rows
are the very rows the agent's thread would have written.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import requests
from ingest_support import Served, producer_spans, wait_for
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sink_support import Sinks

from otel_obs import conventions as c
from otel_obs import redaction
from otel_obs.config import attach
from otel_obs.deferred_payloads import RAW_INPUT, RAW_OUTPUT, Gate, raw_input_json
from otel_obs.exporters.store_choice import open_store
from otel_obs.otel.export_step import ExportStep
from otel_obs.otel.providers import ProducerProvider
from otel_obs.redaction import INPUT_CAP, OUTPUT_CAP, redact_and_cap, safe_json
from otel_obs.tool_use_logger import ToolUseLogger
from otel_obs.transcript_writer import TranscriptWriter

_n = itertools.count()


def planted() -> tuple[dict[str, Any], str, list[str]]:
    """A tool input and output holding secrets of several kinds, and the secrets."""
    n = next(_n)
    secrets = [f"Zq9{kind}{n}Xy7Pw0Lk3Mn8Bv5" for kind in ("flag", "env", "argv", "url", "bear")]
    tool_input = {
        "command": f"deploy --password {secrets[0]} now",
        "env": {"API_KEY": secrets[1]},
        "argv": ["tool", "--token", secrets[2]],
        "url": f"https://me:{secrets[3]}@db.example.com/x",
    }
    output = f"connected\nAuthorization: Bearer {secrets[4]}\ndone"
    return tool_input, output, secrets


def log_tool(pipeline: Any, tool_input: Any, output: str, *, is_error: bool = False) -> str:
    writer = TranscriptWriter(f"exec-{next(_n)}", "agent-1", pipeline=pipeline)
    tools = ToolUseLogger(writer)
    with writer.task("T1", "deploy"):
        tool_id = tools.log_start({"id": f"toolu_{next(_n)}", "name": "Bash", "input": tool_input})
        tools.log_end(tool_id, {"content": output, "is_error": is_error})
    writer.close()
    return tool_id


def stored_tool(sinks: Sinks, tool_id: str) -> tuple[str, str]:
    rows = sinks.sqlite_rows("SELECT input, output FROM tool_uses WHERE id = ?", tool_id)
    assert len(rows) == 1, rows
    return rows[0]


class Watcher(SpanProcessor):
    """A span processor of someone else's: remembers every attribute it is shown, and
    keeps each live span it is handed, to read it again later."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.live: list[Any] = []

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.seen.append(dict(span.attributes or {}))
        self.live.append(span)

    def on_end(self, span: Any) -> None:
        self.seen.append(dict(span.attributes or {}))

    def holds(self, needle: str) -> bool:
        later = [dict(span.attributes or {}) for span in self.live]  # as they ended
        return any(needle in repr(attributes) for attributes in [*self.seen, *later])


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_payloads_left_raw_reach_no_store_sink_unredacted(tmp_path: Path, writer: str):
    sinks = Sinks(tmp_path, writer=writer)
    try:
        assert Gate(sinks.pipeline.provider).open()  # the path under test: left raw
        tool_input, output, secrets = planted()
        tool_id = log_tool(sinks.pipeline, tool_input, output)
        sinks.flush()
        assert [sinks.leaks(s) for s in secrets] == [[]] * len(secrets)
        # Exactly what the agent's thread would have stored.
        assert stored_tool(sinks, tool_id) == (
            safe_json(tool_input, INPUT_CAP),
            redact_and_cap(output, OUTPUT_CAP),
        )
    finally:
        sinks.close()


def test_the_writer_process_redacts_by_the_agents_configured_rules(tmp_path: Path):
    # Rules set in the agent's code, not in the environment the writer process inherits.
    redaction.configure_redaction(extra_patterns=[r"corp-[0-9]{8}"])
    sinks = Sinks(tmp_path, writer="process")
    try:
        tool_id = log_tool(sinks.pipeline, {"note": "ticket corp-12345678"}, "id corp-87654321")
        sinks.flush()
        assert sinks.leaks("corp-12345678") == []
        assert sinks.leaks("corp-87654321") == []
        assert stored_tool(sinks, tool_id) == ('{"note":"ticket [REDACTED]"}', "id [REDACTED]")
    finally:
        sinks.close()
        redaction.reset_redaction()


def test_what_a_writer_process_cuts_is_counted_by_the_agent(tmp_path: Path):
    sinks = Sinks(tmp_path, writer="process")
    try:
        output = "y" * (OUTPUT_CAP + 100)  # within what is left raw, over the cap
        before = redaction.stats()
        tool_id = log_tool(sinks.pipeline, {"command": "cat big"}, output)
        sinks.flush()
        after = redaction.stats()
        assert stored_tool(sinks, tool_id)[1] == "y" * OUTPUT_CAP + "…[truncated 100 chars]"
        assert after["truncated_values"] == before["truncated_values"] + 1
        assert after["truncated_chars"] == before["truncated_chars"] + 100
    finally:
        sinks.close()


def _tool_rows(sinks: Sinks) -> list[tuple[Any, ...]]:
    tools = sinks.sqlite_rows(
        "SELECT id, tool, tool_category, input, input_summary, output, output_summary,"
        " result_status, is_error, error_message, file_path FROM tool_uses ORDER BY id"
    )
    entries = sinks.sqlite_rows(
        "SELECT tool_use_id, category, summary, details FROM transcript_entries"
        " WHERE entry_type = 'tool_use' ORDER BY tool_use_id"
    )
    files = sinks.sqlite_rows(
        "SELECT id, file_path, operation FROM task_file_impacts"
        " WHERE tool_use_id IS NOT NULL ORDER BY id"
    )
    return [*tools, *entries, *files]


#: (tool, input, output, is_error): payloads of every shape the deferral meets.
CASES: list[tuple[str, Any, str, bool]] = [
    ("Read", {"file_path": "src/a.py", "offset": 0}, "print(1)\n" * 5, False),
    ("Bash", planted()[0], planted()[1], False),
    ("Bash", planted()[0], planted()[1], True),  # an error: redacted on the agent's thread
    ("Write", {"file_path": "new.txt", "content": "x"}, "written", False),
    ("Bash", {"command": "echo ünïcödé \x00 \ud800"}, "out \x00 \udfff ✓", False),
    # Redaction makes this input longer than the cap: it is stored cut short, with its facts.
    ("Bash", {"argv": ["--password", "x"] * 950}, "ok", False),
    ("Read", {"file_path": "b.py", "argv": ["--password", "x"] * 950}, "ok", False),
    ("Bash", {"command": "x"}, "z" * (OUTPUT_CAP + 50), False),  # cut where it leaves
    ("Bash", {"command": "x"}, "password=" + "q" * (OUTPUT_CAP + 30), False),
    ("Bash", {"command": "x"}, "z" * (OUTPUT_CAP * 2), False),  # too big to leave raw
    ("Bash", {"text": "t" * (INPUT_CAP + 10)}, "ok", False),  # likewise
    ("Bash", {"n": float("nan"), "s": {1, 2}}, "ok", False),  # not plain JSON: likewise
    ("Bash", ["not", "a", "dict"], "ok", False),
]


def _log_cases(pipeline: Any) -> None:
    writer = TranscriptWriter("exec-same", "agent-1", pipeline=pipeline)
    tools = ToolUseLogger(writer)
    with writer.task("T1", "cases"):
        for n, (name, tool_input, output, is_error) in enumerate(CASES):
            tool_id = tools.log_start({"id": f"toolu_{n}", "name": name, "input": tool_input})
            tools.log_end(tool_id, {"content": output, "is_error": is_error})
    writer.close()


def test_payloads_left_raw_are_stored_as_the_agents_thread_would_store_them(tmp_path: Path):
    (tmp_path / "deferred").mkdir()
    (tmp_path / "inline").mkdir()
    deferred = Sinks(tmp_path / "deferred")
    inline = Sinks(tmp_path / "inline")
    try:
        assert Gate(deferred.pipeline.provider).open()
        inline.pipeline.provider.add_span_processor(Watcher())  # someone else reads: inline
        assert not Gate(inline.pipeline.provider).open()
        for sinks in (deferred, inline):
            _log_cases(sinks.pipeline)
            sinks.flush()
        assert _tool_rows(deferred) == _tool_rows(inline)
        assert len(_tool_rows(deferred)) > len(CASES)
    finally:
        deferred.close()
        inline.close()


def test_input_left_raw_only_when_plain_json_within_the_cap():
    assert raw_input_json({"a": [1, "b", None, True, 1.5]}) == '{"a":[1,"b",null,true,1.5]}'
    assert raw_input_json({"a": float("nan")}) is None
    assert raw_input_json({"a": {1, 2}}) is None
    assert raw_input_json({"a": object()}) is None
    assert raw_input_json(["a"]) is None
    assert raw_input_json({"a": "x" * INPUT_CAP}) is None
    assert raw_input_json({"a": "\ud800"}) == '{"a":"\ufffd"}'
    cycle: dict[str, object] = {}
    cycle["self"] = cycle
    assert raw_input_json(cycle) is None  # the encoder made once has no cycle check


def test_input_json_is_what_the_strict_encoder_writes():
    # The encoder made once (deferred_payloads._c_encoder) against the library's.
    strict = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for value in (
        {"path": "src/é.py", "n": 3, "x": -1.5e300, "ok": False, "none": None},
        {"nested": {"list": [1, [2, {"k": '\n\t"q"'}]], "tuple": (1, 2)}, 1: "int key"},
        {"big": 10**30, "emoji": "\U0001f600", "": ""},
    ):
        assert raw_input_json(value) == strict.encode(value)


def _exporting_pipeline(tmp_path: Path, *targets: SpanProcessor) -> Any:
    provider = ProducerProvider(Resource.create({}))
    pipeline = attach(provider, open_store(tmp_path / "obs.db", tmp_path / "tr", "thread"))
    provider.add_span_processor(ExportStep(targets, "full", to_app=False))
    return pipeline


def test_exporters_receive_payloads_left_raw_redacted(tmp_path: Path):
    exporter = InMemorySpanExporter()
    pipeline = _exporting_pipeline(tmp_path, SimpleSpanProcessor(exporter))
    try:
        assert Gate(pipeline.provider).open()  # the export step's targets ignore starts
        tool_input, output, secrets = planted()
        log_tool(pipeline, tool_input, output)
        spans = exporter.get_finished_spans()
        tool = [s for s in spans if s.attributes.get(c.KIND) == c.KIND_TOOL]
        assert len(tool) == 1
        body = encode_spans(spans).SerializeToString()  # what goes to a collector
        assert [s for s in secrets if s.encode() in body] == []
        assert b"otel_obs.raw" not in body
        assert not {RAW_INPUT, RAW_OUTPUT} & set(tool[0].attributes)
        assert tool[0].attributes[c.TOOL_INPUT] == safe_json(tool_input, INPUT_CAP)
        assert tool[0].attributes[c.TOOL_OUTPUT] == redact_and_cap(output, OUTPUT_CAP)
    finally:
        pipeline.shutdown()


def test_an_export_target_that_reads_live_spans_sees_no_raw_payload(tmp_path: Path):
    watcher = Watcher()
    pipeline = _exporting_pipeline(tmp_path, watcher)
    try:
        assert not Gate(pipeline.provider).open()
        tool_input, output, secrets = planted()
        log_tool(pipeline, tool_input, output)
        assert watcher.seen
        assert [s for s in secrets if watcher.holds(s)] == []
        assert not watcher.holds("otel_obs.raw")
    finally:
        pipeline.shutdown()


def test_another_processor_on_the_provider_sees_no_raw_payload(tmp_path: Path):
    sinks = Sinks(tmp_path)
    try:
        watcher = Watcher()
        sinks.pipeline.provider.add_span_processor(watcher)
        tool_input, output, secrets = planted()
        log_tool(sinks.pipeline, tool_input, output)
        sinks.flush()
        assert watcher.seen
        assert [s for s in secrets if watcher.holds(s)] == []
        assert [sinks.leaks(s) for s in secrets] == [[]] * len(secrets)
    finally:
        sinks.close()


def test_a_processor_added_while_a_tool_runs_sees_its_end_redacted(tmp_path: Path):
    sinks = Sinks(tmp_path)
    try:
        tool_input, output, secrets = planted()
        writer = TranscriptWriter("exec-late", "agent-1", pipeline=sinks.pipeline)
        tools = ToolUseLogger(writer)
        tool_id = tools.log_start({"id": "toolu_late", "name": "Bash", "input": tool_input})
        watcher = Watcher()  # arrives after the input was left raw
        sinks.pipeline.provider.add_span_processor(watcher)
        tools.log_end(tool_id, {"content": output, "is_error": False})
        writer.close()
        sinks.flush()
        assert watcher.seen
        assert [s for s in secrets if watcher.holds(s)] == []
        assert stored_tool(sinks, tool_id) == (
            safe_json(tool_input, INPUT_CAP),
            redact_and_cap(output, OUTPUT_CAP),
        )
        assert [sinks.leaks(s) for s in secrets] == [[]] * len(secrets)
    finally:
        sinks.close()


@pytest.mark.parametrize("end", ["log_end", "log_blocked", "close"])
def test_a_processor_added_while_a_tool_runs_sees_no_raw_input_however_it_ends(
    tmp_path: Path, end: str
):
    sinks = Sinks(tmp_path)
    try:
        tool_input, output, secrets = planted()
        writer = TranscriptWriter(f"exec-{end}", "agent-1", pipeline=sinks.pipeline)
        tools = ToolUseLogger(writer)
        tool_id = tools.log_start({"id": f"toolu_{end}", "name": "Bash", "input": tool_input})
        watcher = Watcher()
        sinks.pipeline.provider.add_span_processor(watcher)
        if end == "log_end":
            tools.log_end(tool_id, {"content": "ok", "is_error": False})
        elif end == "log_blocked":
            tools.log_blocked(tool_id, "denied")
        writer.close()  # "close": the writer ends the tool use it left open
        sinks.flush()
        assert [s for s in secrets if watcher.holds(s)] == []
        assert stored_tool(sinks, tool_id)[0] == safe_json(tool_input, INPUT_CAP)
        assert [sinks.leaks(s) for s in secrets] == [[]] * len(secrets)
    finally:
        sinks.close()


def test_start_markers_carry_no_raw_payload(tmp_path: Path):
    # Start markers (serve's view of spans that never end) snapshot each span as it
    # starts, for an exporter: a processor that reads live spans, so nothing is left raw.
    from otel_obs.ingest.start_markers import send_start_markers

    sinks = Sinks(tmp_path)
    exporter = InMemorySpanExporter()
    try:
        send_start_markers(sinks.pipeline, SimpleSpanProcessor(exporter))
        tool_input, output, secrets = planted()
        log_tool(sinks.pipeline, tool_input, output)
        markers = exporter.get_finished_spans()
        assert any(s.attributes.get(c.KIND) == c.KIND_TOOL for s in markers)
        body = encode_spans(markers).SerializeToString()
        assert [s for s in secrets if s.encode() in body] == []
        assert b"otel_obs.raw" not in body
    finally:
        sinks.close()


def test_serve_redacts_payloads_that_arrive_raw(tmp_path: Path):
    # A sender that hands the producers' spans to an exporter outside otel-obs's
    # export step would send the raw keys: the store behind serve redacts them.
    tool_input, output, secrets = planted()
    request = ExportTraceServiceRequest()
    request.ParseFromString(encode_spans(producer_spans("exec-raw", tools=1)).SerializeToString())
    raw = {c.TOOL_INPUT: (RAW_INPUT, json.dumps(tool_input)), c.TOOL_OUTPUT: (RAW_OUTPUT, output)}
    for span in request.resource_spans[0].scope_spans[0].spans:
        for attribute in span.attributes:
            if attribute.key in raw:
                attribute.key, attribute.value.string_value = raw[attribute.key]
    body = request.SerializeToString()
    assert all(s.encode() in body for s in secrets)
    served = Served(tmp_path / "served.db")
    try:
        response = requests.post(
            served.http,
            data=body,
            headers={"Content-Type": "application/x-protobuf"},
            timeout=60,
        )
        assert response.ok

        def stored() -> list[tuple[str, str]]:
            conn = sqlite3.connect(f"file:{served.db}?mode=ro", uri=True)
            try:
                return list(conn.execute("SELECT input, output FROM tool_uses"))
            except sqlite3.Error:
                return []
            finally:
                conn.close()

        wait_for(lambda: len(stored()) == 1, what="the tool use")
    finally:
        served.stop()
    assert stored() == [(safe_json(tool_input, INPUT_CAP), redact_and_cap(output, OUTPUT_CAP))]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files
    assert [(s, p.name) for s in secrets for p in files if s.encode() in p.read_bytes()] == []
