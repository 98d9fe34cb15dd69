"""Copies of finished SDK spans with some fields replaced: a span as it goes on, not as recorded.

An exporter sees a span's view (its tool facts, the payload policy, the
conventions backends read), and a failed span of another instrumentation
travels with its status as attributes; both are the recorded span with a few
fields changed. :func:`replaced` is that copy, and :func:`span_fields` the
fields, for a ``ReadableSpan`` subclass that computes some of them later.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan


def span_fields(span: ReadableSpan) -> dict[str, Any]:
    """The constructor arguments that make a ``ReadableSpan`` equal to ``span``."""
    return {
        "name": span.name,
        "context": span.context,
        "parent": span.parent,
        "resource": span.resource,
        "attributes": span.attributes,
        "events": span.events,
        "links": span.links,
        "kind": span.kind,
        "status": span.status,
        "start_time": span.start_time,
        "end_time": span.end_time,
        "instrumentation_scope": span.instrumentation_scope,
    }


def replaced(span: ReadableSpan, **changes: Any) -> ReadableSpan:
    """A copy of ``span`` with ``changes`` (``attributes=``, ``events=``, ``status=`` …)."""
    return ReadableSpan(**{**span_fields(span), **changes})


__all__ = ["replaced", "span_fields"]
