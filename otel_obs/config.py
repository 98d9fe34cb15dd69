"""Wiring: one call that connects OpenTelemetry to the local store (and optionally OTLP).

``configure()`` is for applications: it installs the transcript processor on
the global tracer provider — adding to the application's own SDK provider when
there is one, so its spans and exporters stay as they are. ``get_pipeline()``
is what producers call: the configured pipeline, or a private one (its own
provider, not global) for a store at other paths, which is how tests and tools
write to a store of their own without touching the process's tracing.

Paths default to ``database/observability.db`` and ``transcripts/`` relative to
the working directory, overridden by ``OTEL_OBS_DB`` and
``OTEL_OBS_TRANSCRIPTS_DIR``. An explicit database path without a transcripts
folder keeps the transcripts next to it (``<db folder>/transcripts``), so a
store given by one path stays in one place.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from . import conventions as c
from . import settings
from .exporters.context_processor import ContextSpanProcessor, obs_baggage_processor
from .exporters.otlp_view import OtlpView
from .exporters.processor import TranscriptSpanProcessor
from .exporters.stores import Store, open_store
from .pipeline import Pipeline

logger = logging.getLogger(__name__)

DEFAULT_SERVICE_NAME = "otel-obs"
ENV_OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
ENV_OTLP_PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL"
OTLP_PROTOCOLS = ("grpc", "http/protobuf")

_lock = threading.RLock()
_configured: Pipeline | None = None
_private: dict[tuple[Path, Path, str], Pipeline] = {}

#: The store paths for arguments, environment and defaults (see settings.resolve_paths).
resolve_paths = settings.resolve_paths


def resolve_writer(writer: str | None = None) -> str:
    """The writer mode for this argument, else ``OTEL_OBS_WRITER``, else ``process``."""
    return settings.WRITER.resolve(writer)


def resolve_otlp_payloads(payloads: str | None = None) -> str:
    """What OTLP carries, for this argument, else ``OTEL_OBS_OTLP_PAYLOADS``, else ``full``."""
    return settings.OTLP_PAYLOADS.resolve(payloads)


def _build_store(
    db: Path,
    transcripts: Path,
    flush_interval_ms: int | None,
    queue_capacity: int | None,
    writer: str = "process",
) -> Store:
    return open_store(
        db,
        transcripts,
        writer,
        flush_interval_ms=flush_interval_ms,
        queue_capacity=queue_capacity,
    )


def attach(provider: TracerProvider, store: Store, task_list_id: str | None = None) -> Pipeline:
    """Add our processors (context, baggage, transcript → ``store``) to ``provider``.

    For a store with settings of its own (benchmarks, tools); ``configure`` and
    ``get_pipeline`` use it too.
    """
    defaults = {c.TASK_LIST_ID: task_list_id} if task_list_id else None
    processor = TranscriptSpanProcessor(store)
    provider.add_span_processor(ContextSpanProcessor(defaults, obs_baggage_processor()))
    provider.add_span_processor(processor)
    return Pipeline(
        provider,
        processor,
        db_path=store.db_path,
        transcripts_dir=store.transcripts_dir,
        store=store,
    )


def _otlp_exporter(endpoint: str | None) -> SpanExporter:
    """The OTLP span exporter for ``OTEL_EXPORTER_OTLP_PROTOCOL`` (gRPC unless http/protobuf)."""
    protocol = (os.environ.get(ENV_OTLP_PROTOCOL) or "grpc").strip()
    if protocol not in OTLP_PROTOCOLS:
        raise ValueError(
            f"{ENV_OTLP_PROTOCOL}={protocol!r} is not supported; valid: {', '.join(OTLP_PROTOCOLS)}"
        )
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        if endpoint is not None and not endpoint.rstrip("/").endswith("/v1/traces"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        return OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
        OTLPSpanExporter as GrpcExporter,
    )

    return GrpcExporter(endpoint=endpoint) if endpoint else GrpcExporter()


def configure(
    db_path: str | os.PathLike[str] | None = None,
    transcripts_dir: str | os.PathLike[str] | None = None,
    service_name: str | None = None,
    task_list_id: str | None = None,
    otlp_endpoint: str | None = None,
    flush_interval_ms: int | None = None,
    *,
    queue_capacity: int | None = None,
    writer: str | None = None,
    otlp_payloads: str | None = None,
) -> Pipeline:
    """Connect the global tracer provider to the store; return the pipeline.

    ``writer`` (or ``OTEL_OBS_WRITER``) is ``process`` (default: mapping and
    writing in a writer process of its own, so the store's work does not
    compete with the agent's threads for the GIL; falls back to ``thread`` if
    that process cannot start or dies) or ``thread`` (a background thread of
    this process: no second process, but the store's Python work competes with
    the agent for the GIL, so the agent waits more per span and the store
    keeps up with about half as many tool uses per second).

    If the global provider is already an SDK ``TracerProvider`` our processors
    are added to it; otherwise a provider (resource ``service.name``, default
    ``otel-obs``) is created and set global. With ``otlp_endpoint`` (or
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` when we create the provider) spans also go
    out over OTLP; ``otlp_payloads`` (or ``OTEL_OBS_OTLP_PAYLOADS``) is ``full``
    (default: tool inputs, outputs, details and evidence as stored) or ``none``
    (summaries only; see exporters/otlp_view.py). Calling again with the same paths returns the same
    pipeline; with other paths the transcript processor moves to a new store
    (the previous one is flushed and closed).
    """
    global _configured
    db, transcripts = resolve_paths(db_path, transcripts_dir)
    mode = resolve_writer(writer)
    payloads = resolve_otlp_payloads(otlp_payloads)
    with _lock:
        if _configured is not None:
            if (_configured.db_path, _configured.transcripts_dir) == (db, transcripts):
                return _configured
            return _move_configured(db, transcripts, flush_interval_ms, queue_capacity, mode)
        store = _build_store(db, transcripts, flush_interval_ms, queue_capacity, mode)
        current = trace.get_tracer_provider()
        created = not isinstance(current, TracerProvider)
        if created:
            resource = Resource.create({SERVICE_NAME: service_name or DEFAULT_SERVICE_NAME})
            provider = TracerProvider(resource=resource)
        else:
            provider = current  # type: ignore[assignment]
        pipeline = attach(provider, store, task_list_id)
        endpoint = otlp_endpoint or (os.environ.get(ENV_OTLP_ENDPOINT) if created else None)
        if endpoint:
            exporter = _otlp_exporter(otlp_endpoint if otlp_endpoint else None)
            provider.add_span_processor(BatchSpanProcessor(OtlpView(exporter, payloads)))
        if created:
            trace.set_tracer_provider(provider)
            if trace.get_tracer_provider() is not provider:
                logger.warning(
                    "otel-obs: the global tracer provider could not be replaced; "
                    "spans of other tracers will not reach the store"
                )
        _configured = pipeline
        return pipeline


def _move_configured(
    db: Path,
    transcripts: Path,
    flush_interval_ms: int | None,
    queue_capacity: int | None,
    writer: str,
) -> Pipeline:
    """Point the configured transcript processor at a store for new paths."""
    global _configured
    assert _configured is not None
    old = _configured
    store = _build_store(db, transcripts, flush_interval_ms, queue_capacity, writer)
    processor = old.sink
    if isinstance(processor, TranscriptSpanProcessor):
        processor.use(store)
    if old.store is not None:
        old.store.close()
    _configured = Pipeline(
        old.provider, processor, db_path=db, transcripts_dir=transcripts, store=store
    )
    return _configured


def get_pipeline(
    db_path: str | os.PathLike[str] | None = None,
    transcripts_dir: str | os.PathLike[str] | None = None,
    *,
    writer: str | None = None,
) -> Pipeline:
    """The pipeline producers write through.

    With no paths: the configured pipeline (``configure()`` with defaults the
    first time). With paths naming another store: a cached private pipeline
    for them (one per writer mode, see :func:`configure`), with its own tracer
    provider (not the global one).
    """
    if db_path is None and transcripts_dir is None:
        with _lock:
            return _configured if _configured is not None else configure(writer=writer)
    db, transcripts = resolve_paths(db_path, transcripts_dir)
    mode = resolve_writer(writer)
    with _lock:
        if _configured is not None and (_configured.db_path, _configured.transcripts_dir) == (
            db,
            transcripts,
        ):
            return _configured
        pipeline = _private.get((db, transcripts, mode))
        if pipeline is not None and not pipeline.store.closed:
            return pipeline
        resource = Resource.create({SERVICE_NAME: DEFAULT_SERVICE_NAME})
        store = _build_store(db, transcripts, None, None, mode)
        pipeline = attach(TracerProvider(resource=resource), store, None)
        _private[(db, transcripts, mode)] = pipeline
        return pipeline


def configured_pipeline() -> Pipeline | None:
    """The pipeline ``configure()`` made, if it has been called."""
    return _configured


def close_private_pipelines() -> None:
    """Flush and close every private pipeline (each keeps a writer process or thread)."""
    with _lock:
        pipelines = list(_private.values())
        _private.clear()
    for pipeline in pipelines:
        pipeline.shutdown()


__all__: list[Any] = [
    "attach",
    "configure",
    "configured_pipeline",
    "close_private_pipelines",
    "get_pipeline",
    "resolve_paths",
    "resolve_writer",
]
