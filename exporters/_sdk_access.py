"""Reads of the OpenTelemetry SDK's private span fields, in one place, each with its fallback.

The SDK hands a span's attributes out through a read-only proxy over a locked
mapping (a Python call per lookup) and its events as a copy made under a lock.
The store reads some forty keys of every span and the events of every span, on
the agent's thread, so it reads the dict and the deque underneath instead:
``span._attributes._dict`` (a ``BoundedAttributes``) and ``span._events._dq``
(a ``BoundedList``). Anything else — a span of another SDK, a record from the
writer's pipe, a newer SDK that renamed the fields — goes through the public
properties, which give the same answers more slowly.
:func:`fast_path_available` tells whether the installed SDK still has the
fields (a test asserts it, so an SDK upgrade that loses them is noticed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def own_attributes(span: Any) -> Mapping[str, Any]:
    """The span's attributes, read in place (not a copy: do not keep or change it)."""
    inner = getattr(getattr(span, "_attributes", None), "_dict", None)
    if type(inner) is dict:
        return inner
    attrs = span.attributes
    return attrs if attrs is not None else {}


def attributes_copy(span: Any) -> dict[str, Any]:
    """A plain-dict snapshot of the span's attributes.

    Copying the SDK's dict is atomic under the GIL, so this is safe on a span
    another thread is still setting attributes on.
    """
    inner = getattr(getattr(span, "_attributes", None), "_dict", None)
    if type(inner) is dict:
        return inner.copy()
    attrs = span.attributes
    return dict(attrs) if attrs else {}


def ended_attributes(span: Any) -> dict[str, Any]:
    """The attributes of an ended span, uncopied when they are the SDK's own dict.

    The SDK ignores writes to an ended span, so its dict can no longer change.
    """
    inner = getattr(getattr(span, "_attributes", None), "_dict", None)
    if type(inner) is dict:
        return inner
    attrs = span.attributes
    return dict(attrs) if attrs else {}


def events_of(span: Any) -> Any:
    """A span's events without copying them (empty for almost every span)."""
    inner = getattr(getattr(span, "_events", None), "_dq", None)
    if inner is not None:
        return inner
    return span.events


#: What :func:`ended_fields` reads of the SDK's snapshot of an ended span.
EndedFields = tuple[Any, dict[str, Any], Any, Any, Any, Any, Any, Any, Any]


def ended_fields(span: Any) -> EndedFields | None:
    """The fields of an SDK ``ReadableSpan`` without events, read from its ``__dict__``:
    (name, attributes dict, context, start_time, end_time, resource, parent, status,
    instrumentation_scope); None when anything is not where this SDK keeps it (or the
    span has events), and the caller reads the public properties instead.

    An ended span's attributes can no longer change, so the dict is not copied.
    """
    fields = getattr(span, "__dict__", None)
    if fields is None:
        return None
    try:
        attributes = fields["_attributes"]._dict
        events = fields["_events"]._dq
        out = (
            fields["_name"],
            attributes,
            fields["_context"],
            fields["_start_time"],
            fields["_end_time"],
            fields["_resource"],
            fields["_parent"],
            fields["_status"],
            fields["_instrumentation_scope"],
        )
    except (KeyError, AttributeError):
        return None
    if type(attributes) is not dict or events:
        return None
    return out


def fast_path_available() -> bool:
    """True when the installed SDK's spans have the fields read above."""
    from opentelemetry.sdk.trace import TracerProvider

    span = TracerProvider().get_tracer(__name__).start_span("probe", attributes={"k": 1})
    try:
        span.add_event("e")
        attributes = getattr(getattr(span, "_attributes", None), "_dict", None)
        events = getattr(getattr(span, "_events", None), "_dq", None)
        return (
            type(attributes) is dict
            and attributes.get("k") == 1
            and len(events or ()) == 1
            and _probe_ended_fields()
        )
    finally:
        span.end()


def _probe_ended_fields() -> bool:
    """Whether :func:`ended_fields` reads an ended SDK span (without events) right."""
    from opentelemetry.sdk.trace import TracerProvider

    span = TracerProvider().get_tracer(__name__).start_span("probe", attributes={"k": 1})
    span.end()
    readable = span._readable_span()  # type: ignore[attr-defined]
    fields = ended_fields(readable)
    return (
        fields is not None
        and fields[0] == readable.name
        and fields[1] == dict(readable.attributes or {})
        and fields[2] is readable.context
        and (fields[3], fields[4]) == (readable.start_time, readable.end_time)
        and fields[5] is readable.resource
        and fields[6] is readable.parent
        and fields[7] is readable.status
        and fields[8] is readable.instrumentation_scope
    )


__all__ = [
    "attributes_copy",
    "ended_attributes",
    "ended_fields",
    "events_of",
    "fast_path_available",
    "own_attributes",
]
