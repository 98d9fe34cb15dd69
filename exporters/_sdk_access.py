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


def fast_path_available() -> bool:
    """True when the installed SDK's spans have the fields read above."""
    from opentelemetry.sdk.trace import TracerProvider

    span = TracerProvider().get_tracer(__name__).start_span("probe", attributes={"k": 1})
    try:
        span.add_event("e")
        attributes = getattr(getattr(span, "_attributes", None), "_dict", None)
        events = getattr(getattr(span, "_events", None), "_dq", None)
        return type(attributes) is dict and attributes.get("k") == 1 and len(events or ()) == 1
    finally:
        span.end()


__all__ = [
    "attributes_copy",
    "ended_attributes",
    "events_of",
    "fast_path_available",
    "own_attributes",
]
