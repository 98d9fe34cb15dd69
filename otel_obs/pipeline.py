"""What a producer writes through: a tracer, and the processor that stores spans.

A :class:`Pipeline` ties one SDK ``TracerProvider`` to one store (a SQLite file
and a transcripts folder). Producers start spans on ``pipeline.tracer`` and add
transcript events with :meth:`Pipeline.add_event`, which also hands the event
to the transcript processor at once: span processors only see events when the
span ends, and an agent's decision inside an hour-long task must be in the
store within a second, in the order it happened.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span, Tracer
from opentelemetry.util.types import AttributeValue

from . import conventions as c
from .store_location import StoreLocation

INSTRUMENTATION_NAME = "otel_obs"


class EventSink(Protocol):
    """Receives span events as they are added (the transcript processor is one)."""

    def on_event(
        self,
        span: Span,
        name: str,
        attributes: Mapping[str, AttributeValue],
        timestamp_ns: int,
    ) -> None: ...

    def force_flush(self, timeout_millis: int = 30000) -> bool: ...


class Pipeline:
    """A tracer plus the sink that stores what it records."""

    def __init__(
        self,
        provider: TracerProvider,
        sink: EventSink | None = None,
        *,
        db_path: StoreLocation | None = None,
        transcripts_dir: Path | None = None,
        store: Any = None,
    ) -> None:
        from . import __version__

        self.provider = provider
        self.sink = sink
        self.db_path = db_path
        self.transcripts_dir = transcripts_dir
        #: The ``otel_obs.exporters.store.Store`` behind ``sink``, when there is one.
        self.store = store
        self.tracer: Tracer = provider.get_tracer(
            INSTRUMENTATION_NAME, __version__, schema_url=c.SCHEMA_URL
        )
        #: The processor that fills context attributes (``attach`` sets it), if any.
        self.context_processor: Any = None
        #: The step that hands sampled spans to exporters (the default pipeline's), if any.
        self.export_step: Any = None
        #: The processor that ends open spans at exit (``otel_obs.otel.exit``), if any.
        self.exit_guard: Any = None
        #: Also told of every event as it is added (see :meth:`add_event_listener`).
        self._listeners: tuple[EventSink, ...] = ()

    def add_event_listener(self, listener: EventSink) -> None:
        """Also hand every event to ``listener`` as it is added, not only when its span ends
        (start markers use this to send a span's events over OTLP before the span ends)."""
        self._listeners = (*self._listeners, listener)

    def add_event(
        self,
        span: Span,
        name: str,
        attributes: Mapping[str, AttributeValue],
        timestamp_ns: int | None = None,
    ) -> None:
        """Add an event to ``span`` and store it now, not when the span ends."""
        ts = timestamp_ns if timestamp_ns is not None else time.time_ns()
        span.add_event(name, attributes, ts)
        if self.sink is not None:
            self.sink.on_event(span, name, attributes, ts)
        for listener in self._listeners:
            listener.on_event(span, name, attributes, ts)

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything recorded so far is stored; False on timeout."""
        if self.sink is None:
            return True
        return self.sink.force_flush(int(timeout_s * 1000))

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        """Flush and close the store (idempotent); the tracer keeps working but stores nothing."""
        done = self.flush(timeout_s)
        if self.store is not None:
            done = self.store.close(timeout_s) and done
        return done
