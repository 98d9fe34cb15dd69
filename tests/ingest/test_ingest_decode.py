"""OTLP decoding: protobuf and OTLP/JSON requests give the records the mapping reads.

Spans come from the real producers on a real SDK provider, and are encoded by
the real OTLP exporter's encoder; the decoded records must map to exactly the
rows the spans themselves map to. Bad ids are rejected and counted, bad bodies
raise MalformedRequest, never anything else.
"""

from __future__ import annotations

import json

import pytest
from ingest_support import otlp_json
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from producer_support import Traced

from otel_obs import AssertionRecorder, ToolUseLogger, TranscriptWriter
from otel_obs.exporters.mapping import Rows, map_span
from otel_obs.ingest.decode import (
    MalformedRequest,
    any_value,
    decode,
    parse_json,
    parse_protobuf,
    records_of,
)


def _run_producers(traced: Traced) -> None:
    writer = TranscriptWriter("exec-dec", "agent-1", pipeline=traced.pipeline, wave_number=2)
    tools = ToolUseLogger(writer)
    recorder = AssertionRecorder(writer, "exec-dec")
    with writer.task("T1", "decode me", action="UPDATE", file="src/a.py", depends_on=["T0"]):
        tid = tools.log_start({"id": "toolu_1", "name": "Bash", "input": {"command": "ls -la"}})
        tools.log_end(tid, {"tool_use_id": tid, "content": "a\nb", "is_error": False})
        tid = tools.log_start({"id": "toolu_2", "name": "Read", "input": {"file_path": "x.py"}})
        tools.log_end(tid, {"tool_use_id": tid, "content": "boom", "is_error": True})
        chain = recorder.start_chain("T1", "check")
        recorder.assert_lint_passes("T1", "src/a.py")
        recorder.end_chain(chain)
        writer.write({"entry_type": "decision", "summary": "pick", "details": {"chosen": "a"}})
    writer.close()


def _rows(spans) -> dict[str, list]:
    rows = Rows()
    for span in spans:
        map_span(span, rows)
    return {table: rows.rows(table) for table in sorted(rows.tables)}


@pytest.fixture
def finished() -> list:
    traced = Traced()
    _run_producers(traced)
    spans = traced.spans()
    assert len(spans) >= 5
    return spans


def test_protobuf_records_map_to_the_rows_of_the_spans(finished) -> None:
    body = encode_spans(finished).SerializeToString()
    decoded = decode(body, "application/x-protobuf")
    assert decoded.rejected == 0
    assert len(decoded.records) == len(finished)
    expected = _rows(finished)
    assert expected["tool_uses"] and expected["transcript_entries"]
    assert _rows(decoded.records) == expected


def test_otlp_json_with_hex_ids_maps_to_the_same_rows(finished) -> None:
    body = otlp_json(encode_spans(finished))
    decoded = decode(body, "application/json; charset=utf-8")
    assert decoded.rejected == 0
    assert _rows(decoded.records) == _rows(finished)


def test_an_open_span_decodes_with_no_end_time(finished) -> None:
    request = encode_spans(finished)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.end_time_unix_nano = 0
    records = records_of(request).records
    assert records[0].end_time is None
    assert records[1].end_time is not None


def test_spans_with_missing_or_zero_ids_are_rejected_and_counted(finished) -> None:
    request = encode_spans(finished)
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].trace_id = b""
    spans[1].span_id = bytes(8)
    spans[2].span_id = b"\x01\x02"
    spans[3].start_time_unix_nano = 0
    decoded = records_of(request)
    assert decoded.rejected == 4
    assert "trace id" in decoded.reason
    assert len(decoded.records) == len(finished) - 4


def test_json_span_with_a_non_hex_id_is_rejected_not_fatal(finished) -> None:
    document = json.loads(otlp_json(encode_spans(finished)))
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = "not-hex!"
    decoded = decode(json.dumps(document).encode(), "application/json")
    assert decoded.rejected == 1
    assert len(decoded.records) == len(finished) - 1


def test_any_values_become_what_the_store_can_hold() -> None:
    def value(**kw) -> AnyValue:
        return AnyValue(**kw)

    nested = value(
        kvlist_value=KeyValueList(
            values=[
                KeyValue(key="a", value=value(int_value=1)),
                KeyValue(
                    key="b", value=value(array_value=ArrayValue(values=[value(bool_value=True)]))
                ),
            ]
        )
    )
    assert any_value(value(string_value="s")) == "s"
    assert any_value(value(int_value=-7)) == -7
    assert any_value(value(double_value=1.5)) == 1.5
    assert any_value(value(bool_value=False)) is False
    assert any_value(value(bytes_value=b"\x00\xff")) == "AP8="
    assert json.loads(any_value(nested)) == {"a": 1, "b": [True]}
    array = value(array_value=ArrayValue(values=[value(string_value="x"), value(int_value=2)]))
    assert any_value(array) == ("x", 2)
    inner = value(array_value=ArrayValue(values=[array]))
    assert any_value(inner) == ('["x", 2]',)
    assert any_value(AnyValue()) is None


