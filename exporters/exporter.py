"""A ``SpanExporter`` into the store: the batch path for finished spans (ingest, replay).

Each finished span is mapped whole (:func:`.mapping.map_span`: start rows, its
events, end rows) by the same mapping the live processor uses, so exporting
spans the live path already stored changes nothing (invariant 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .items import Op
from .queue_front import QueueFront

if TYPE_CHECKING:
    from .mapping.values import SpanLike


class SqliteSpanExporter(SpanExporter):
    """Maps finished spans into a store.

    ``export`` queues (waiting for room rather than dropping when the queue is
    full) and returns; ``force_flush`` waits until what was queued is stored.
    The exporter closes the store at ``shutdown`` only if ``owns_store``.
    """

    def __init__(self, store: QueueFront, *, owns_store: bool = False) -> None:
        self.store = store
        self._owns_store = owns_store
        self._shut_down = False

    def export(self, spans: Sequence[SpanLike]) -> SpanExportResult:
        # SDK spans, or spans decoded from OTLP (:class:`.span_record.SpanRecord`).
        if self._shut_down or self.store.closed:
            return SpanExportResult.FAILURE
        for span in spans:
            self.store.put((Op.SPAN, span), block=True)
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.store.flush(timeout_millis / 1000)

    def shutdown(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        if self._owns_store:
            self.store.close()
        else:
            self.store.flush()
