"""Batches on the writer pipe: marshalled when plain, pickled otherwise; both read back alike."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider

from otel_obs import conventions as c
from otel_obs.exporters.items import Op
from otel_obs.exporters.mapping import Rows
from otel_obs.exporters.span_record import Recorder, SpanRecord
from otel_obs.exporters.wire import MARSHAL_TAG, dumps_batch, loads_message


class Label(str):
    """A str subclass: valid as an attribute value to Python, not to marshal."""


def spans():
    tracer = TracerProvider().get_tracer("t")
    attrs = {c.KIND: c.KIND_TOOL, c.EXECUTION_ID: "e", "n": 3, "ok": True, "x": 1.5}
    tool = tracer.start_span("execute_tool Read", attributes=attrs)
    started = (Op.START, tool)
    tool.set_attribute("seq", ("a", "b"))
    tool.add_event("obs.decision", {"why": "because"}, timestamp=42)
    tool.end()
    return tool, [
        started,
        (Op.END, tool),
        (Op.START_END, tool),
        (Op.EVENT, tool, "obs.decision", {c.ENTRY_ID: "d1"}, 99),
    ]


def check_items(items, originals, span) -> None:
    for decoded, original in zip(items, originals, strict=True):
        assert decoded[0] is original[0]
        record = decoded[1]
        assert isinstance(record, SpanRecord)
        assert dict(record.attributes) == dict(span.attributes)
        assert (record.context.trace_id, record.context.span_id) == (
            span.context.trace_id,
            span.context.span_id,
        )
        assert (record.start_time, record.end_time) == (span.start_time, span.end_time)
        assert [(e.name, dict(e.attributes), e.timestamp) for e in record.events] == [
            ("obs.decision", {"why": "because"}, 42)
        ]
        assert record.resource.attributes == dict(span.resource.attributes)
        assert decoded[2:] == original[2:]


def test_a_batch_of_span_items_goes_marshalled_and_reads_back_as_records():
    span, items = spans()
    payload = dumps_batch(Recorder(), 5, items)
    assert payload[:1] == MARSHAL_TAG
    kind, number, decoded = loads_message(memoryview(payload))
    assert (kind, number) == ("batch", 5)
    check_items(decoded, items, span)
    # One resource object for the batch, as the mapping's per-resource cache expects.
    assert len({id(item[1].resource) for item in decoded}) == 1


def test_a_batch_marshal_cannot_carry_is_pickled_and_reads_back_the_same():
    span, items = spans()
    rows = Rows()
    rows.heartbeat("e", "agent-1", "2026-01-02T03:04:05.000000Z", None)
    for extra in [(Op.ROWS, rows), (Op.EVENT, span, "obs.decision", {"k": Label("v")}, 7)]:
        payload = dumps_batch(Recorder(), 6, [*items, extra])
        assert payload[:1] != MARSHAL_TAG
        kind, number, decoded = loads_message(payload)
        assert (kind, number) == ("batch", 6)
        check_items(decoded[:-1], items, span)
        assert decoded[-1][0] is extra[0]
    assert decoded[-1][3] == {"k": "v"}


def test_an_ended_spans_snapshot_read_from_its_fields_is_the_one_read_from_its_properties():
    # A process store snapshots each joined tool use on the agent's thread by reading
    # the SDK snapshot's fields at once (_sdk_access.ended_fields): the same wire tuple
    # as through the public properties, for every field the mapping reads.
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.trace import Status, StatusCode, set_span_in_context

    tracer = TracerProvider(resource=Resource.create({"service.name": "s"})).get_tracer("scope")
    parent = tracer.start_span("parent")
    cases = []
    for status in (None, Status(StatusCode.ERROR, "boom"), Status(StatusCode.ERROR)):
        span = tracer.start_span(
            "execute_tool Bash",
            context=set_span_in_context(parent),
            attributes={c.KIND: c.KIND_TOOL, "n": 1, "seq": ("a", "b")},
        )
        if status is not None:
            span.set_status(status)
        span.end()
        cases.append(span._readable_span())
    root = tracer.start_span("root", attributes={c.KIND: c.KIND_TOOL})
    root.end()
    cases.append(root._readable_span())
    parent.end()
    recorder = Recorder()
    for readable in cases:
        fast = recorder.wire(readable, ended=True)
        # Through the properties: the path taken for anything but the SDK's snapshot.
        assert fast == recorder.wire(readable, ended=False)
        assert fast[7] == (readable.parent.span_id if readable.parent else None)
    assert [recorder.wire(r, ended=True)[8] for r in cases] == [None, "boom", "", None]
