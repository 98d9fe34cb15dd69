"""Plain, picklable snapshots of spans: what crosses the pipe to a writer process.

A live SDK span holds locks and a tracer provider and cannot be pickled. The
mapping reads only a few of its fields (``name``, ``attributes``, ``context``,
``start_time``, ``end_time``, ``events``, ``resource``), so a
:class:`SpanRecord` carries exactly those, and :mod:`.mapping` maps a record as
it maps a span: the writer process runs the one mapping, not a copy of it.

On the pipe a record travels as a plain tuple (:meth:`Recorder.wire`): tuples
and dicts pickle and unpickle in C. A provider's one resource is one dict
shared by the records of a batch, which pickle writes once per batch.

A batch whose items are all spans handed to a mapping function (what the span
processor queues) goes as ``marshal`` data (:func:`dumps_batch`): each item
becomes (function code, wire tuple, further arguments), all plain tuples, dicts,
strings and numbers, which ``marshal`` writes and reads faster than ``pickle``
(no per-container call into Python, no memo). Both ends run the same
interpreter (the writer process is started with ``sys.executable``), so the
format cannot differ. Any other batch is pickled as it is (:func:`dumps_items`):
the pickler turns each span into its wire tuple at the moment it writes it.
:func:`loads_message` reads either.
"""

from __future__ import annotations

import io
import marshal
import pickle
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from .mapping import map_event, map_span_finished, map_span_start, map_span_start_end

#: A record on the pipe: (name, attributes, (trace_id, span_id) | None, start_time,
#: end_time, ((event name, attributes, timestamp), ...), resource attributes | None).
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


class RecordResource:
    __slots__ = ("attributes",)

    def __init__(self, attributes: Mapping[str, Any]) -> None:
        self.attributes = attributes


class SpanRecord:
    """A span as the mapping sees it, frozen at the moment it was recorded."""

    __slots__ = ("name", "attributes", "context", "start_time", "end_time", "events", "resource")

    def __init__(
        self,
        name: str,
        attributes: Mapping[str, Any],
        context: RecordContext | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        events: tuple[RecordEvent, ...] = (),
        resource: RecordResource | None = None,
    ) -> None:
        self.name = name
        self.attributes = attributes
        self.context = context
        self.start_time = start_time
        self.end_time = end_time
        self.events = events
        self.resource = resource

    def __reduce__(self) -> tuple[Any, ...]:
        # Records met outside the wire format (a fail-over, tests) still pickle.
        return (_rebuild, (_to_wire(self),))


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
        inner = getattr(getattr(span, "_attributes", None), "_dict", None)
        if type(inner) is dict:
            # A copy is atomic under the GIL, like mapping.attributes_of.
            attributes = inner if ended else inner.copy()
        else:
            attrs = span.attributes
            attributes = dict(attrs) if attrs else {}
        ctx = span.context
        events = events_of(span)
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
        name, attributes, ids, start, end, events, resource = wire
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
        )


def _to_wire(record: SpanRecord) -> WireRecord:
    ctx = record.context
    return (
        record.name,
        dict(record.attributes),
        None if ctx is None else (ctx.trace_id, ctx.span_id),
        record.start_time,
        record.end_time,
        tuple((e.name, dict(e.attributes), e.timestamp) for e in record.events),
        None if record.resource is None else dict(record.resource.attributes),
    )


def _rebuild(wire: WireRecord) -> SpanRecord:
    return Recorder().record(wire)


def events_of(span: Any) -> Any:
    """A span's events without copying them (its ``events`` property copies under a lock).

    An SDK span keeps them in a ``BoundedList`` over a deque; reading the deque
    (empty for almost every span) is one attribute lookup. Other spans and
    records answer through ``events``.
    """
    inner = getattr(getattr(span, "_events", None), "_dq", None)
    if inner is not None:
        return inner
    return span.events


