"""The step every exported producer span passes: sampled only, payload policy, tool facts.

:class:`ExportStep` is a span processor on the producers' provider. It hands
each *sampled* producer span to the export processors behind it — the ones
``configure()`` built from ``OTEL_TRACES_EXPORTER`` and, unless asked not to,
every processor of the application's provider (its exporters, a distro's) —
as :func:`otel_obs.exporters.otlp_view.view_span` shows it: with the tool
facts the store derives, and without payloads when ``OTEL_OBS_OTLP_PAYLOADS``
is ``none``. So the payload policy holds for every exporter that receives our
spans, not only for the one ``configure()`` built.

The application's provider is looked up at each span (``app_provider``): an
application that sets its provider after the producers started still gets
their spans. otel-obs's own processors on that provider (which store the
application's spans) are skipped: the producers' spans are stored already.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_obs.deferred_payloads import starts_blind
from otel_obs.exporters.context_processor import ContextSpanProcessor
from otel_obs.exporters.otlp_view import check_payloads, view_span
from otel_obs.exporters.processor import TranscriptSpanProcessor
from otel_obs.exporters.span_copy import span_fields

from .providers import app_provider, span_processors

#: Processors of ours that may sit on the application's provider; never handed our spans.
_OURS = (TranscriptSpanProcessor, ContextSpanProcessor)


class ExportStep(SpanProcessor):
    """Hands sampled producer spans, as they should leave the process, to export processors."""

    def __init__(
        self,
        processors: Sequence[SpanProcessor] = (),
        payloads: str = "full",
        *,
        to_app: bool = True,
    ) -> None:
        self.payloads = check_payloads(payloads)
        self.processors: tuple[SpanProcessor, ...] = tuple(processors)
        self.to_app = to_app
        self._app_cache: tuple[tuple[SpanProcessor, ...], tuple[SpanProcessor, ...]] = ((), ())
        self._blind: tuple[tuple[SpanProcessor, ...], bool] = ((), True)

    def replace(self, processors: Sequence[SpanProcessor], payloads: str, *, to_app: bool) -> None:
        """Use these processors and policy from now on; the previous processors are shut down."""
        old = self.processors
        self.payloads = check_payloads(payloads)
        self.processors = tuple(processors)
        self.to_app = to_app
        for processor in old:
            processor.shutdown()

    def targets(self) -> tuple[SpanProcessor, ...]:
        """Our export processors, then the application's (its own processors of ours left out)."""
        if not self.to_app:
            return self.processors
        app = app_provider()
        if app is None:
            return self.processors
        current = span_processors(app)
        seen, kept = self._app_cache
        if current is not seen:
            kept = tuple(p for p in current if not isinstance(p, _OURS))
            self._app_cache = (current, kept)
        return self.processors + kept if self.processors else kept

    def starts_blind(self) -> bool:
        """Whether every processor a live span is handed to at its start ignores it, so a
        tool span may carry raw payloads (see :mod:`otel_obs.deferred_payloads`)."""
        targets = self.targets()
        seen, blind = self._blind
        if targets is not seen:
            blind = all(starts_blind(p) for p in targets)
            self._blind = (targets, blind)
        return blind

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if not span.context.trace_flags.sampled:
            return
        for processor in self.targets():
            processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if not (span.context and span.context.trace_flags.sampled):
            return  # recorded for the store only (see .sampling)
        targets = self.targets()
        if not targets:
            return
        # A producer span handed on by the producers' own step is shown already: an
        # export step on the application's provider passes it on as it is (viewed
        # twice, a failed tool would go out with two ``exception`` events).
        shown = span if isinstance(span, _Shown) else _Shown(span, self.payloads)
        for processor in targets:
            processor.on_end(shown)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(p.force_flush(timeout_millis) for p in self.processors)

    def shutdown(self) -> None:
        # Only our own: the application's processors are the application's to shut down.
        for processor in self.processors:
            processor.shutdown()


class _Shown(ReadableSpan):
    """``span`` as it goes out, worked out when an exporter first reads it.

    :func:`~otel_obs.exporters.otlp_view.view_span` derives tool facts and
    applies the payload policy (some 10 µs a tool span); here that happens
    on the exporter's thread, when it encodes the span, not on the agent's
    thread that ends it.
    """

    def __init__(self, span: ReadableSpan, payloads: str) -> None:
        # Not the source's attributes (they may hold raw payloads): only the view's.
        super().__init__(**{**span_fields(span), "attributes": None})
        self._source = span
        self._payloads = payloads
        self._shown: ReadableSpan | None = None

    def _view(self) -> ReadableSpan:
        if self._shown is None:
            self._shown = view_span(self._source, self._payloads)
        return self._shown

    @property
    def attributes(self) -> Any:
        return self._view().attributes

    @property
    def events(self) -> Any:
        return self._view().events

    @property
    def status(self) -> Any:
        return self._view().status

    @property
    def dropped_attributes(self) -> int:
        return self._source.dropped_attributes

    @property
    def dropped_events(self) -> int:
        return self._source.dropped_events

    def to_json(self, indent: int | None = 4) -> str:
        return self._view().to_json(indent)


__all__ = ["ExportStep"]
