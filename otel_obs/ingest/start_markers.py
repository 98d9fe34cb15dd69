"""Start markers: what lets a receiver see a span that never ends.

OTLP carries finished spans only. A worker killed inside a task (SIGKILL, an
OOM kill, a lost host) never finishes its task, tool and agent spans, so a
receiver would never hear of them, while the local store shows them as
incomplete from their first second (the transcript processor writes start
rows at ``on_start``). :class:`StartMarkerProcessor` closes that gap on the
sending side: as each span starts it hands a snapshot of it, with no end time,
to an exporting span processor (normally the ``BatchSpanProcessor`` that sends
the finished spans, so markers and ends share one queue and keep their order).

Events go the same way: OTLP carries them with their span's end, so a
decision or an error recorded on a task that never ends would be lost with
it. Registered as the pipeline's event listener too (:func:`send_start_markers`
does both), the processor sends a marker for each event the producers add,
holding that one event.

``otel-obs serve`` maps a span without an end time to its start rows and the
events it holds (:mod:`.decode`); the finished span, when it comes, completes
them, its events already stored are recognised by their ids, and a late or
repeated marker never undoes an end (the mapping's start rows only fill what
is empty). Tracing backends would show a marker as a span without an
end: route markers only to otel-obs, or drop them on the way to Jaeger/Tempo
(``collector-config.yaml`` shows a filter for ``end_time_unix_nano == 0``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor

from otel_obs import conventions as c
from otel_obs.pipeline import Pipeline


class StartMarkerProcessor(SpanProcessor):
    """Sends a start marker (the span as it started, no end time) for each span of an execution.

    Only spans that carry ``obs.execution_id`` when they start get one: the
    store has nothing to key other spans by. Add it to the provider after the
    processor that fills context attributes (``otel_obs.config.attach`` adds
    that one), so the snapshot has them.
    """

    def __init__(self, exporting: SpanProcessor) -> None:
        self._exporting = exporting

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._send_marker(span, ())

    def on_event(
        self, span: trace.Span, name: str, attributes: Mapping[str, Any], timestamp_ns: int
    ) -> None:
        """A marker holding just this event (see :meth:`Pipeline.add_event_listener`)."""
        # The pipeline's spans are SDK spans: send_start_markers adds this processor to its
        # provider, an SDK TracerProvider.
        self._send_marker(cast(Span, span), (Event(name, dict(attributes), timestamp_ns),))

    def _send_marker(self, span: Span, events: tuple[Event, ...]) -> None:
        attributes = span.attributes or {}
        if not attributes.get(c.EXECUTION_ID):
            return
        self._exporting.on_end(
            ReadableSpan(
                name=span.name,
                context=span.context,
                parent=span.parent,
                resource=span.resource,
                attributes=dict(attributes),
                events=events,
                links=span.links,
                kind=span.kind,
                status=span.status,
                start_time=span.start_time,
                end_time=None,
                instrumentation_scope=span.instrumentation_scope,
            )
        )

    def on_end(self, span: ReadableSpan) -> None:
        """Finished spans are the exporting processor's own business."""

    def shutdown(self) -> None:
        self._exporting.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporting.force_flush(timeout_millis)


def send_start_markers(pipeline: Pipeline, exporting: SpanProcessor) -> StartMarkerProcessor:
    """Send ``pipeline``'s spans as they start, and their events as they are added, through
    ``exporting`` (the ``BatchSpanProcessor`` that exports the finished spans)."""
    markers = StartMarkerProcessor(exporting)
    pipeline.provider.add_span_processor(markers)
    pipeline.add_event_listener(markers)
    return markers


__all__ = ["StartMarkerProcessor", "send_start_markers"]