def test_json_any_values_of_every_kind() -> None:
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "w"}}]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "name": "custom",
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": 1700000000500000000,
                                "kind": 2,
                                "unknownField": {"ignored": True},
                                "attributes": [
                                    {"key": "i", "value": {"intValue": "42"}},
                                    {"key": "b", "value": {"bytesValue": "AP8="}},
                                    {
                                        "key": "arr",
                                        "value": {
                                            "arrayValue": {
                                                "values": [{"stringValue": "T1"}, {"intValue": 3}]
                                            }
                                        },
                                    },
                                    {
                                        "key": "kv",
                                        "value": {
                                            "kvlistValue": {
                                                "values": [
                                                    {"key": "x", "value": {"doubleValue": 0.5}}
                                                ]
                                            }
                                        },
                                    },
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    decoded = decode(json.dumps(body).encode(), "application/json")
    (record,) = decoded.records
    assert record.context.trace_id == 0x5B8EFFF798038103D269B633813FC60C
    assert record.context.span_id == 0xEEE19B7EC3C1B174
    assert record.start_time == 1_700_000_000_000_000_000
    assert record.end_time == 1_700_000_000_500_000_000
    assert record.attributes["i"] == 42
    assert record.attributes["b"] == "AP8="
    assert record.attributes["arr"] == ("T1", 3)
    assert json.loads(record.attributes["kv"]) == {"x": 0.5}
    assert record.resource.attributes == {"service.name": "w"}


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"\x0a\xff\xff\xff", "application/x-protobuf", "protobuf"),
        (b"{not json", "application/json", "not JSON"),
        (b"\xff\xfe{}", "application/json", "UTF-8"),
        (b"[1, 2]", "application/json", "object"),
        (b'{"resourceSpans": [{"scopeSpans": 7}]}', "application/json", "OTLP/JSON"),
    ],
)
def test_malformed_bodies_raise_malformed_request(body, content_type, message) -> None:
    with pytest.raises(MalformedRequest, match=message):
        decode(body, content_type)


def test_truncated_protobuf_is_malformed(finished) -> None:
    body = encode_spans(finished).SerializeToString()
    with pytest.raises(MalformedRequest):
        parse_protobuf(body[: len(body) // 2 + 3])
    assert parse_json(b"{}").resource_spans == []


def test_nul_in_received_texts_becomes_the_replacement_character(finished) -> None:
    """SQLite would cut a text at NUL (an id cut so names another one); the JSONL would not."""
    request = encode_spans(finished)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.name = "na\x00me"
    span.attributes.add(key="x.text", value=AnyValue(string_value="a\x00b"))
    span.attributes.add(
        key="x.list",
        value=AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="c\x00d")])),
    )
    request.resource_spans[0].resource.attributes.add(
        key="x.resource", value=AnyValue(string_value="e\x00f")
    )
    record = records_of(parse_protobuf(request.SerializeToString())).records[0]
    assert record.name == "na\ufffdme"
    assert record.attributes["x.text"] == "a\ufffdb"
    assert record.attributes["x.list"] == ("c\ufffdd",)
    assert record.resource.attributes["x.resource"] == "e\ufffdf"


def test_what_the_producers_capped_arrives_unchanged() -> None:
    """The decode-time caps hold back what a sender did not cap; the producers' own cut
    payloads (an input over its cap is a JSON object holding its head, escapes and all)
    and their long ids pass as they are, and nothing is counted."""
    traced = Traced()
    writer = TranscriptWriter("exec-" + "i" * 900, "agent-1", pipeline=traced.pipeline)
    tools = ToolUseLogger(writer)
    noisy = '"\\\n' * 20_000  # escaped in the cut JSON: about 2.5x its length
    tid = tools.log_start({"id": "toolu_big", "name": "Bash", "input": {"command": noisy}})
    tools.log_end(tid, {"tool_use_id": tid, "content": "o" * 100_000, "is_error": True})
    writer.write({"entry_type": "decision", "summary": "s", "details": {"d": noisy}})
    writer.close()
    spans = traced.spans()
    decoded = records_of(encode_spans(spans))
    assert (decoded.ids_capped, decoded.texts_capped, decoded.capped_chars) == (0, 0, 0)
    status = {"otel.status_code", "otel.status_description"}  # the failed tool's status
    assert [
        {k: v for k, v in r.attributes.items() if k not in status} for r in decoded.records
    ] == [dict(s.attributes) for s in spans]
    assert [[dict(e.attributes) for e in r.events] for r in decoded.records] == [
        [dict(e.attributes) for e in s.events] for s in spans
    ]
    assert _rows(decoded.records) == _rows(spans)
