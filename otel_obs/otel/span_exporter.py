"""The ``otel_obs`` span exporter: ``OTEL_TRACES_EXPORTER=otel_obs,otlp`` under any distro.

Built without arguments (the SDK's configurator does that), it writes into
the store the ``OTEL_OBS_*`` variables name — the same store the producers'
default pipeline writes, through the same store object. It is the batch
path: a span is stored when it ends and the batch is exported, so there are
no pending start rows for the spans it carries (an operation that never ends
leaves nothing). The producers' own spans are not taken twice: their
pipeline stores them live, start rows included, whatever the sampler says.
"""

from __future__ import annotations

import atexit
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_obs.exporters.exporter import SqliteSpanExporter
from otel_obs.pipeline import INSTRUMENTATION_NAME


class ObsSpanExporter(SpanExporter):
    """Stores the application's spans in the local store (batch path; see the module doc)."""

    def __init__(self) -> None:
        from otel_obs.config import get_pipeline

        self.pipeline = get_pipeline()
        store = self.pipeline.store
        self._exporter = SqliteSpanExporter(store) if store is not None else None
        # The store closes at exit before the provider that holds this exporter
        # shuts down (exit handlers run last-registered first, and the store was
        # opened after that provider was made): flush the provider's batches first.
        atexit.register(_flush_app_provider)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._exporter is None:  # OTEL_OBS_ENABLED=false
            return SpanExportResult.SUCCESS
        theirs = [s for s in spans if _scope(s) != INSTRUMENTATION_NAME]
        return self._exporter.export(theirs) if theirs else SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis) if self._exporter else True

    def shutdown(self) -> None:
        if self._exporter is not None:
            self._exporter.shutdown()  # flushes; the store is the pipeline's to close


def _flush_app_provider() -> None:
    from .providers import app_provider

    provider = app_provider()
    if provider is not None:
        provider.force_flush(10_000)


def _scope(span: ReadableSpan) -> str | None:
    scope = span.instrumentation_scope
    return scope.name if scope is not None else None


__all__ = ["ObsSpanExporter"]
