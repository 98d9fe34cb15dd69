"""Plain, picklable snapshots of spans: what the mapping reads, frozen.

A live SDK span holds locks and a tracer provider and cannot be pickled, and
keeping it queued keeps its SDK objects alive. The mapping reads only a few of
its fields (``name``, ``attributes``, ``context``, ``start_time``,
``end_time``, ``events``, ``resource``), so a :class:`SpanRecord` carries
exactly those, and :mod:`.mapping` maps a record as it maps a span. Records
also stand for spans that arrive from elsewhere (OTLP ingest, replays).

A record travels between processes as a plain tuple, its :data:`WireRecord`
(:meth:`Recorder.wire`): tuples and dicts pickle and marshal in C. A
provider's one resource is one dict shared by the records of a batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import StatusCode

from ._sdk_access import attributes_copy, ended_attributes, ended_fields, events_of

#: A record on the pipe: (name, attributes, (trace_id, span_id) | None, start_time,
#: end_time, ((event name, attributes, timestamp), ...), resource attributes | None,
#: parent span id | None, the ERROR status's description | None, scope name | None).
WireRecord = tuple[Any, ...]


class RecordContext:
    """The ids of a span, as the mapping reads them from ``span.context``."""

    __slots__ = ("trace_id", "span_id")

    def __init__(self, trace_id: int, span_id: int) -> None:
        self.trace_id = trace_id
        self.span_id = span_id


class RecordEvent:
    __slots__ = ("name", "attributes", "timestamp")

    def __init__(self, name: str, attributes: Mapping[str, Any], timestamp: int) -> None:
        self.name = name
        self.attributes = attributes
        self.timestamp = timestamp


class RecordStatus:
    """A span's status as the mapping reads it (``status_code``, ``description``)."""

    __slots__ = ("status_code", "description")

    def __init__(self, status_code: StatusCode, description: str | None = None) -> None:
        self.status_code = status_code
        self.description = description