class SpanPickler(pickle.Pickler):
    """Pickles queued items unchanged, except that each SDK span goes as its record.

    Unpickled, a span is a :class:`SpanRecord` (see :func:`record_from_wire`).
    """

    def __init__(self, file: Any, recorder: Recorder) -> None:
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self._wire = recorder.wire

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, ReadableSpan):
            return (record_from_wire, (self._wire(obj),))
        return NotImplemented


def dumps_items(recorder: Recorder, message: Any) -> bytes:
    """``message`` pickled with every SDK span in it as a record (see :class:`SpanPickler`)."""
    buffer = io.BytesIO()
    SpanPickler(buffer, recorder).dump(message)
    return buffer.getvalue()


#: The receiving side's recorder: one resource object per resource dict it meets.
_RECEIVER = Recorder()


def record_from_wire(wire: WireRecord) -> SpanRecord:
    """The record a span was pickled as (called by the unpickler)."""
    return _RECEIVER.record(wire)


#: The mapping functions a marshalled item may name, by their index here.
WIRE_FUNCTIONS = (map_span_start, map_span_finished, map_span_start_end, map_event)
_CODES = {function: code for code, function in enumerate(WIRE_FUNCTIONS)}
#: The first byte of a marshalled frame (a pickle starts with its PROTO opcode, 0x80).
MARSHAL_TAG = b"M"
_MARSHAL_VERSION = 4  # shares repeated objects (a batch's one resource dict) by reference


def dumps_batch(recorder: Recorder, number: int, batch: list[Any]) -> bytes:
    """``("batch", number, batch)`` for the pipe: marshalled when every item allows it.

    An item allows it when it names one of :data:`WIRE_FUNCTIONS` and its span
    and further arguments are plain data; otherwise the batch is pickled
    (:func:`dumps_items`), which raises for what cannot be sent at all.
    """
    try:
        wired = _wired(recorder, batch)
        return MARSHAL_TAG + marshal.dumps(("batch", number, wired), _MARSHAL_VERSION)
    except (KeyError, TypeError, ValueError):
        return dumps_items(recorder, ("batch", number, spans_in(batch)))


def spans_in(items: list[Any]) -> list[Any]:
    """``items`` with each span queued already as a wire record turned back into a record.

    A writer process's queue may hold ended spans as wire records (see
    ``ProcessStore._joined``); a store mapping in this process, or a pickled
    batch, needs them as spans.
    """
    return [
        (item[0], record_from_wire(item[1]), *item[2:])
        if type(item) is tuple and len(item) > 1 and type(item[1]) is tuple
        else item
        for item in items
    ]


def _wired(recorder: Recorder, batch: list[Any]) -> list[tuple[Any, ...]]:
    codes, wire = _CODES, recorder.wire
    out = []
    for item in batch:
        span = item[1]
        if type(span) is tuple:  # already a wire record (see ProcessStore._joined)
            out.append((codes[item[0]], span, *item[2:]))
            continue
        if not isinstance(span, ReadableSpan | SpanRecord):
            raise TypeError(f"not a span: {type(span).__name__}")
        out.append((codes[item[0]], wire(span), *item[2:]))
    return out


def loads_message(payload: bytes | memoryview) -> Any:
    """A message from :func:`dumps_batch` or :func:`dumps_items` (spans as records)."""
    if payload[:1] != MARSHAL_TAG:
        return pickle.loads(payload)
    message = marshal.loads(payload[1:])
    if message[0] != "batch":
        return message
    functions, record = WIRE_FUNCTIONS, _RECEIVER.record
    return (
        "batch",
        message[1],
        [(functions[wired[0]], record(wired[1]), *wired[2:]) for wired in message[2]],
    )


__all__ = [
    "RecordContext",
    "RecordEvent",
    "RecordResource",
    "Recorder",
    "SpanRecord",
    "SpanPickler",
    "WireRecord",
    "MARSHAL_TAG",
    "WIRE_FUNCTIONS",
    "dumps_batch",
    "dumps_items",
    "events_of",
    "loads_message",
    "record_from_wire",
    "spans_in",
]
