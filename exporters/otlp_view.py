"""What goes out over OTLP: the spans as a tracing backend should see them.

The local store derives a tool use's input summary and file facts from its
stored input (see :mod:`otel_obs.tool_facts`), so the agent's hot path does
not put them on the span. A tracing backend (Jaeger, Tempo) shows spans as
they are, so :class:`OtlpView` adds them back on the way out, on the export
thread. It also decides how much of the payloads leaves the machine
(``OTEL_OBS_OTLP_PAYLOADS``): ``full`` sends the redacted, capped tool inputs,
outputs, entry details and assertion evidence as stored; ``none`` keeps them
local and sends the summaries only. The local store is never affected.

:func:`view_span` is that mapping; the producers' pipeline applies it to
every exporter their spans reach (``otel_obs.otel.export_step``), and
:class:`OtlpView` wraps a single exporter with it, for spans handed to an
exporter outside otel-obs's providers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_obs import conventions as c
from otel_obs.tool_facts import tool_span_facts

#: How much of the payloads goes out over OTLP (see the module docstring).
PAYLOADS = ("full", "none")
DEFAULT_PAYLOADS = "full"
#: The attributes ``none`` keeps local: free text and full payloads, on spans and events.
PAYLOAD_KEYS = frozenset(
    {
        c.TOOL_INPUT,
        c.TOOL_OUTPUT,
        c.ENTRY_DETAILS,
        c.END_ENTRY_DETAILS,
        c.ASSERTION_EVIDENCE,
    }
)


class OtlpView(SpanExporter):
    """Hands ``exporter`` each span with its derived tool facts, and payloads as configured."""

    def __init__(self, exporter: SpanExporter, payloads: str = DEFAULT_PAYLOADS) -> None:
        self.exporter = exporter
        self.payloads = check_payloads(payloads)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.exporter.export([self.view(span) for span in spans])

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)

    def view(self, span: ReadableSpan) -> ReadableSpan:
        """``span`` as it goes out (see :func:`view_span`)."""
        return view_span(span, self.payloads)


def view_span(span: ReadableSpan, payloads: str = DEFAULT_PAYLOADS) -> ReadableSpan:
    """``span`` as it goes out: a copy when anything changes, else the span itself.

    The one mapping from a stored span to an exported one, used by
    :class:`OtlpView` and by the export step every exporter's spans pass
    (``otel_obs.otel.export_step``).
    """
    attributes = span.attributes or {}
    added = _tool_facts(attributes)
    strip = payloads == "none"
    if not added and not (strip and _holds_payload(span)):
        return span
    attrs = {**attributes, **added}
    events = span.events
    if strip:
        attrs = _without_payloads(attrs)
        events = tuple(
            Event(e.name, _without_payloads(e.attributes or {}), e.timestamp) for e in events
        )
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attrs,
        events=events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def check_payloads(payloads: str) -> str:
    """``payloads`` when it is a valid policy, else ``ValueError`` naming it."""
    if payloads not in PAYLOADS:
        raise ValueError(f"payloads={payloads!r} is not valid; valid: {', '.join(PAYLOADS)}")
    return payloads


def _tool_facts(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The input summary and file facts a tool span leaves to the store, derived here."""
    if attributes.get(c.KIND) != c.KIND_TOOL or c.TOOL_INPUT_SUMMARY in attributes:
        return {}
    summary, path, operation = tool_span_facts(
        str(attributes.get(c.GEN_AI_TOOL_NAME) or ""),
        attributes.get(c.TOOL_CATEGORY),
        None,
        attributes.get(c.FILE_PATH),
        attributes.get(c.FILE_OPERATION),
        attributes.get(c.TOOL_INPUT),
    )
    derived = {c.TOOL_INPUT_SUMMARY: summary, c.FILE_PATH: path, c.FILE_OPERATION: operation}
    return {k: v for k, v in derived.items() if v is not None and k not in attributes}


def _holds_payload(span: ReadableSpan) -> bool:
    if not PAYLOAD_KEYS.isdisjoint(span.attributes or {}):
        return True
    return any(not PAYLOAD_KEYS.isdisjoint(e.attributes or {}) for e in span.events)


def _without_payloads(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if k not in PAYLOAD_KEYS}


__all__ = [
    "DEFAULT_PAYLOADS",
    "PAYLOADS",
    "PAYLOAD_KEYS",
    "OtlpView",
    "check_payloads",
    "view_span",
]