class RecordScope:
    """The instrumentation scope that made a span (its ``name``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class RecordResource:
    __slots__ = ("attributes",)

    def __init__(self, attributes: Mapping[str, Any]) -> None:
        self.attributes = attributes


class SpanRecord:
    """A span as the mapping sees it, frozen at the moment it was recorded."""

    __slots__ = (
        "name",
        "attributes",
        "context",
        "start_time",
        "end_time",
        "events",
        "resource",
        "parent",
        "status",
        "instrumentation_scope",
    )

    def __init__(
        self,
        name: str,
        attributes: Mapping[str, Any],
        context: RecordContext | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        events: tuple[RecordEvent, ...] = (),
        resource: RecordResource | None = None,
        parent: RecordContext | None = None,
        status: RecordStatus | None = None,
        instrumentation_scope: RecordScope | None = None,
    ) -> None:
        self.name = name
        self.attributes = attributes
        self.context = context
        self.start_time = start_time
        self.end_time = end_time
        self.events = events
        self.resource = resource
        self.parent = parent
        self.status = status
        self.instrumentation_scope = instrumentation_scope

    def __reduce__(self) -> tuple[Any, ...]:
        # Records met outside the wire format (a fail-over, tests) still pickle.
        return (_rebuild, (to_wire(self),))


class Recorder:
    """Turns spans into wire records; the writer process turns them back into records."""

    def __init__(self) -> None:
        self._resources: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._records: dict[int, RecordResource] = {}

    def wire(self, span: Any, ended: bool = False) -> WireRecord:
        """A snapshot of ``span`` (an SDK span, live or ended) as a plain tuple.

        ``ended``: the span has ended, so its attributes can no longer change
        (the SDK ignores writes to an ended span) and are taken uncopied.
        """
        if ended:
            # The SDK's snapshot of an ended tool span, on the agent's thread (a
            # process store's joined tool use): its fields read in one go.
            fields = ended_fields(span)
            if fields is not None:
                name, attributes, ctx, start, end, resource, parent, status, scope = fields
                return (
                    name,
                    attributes,
                    None if ctx is None else (ctx.trace_id, ctx.span_id),
                    start,
                    end,
                    (),
                    self._resource(resource),
                    None if parent is None else parent.span_id,
                    (status.description or "") if status.status_code is StatusCode.ERROR else None,
                    None if scope is None else scope.name,
                )
        attributes = ended_attributes(span) if ended else attributes_copy(span)
        ctx = span.context
        # Copied first, in one C call: another thread may add an event to a live
        # span while the records are built (Python code runs between them).
        events = tuple(events_of(span))
        return (
            span.name,
            attributes,
            None if ctx is None else (ctx.trace_id, ctx.span_id),
            span.start_time,
            span.end_time,
            tuple((e.name, dict(e.attributes or {}), e.timestamp) for e in events)
            if events
            else (),
            self._resource(getattr(span, "resource", None)),
            *_lineage_fields(span),
        )

    def _resource(self, resource: Any) -> dict[str, Any] | None:
        if resource is None:
            return None
        known = self._resources.get(id(resource))
        if known is None or known[0] is not resource:
            if len(self._resources) > 64:
                self._resources.clear()
            known = (resource, dict(resource.attributes))
            self._resources[id(resource)] = known
        return known[1]

    def snapshot(self, span: Any) -> SpanRecord:
        """An ended span as a record (its wire tuple, as the receiving side would rebuild it)."""
        return self.record(self.wire(span, ended=True))

    def record(self, wire: WireRecord) -> SpanRecord:
        """The record a wire tuple stands for (one resource object per resource dict)."""
        name, attributes, ids, start, end, events, resource = wire[:7]
        parent, error, scope = wire[7:] if len(wire) > 7 else (None, None, None)
        shared = None
        if resource is not None:
            shared = self._records.get(id(resource))
            if shared is None or shared.attributes is not resource:
                if len(self._records) > 64:
                    self._records.clear()
                shared = self._records[id(resource)] = RecordResource(resource)
        return SpanRecord(
            name,
            attributes,
            None if ids is None else RecordContext(*ids),
            start,
            end,
            tuple(RecordEvent(*e) for e in events) if events else (),
            shared,
            None if parent is None or ids is None else RecordContext(ids[0], parent),
            None if error is None else RecordStatus(StatusCode.ERROR, error or None),
            None if scope is None else RecordScope(scope),
        )


def _lineage_fields(span: Any) -> tuple[Any, Any, Any]:
    """(parent span id, the ERROR status's description, scope name): what links a span to
    its ancestors, and its failure, on a path that carries a snapshot (never None-safe
    to drop: a failed tool read through an exporter must stay failed)."""
    parent = getattr(span, "parent", None)
    status = getattr(span, "status", None)
    scope = getattr(span, "instrumentation_scope", None)
    error = None
    if status is not None and status.status_code is StatusCode.ERROR:
        error = status.description or ""
    return (
        None if parent is None else parent.span_id,
        error,
        None if scope is None else scope.name,
    )


def to_wire(record: SpanRecord) -> WireRecord:
    """A record as its wire tuple (plain values: it pickles, marshals and goes to JSON)."""
    ctx = record.context
    return (
        record.name,
        dict(record.attributes),
        None if ctx is None else (ctx.trace_id, ctx.span_id),
        record.start_time,
        record.end_time,
        tuple((e.name, dict(e.attributes), e.timestamp) for e in record.events),
        None if record.resource is None else dict(record.resource.attributes),
        *_lineage_fields(record),
    )


def _rebuild(wire: WireRecord) -> SpanRecord:
    return Recorder().record(wire)


def is_wire(payload: Any) -> bool:
    """True when a queued span is already its wire tuple (a process store's joined tool use)."""
    return type(payload) is tuple


#: The receiving side's recorder: one resource object per resource dict it meets.
_RECEIVER = Recorder()


def record_from_wire(wire: WireRecord) -> SpanRecord:
    """The record a wire tuple stands for (the receiving side's, sharing resources)."""
    return _RECEIVER.record(wire)


__all__ = [
    "RecordContext",
    "RecordEvent",
    "RecordResource",
    "RecordScope",
    "RecordStatus",
    "Recorder",
    "SpanRecord",
    "WireRecord",
    "is_wire",
    "record_from_wire",
    "to_wire",
]
