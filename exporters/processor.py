"""The live path from the SDK into the store: a span processor that only queues.

:class:`TranscriptSpanProcessor` is what makes the store live: start rows are
queued at ``on_start`` (so a span that never ends is still visible), events
as they are added (``on_event``, called by :class:`otel_obs.pipeline.Pipeline`),
end rows at ``on_end`` (a tool span's end joins its start when the start is
still queued, see :meth:`.queue_front.QueueFront.put_end`). It only queues;
mapping and writing happen behind the queue (a writer process, or thread),
which keeps the agent's cost per span to an append.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from otel_obs import conventions as c

from ._sdk_access import own_attributes
from .items import Op
from .mapping import status_attributes
from .queue_front import QueueFront
from .span_copy import replaced


class TranscriptSpanProcessor(SpanProcessor):
    """Feeds spans and events into a store as they happen.

    Implements the ``EventSink`` protocol of :mod:`otel_obs.pipeline`.
    """

    def __init__(self, store: QueueFront) -> None:
        self.use(store)

    def use(self, store: QueueFront) -> None:
        """Feed ``store`` from now on."""
        self.store = store
        self._put: Callable[[tuple[Any, ...]], bool] = store.put
        self._put_start: Callable[[Any], bool] = store.put_start
        self._put_end: Callable[[Any], bool] = store.put_end

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if own_attributes(span).get(c.KIND) == c.KIND_TOOL:
            # Its end will most likely find the start still queued and join it.
            self._put_start(span)
        else:
            self._put((Op.START, span))

    def on_end(self, span: ReadableSpan) -> None:
        if span.status.status_code is StatusCode.ERROR and c.KIND not in own_attributes(span):
            # Another instrumentation's failed span: its status travels as attributes
            # (a writer process receives attributes, not the status).
            span = _with_attributes(span, status_attributes(span))
        self._put_end(span)

    def on_event(
        self,
        span: Any,
        name: str,
        attributes: Mapping[str, Any],
        timestamp_ns: int,
    ) -> None:
        """Store an event now rather than when its span ends."""
        self._put((Op.EVENT, span, name, dict(attributes), timestamp_ns))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.store.flush(timeout_millis / 1000)

    def shutdown(self) -> None:
        self.store.close()


def _with_attributes(span: ReadableSpan, extra: Mapping[str, Any]) -> ReadableSpan:
    """A copy of an ended span with ``extra`` added to its attributes."""
    return replaced(span, attributes={**(span.attributes or {}), **extra})
