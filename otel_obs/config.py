"""Wiring: one call that connects OpenTelemetry to the local store (and to exporters).

Producers write through a :class:`~otel_obs.pipeline.Pipeline` on a tracer
provider of their own (:class:`otel_obs.otel.providers.ProducerProvider`),
never the global one: an application that sets its provider later keeps it,
and sampling and span limits cannot take rows from the store (see
:mod:`otel_obs.otel`). ``get_pipeline()`` is what producers call: the default
pipeline (the configured one, or one made from the environment the first
time), or a private pipeline for a store at other paths, which is how tests
and tools write to a store of their own without touching the process's
tracing.

``configure()`` is for applications. Beyond the default pipeline it wires
the application's provider (the global SDK provider, created from the
standard variables when there is none): otel-obs's processors are added so
the application's own spans nested under a task reach the store too, and the
producers' sampled spans are handed to that provider's processors (its
exporters) through :class:`otel_obs.otel.export_step.ExportStep`, which
applies the payload policy on the way. When otel-obs made the application's
provider (the ``otel_obs`` configurator under ``opentelemetry-instrument``, or
``configure()`` with no SDK provider), the exporters the standard variables
ask for (``OTEL_TRACES_EXPORTER``) are the application's, as under any distro:
they carry every span of that provider, and the producers' spans too. The
exporter of an ``otlp_endpoint`` argument is otel-obs's own: the producers'
spans only. ``otlp_app_spans`` true or false overrides both ways.

Calling ``configure()`` again with the same options is a no-op; with other
options they are applied to the same pipeline (a new store for new paths or
writer settings, new exporters, a new service name). Standard variables a
producer cannot use are logged once and skipped; ``configure()`` raises a
``ValueError`` naming a value that is not valid at all.

Paths default to ``database/observability.db`` and ``transcripts/`` relative to
the working directory, overridden by ``OTEL_OBS_DB`` and
``OTEL_OBS_TRANSCRIPTS_DIR``. An explicit database path without a transcripts
folder keeps the transcripts next to it (``<db folder>/transcripts``), so a
store given by one path stays in one place.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from . import conventions as c
from . import settings
from .exporters.context_processor import ContextSpanProcessor, obs_baggage_processor
from .exporters.processor import TranscriptSpanProcessor
from .exporters.store_choice import Store, open_store
from .otel import exit as process_exit
from .otel import standard
from .otel.export_step import ExportStep
from .otel.providers import ProducerProvider, app_provider
from .pipeline import Pipeline
from .store_location import StoreArg, StoreLocation

logger = logging.getLogger(__name__)

DEFAULT_SERVICE_NAME = standard.DEFAULT_SERVICE_NAME

_lock = threading.RLock()


@dataclass
class _State:
    """What this module has made and wired so far, in one place (under ``_lock``)."""

    #: The producers' default pipeline (``get_pipeline()`` without paths, ``configure()``).
    default: Pipeline | None = None
    #: The options the default pipeline reflects now.
    default_options: Options | None = None
    #: Whether ``configure()`` has been called (it also wires the application's provider).
    configured: bool = False
    #: What ``configure()`` added to the application's provider, to follow later changes.
    app_transcript: TranscriptSpanProcessor | None = None
    app_context: ContextSpanProcessor | None = None
    app_exports: ExportStep | None = None
    #: The application's provider when ``configure()`` made it (there was none).
    app_created: TracerProvider | None = None
    #: The private pipelines of ``get_pipeline(paths)``, by (db, transcripts, writer mode).
    private: dict[tuple[StoreLocation, Path, str], Pipeline] = dataclasses.field(
        default_factory=dict
    )


_state = _State()

#: The store paths for arguments, environment and defaults (see settings.resolve_paths).
resolve_paths = settings.resolve_paths


@dataclass(frozen=True)
class Options:
    """Everything the default pipeline is built from, resolved (argument, variable, default)."""

    db: StoreLocation
    transcripts: Path
    writer: str
    flush_interval_ms: int | None
    queue_capacity: int | None
    service_name: str | None
    task_list_id: str | None
    otlp_endpoint: str | None
    otlp_payloads: str
    #: None: see :func:`_export_processors`.
    otlp_app_spans: bool | None

    def differences(self, other: Options) -> list[str]:
        """The names of the options that differ from ``other``'s."""
        return [
            f.name
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        ]


#: Options that need a new store when they change.
_STORE_OPTIONS = frozenset({"db", "transcripts", "writer", "flush_interval_ms", "queue_capacity"})
#: Options that need new exporters when they change.
_EXPORT_OPTIONS = frozenset({"otlp_endpoint", "otlp_payloads", "otlp_app_spans"})


def resolve_writer(writer: str | None = None) -> str:
    """The writer mode for this argument, else ``OTEL_OBS_WRITER``, else ``process``."""
    return settings.WRITER.resolve(writer)


def resolve_otlp_payloads(payloads: str | None = None) -> str:
    """What OTLP carries, for this argument, else ``OTEL_OBS_OTLP_PAYLOADS``, else ``full``."""
    return settings.OTLP_PAYLOADS.resolve(payloads)


def _lenient(setting: settings.Setting[Any], value: Any = None) -> Any:
    """``setting`` resolved; a bad variable is logged once and its default used (producers).

    A bad argument still raises: that is the caller's code, not configuration.
    """
    if value is not None:
        return setting.resolve(value)
    try:
        return setting.resolve(value)
    except ValueError as exc:
        standard.warn_once(f"setting-{setting.env}", "%s; using %r", exc, setting.default)
        return setting.default


def _resolve(strict: bool, **given: Any) -> Options:
    resolve = (lambda s, v=None: s.resolve(v)) if strict else _lenient
    db, transcripts = resolve_paths(given.get("db_path"), given.get("transcripts_dir"))
    return Options(
        db=db,
        transcripts=transcripts,
        writer=resolve(settings.WRITER, given.get("writer")),
        flush_interval_ms=given.get("flush_interval_ms"),
        queue_capacity=given.get("queue_capacity"),
        service_name=given.get("service_name"),
        task_list_id=given.get("task_list_id"),
        otlp_endpoint=given.get("otlp_endpoint"),
        otlp_payloads=resolve(settings.OTLP_PAYLOADS, given.get("otlp_payloads")),
        otlp_app_spans=resolve(settings.OTLP_APP_SPANS, given.get("otlp_app_spans")),
    )


def _store_enabled() -> bool:
    return bool(_lenient(settings.ENABLED))


def _build_store(options: Options, strict: bool = True) -> Store | None:
    """The store for ``options``; None when ``OTEL_OBS_ENABLED`` is false."""
    if not _store_enabled():
        return None
    given: dict[str, Any] = {
        "flush_interval_ms": options.flush_interval_ms,
        "queue_capacity": options.queue_capacity,
    }
    if not strict:  # a bad variable must not raise inside a producer
        for setting in settings.STORE_SETTINGS:
            if setting.env and given.get(setting.name) is None:
                given[setting.name] = _lenient(setting)
    return open_store(options.db, options.transcripts, options.writer, **given)


def attach(provider: TracerProvider, store: Store, task_list_id: str | None = None) -> Pipeline:
    """Add our processors (context, baggage, transcript → ``store``) to ``provider``.

    For a store with settings of its own (benchmarks, tools); ``configure`` and
    ``get_pipeline`` use it too.
    """
    defaults = {c.TASK_LIST_ID: task_list_id} if task_list_id else None
    context = ContextSpanProcessor(defaults, obs_baggage_processor())
    processor = TranscriptSpanProcessor(store)
    provider.add_span_processor(context)
    provider.add_span_processor(processor)
    pipeline = Pipeline(
        provider,
        processor,
        db_path=store.db_path,
        transcripts_dir=store.transcripts_dir,
        store=store,
    )
    pipeline.context_processor = context
    return pipeline


def _export_processors(
    options: Options, strict: bool
) -> tuple[list[SpanProcessor], list[SpanProcessor]]:
    """A batch processor per exporter to build: (the producers' spans only, the application's).

    The standard variables (``OTEL_TRACES_EXPORTER``, else OTLP for an endpoint
    variable) say how the application's provider exports. When otel-obs made
    that provider (the ``otel_obs`` configurator, ``configure()`` with none, or
    no provider yet), the exporters they ask for are built here, and they are
    the application's: on its provider, they get every span it makes, and the
    producers' spans reach them too (with the payload policy), as under any
    distro. When the application has a provider of its own, it follows the
    variables itself (a distro built its exporters, which the producers' spans
    reach): only an explicit ``otlp_endpoint`` gives an exporter, so nothing
    goes out twice. The exporter of an ``otlp_endpoint`` argument is otel-obs's
    own: the producers' spans only. ``otlp_app_spans`` true puts every exporter
    built here on the application's provider, false none of them.
    """
    if standard.sdk_disabled():
        return [], []
    app = app_provider()
    made_here = app is None or app is _state.app_created
    if made_here:
        names = standard.exporter_names(options.otlp_endpoint)
    else:
        names = [standard.OTLP] if options.otlp_endpoint else []
    ours: list[SpanProcessor] = []
    apps: list[SpanProcessor] = []
    for name in names:
        app_side = options.otlp_app_spans
        if app_side is None:  # the standard variables' exporters are the application's
            app_side = made_here and not (name == standard.OTLP and options.otlp_endpoint)
        for exporter in standard.build_exporters([name], options.otlp_endpoint, strict=strict):
            (apps if app_side and app is not None else ours).append(BatchSpanProcessor(exporter))
    return ours, apps


def _build_default(options: Options, strict: bool, exports: bool = True) -> Pipeline:
    """The producers' default pipeline: their own provider, the store, the export step.

    ``exports``: build the exporters now (``configure()`` builds them once the
    application's provider is wired, see :func:`_set_exports`).
    """
    provider = ProducerProvider(standard.resource(options.service_name))
    store = _build_store(options, strict)
    if store is not None:
        pipeline = attach(provider, store, options.task_list_id)
    else:
        pipeline = Pipeline(provider, db_path=options.db, transcripts_dir=options.transcripts)
    # Without configure() the application's provider is not wired: every exporter is ours.
    own = sum(_export_processors(options, strict), []) if exports else []
    step = ExportStep(own, options.otlp_payloads, to_app=not standard.sdk_disabled())
    provider.add_span_processor(step)
    pipeline.export_step = step
    _guard_exit(pipeline)
    if _lenient(settings.SIGTERM) and not handle_sigterm(pipeline):
        standard.warn_once(
            "sigterm",
            "OTEL_OBS_SIGTERM=true, but the store was opened outside the main thread, "
            "where Python allows no signal handler; call otel_obs.config.handle_sigterm() there",
        )
    _announce()
    return pipeline


def _guard_exit(pipeline: Pipeline) -> None:
    """End the pipeline's open spans at exit as terminated, before its store closes."""
    pipeline.exit_guard = process_exit.guard(pipeline.provider, lambda: pipeline.flush(5.0))


def handle_sigterm(pipeline: Pipeline | None = None) -> bool:
    """On SIGTERM, end ``pipeline``'s open spans as terminated, flush and close, then exit.

    ``pipeline`` defaults to the producers' default one; ``OTEL_OBS_SIGTERM=true``
    does this when it is made. Returns False when not called from the main
    thread (Python only lets it install signal handlers).
    """
    pipeline = pipeline or get_pipeline()
    guard = getattr(pipeline, "exit_guard", None)
    if guard is None:
        return False

    def close() -> None:
        pipeline.provider.force_flush(5_000)
        app = app_provider()
        if app is not None:
            app.force_flush(5_000)
        pipeline.shutdown(5.0)

    return process_exit.handle_sigterm(guard, close)


def _announce() -> None:
    """One log line when something is off: what is exported, and whether the store records."""
    store = _store_enabled()
    if standard.sdk_disabled():
        standard.warn_once(
            "sdk-disabled",
            "OTEL_SDK_DISABLED=true: nothing is exported; %s",
            "the local store keeps recording (OTEL_OBS_ENABLED=false turns it off too)"
            if store
            else "OTEL_OBS_ENABLED=false: the local store records nothing either",
        )
    elif not store:
        standard.warn_once(
            "store-disabled", "OTEL_OBS_ENABLED=false: the local store records nothing"
        )


def configure(
    db_path: StoreArg | None = None,
    transcripts_dir: str | os.PathLike[str] | None = None,
    service_name: str | None = None,
    task_list_id: str | None = None,
    otlp_endpoint: str | None = None,
    flush_interval_ms: int | None = None,
    *,
    queue_capacity: int | None = None,
    writer: str | None = None,
    otlp_payloads: str | None = None,
    otlp_app_spans: bool | None = None,
) -> Pipeline:
    """Connect the store and the exporters to the producers and the application; return
    the producers' pipeline.

    ``writer`` (or ``OTEL_OBS_WRITER``) is ``process`` (default: mapping and
    writing in a writer process of its own, so the store's work does not
    compete with the agent's threads for the GIL; falls back to ``thread`` if
    that process cannot start or dies) or ``thread`` (a background thread of
    this process: no second process, but the store's Python work competes with
    the agent for the GIL, so the agent waits more per span and the store
    keeps up with about half as many tool uses per second).

    If the global provider is an SDK ``TracerProvider`` our processors are
    added to it (its spans reach the store, and it receives the producers'
    sampled spans); otherwise one is created from the standard variables
    (resource: ``service_name``, else ``OTEL_SERVICE_NAME`` /
    ``OTEL_RESOURCE_ATTRIBUTES``, else ``otel-obs``) and set global. Exporters
    come from ``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``, ``none``, any
    installed one), and OTLP is on with ``otlp_endpoint`` or an
    ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT``; they carry the producers' spans.
    Those the variables ask for are the application's exporters when the
    provider is the one made here: they carry its spans as well. An
    ``otlp_endpoint`` exporter carries the producers' spans only.
    ``otlp_app_spans`` (or ``OTEL_OBS_OTLP_APP_SPANS``) true makes every
    exporter built here carry the application's spans too (an ``otlp_endpoint``
    one, also beside a provider of the application's), false none of them.
    ``otlp_payloads`` (or
    ``OTEL_OBS_OTLP_PAYLOADS``) is ``full`` (default: tool inputs, outputs,
    details and evidence as stored) or ``none`` (summaries only), for every
    exporter that receives the producers' spans. Calling again with the same
    options returns the same pipeline unchanged; other options are applied to
    it (other paths: the store moves, the previous one is flushed and closed).
    """
    options = _resolve(
        True,
        db_path=db_path,
        transcripts_dir=transcripts_dir,
        service_name=service_name,
        task_list_id=task_list_id,
        otlp_endpoint=otlp_endpoint,
        flush_interval_ms=flush_interval_ms,
        queue_capacity=queue_capacity,
        writer=writer,
        otlp_payloads=otlp_payloads,
        otlp_app_spans=otlp_app_spans,
    )
    return _configure(options, strict=True)


def configure_from_environment() -> Pipeline:
    """``configure()`` from the variables alone, never raising for one it cannot use.

    What the ``otel_obs`` configurator runs under ``opentelemetry-instrument``:
    a bad value there is logged once and skipped, as it is for producers.
    """
    return _configure(_resolve(False), strict=False)


def _configure(options: Options, strict: bool) -> Pipeline:
    with _lock:
        first = not _state.configured
        old = _state.default_options
        if _state.default is None or old is None:
            _state.default = _build_default(options, strict, exports=False)
            old = None
        elif not first and options == old:
            return _state.default
        else:
            _apply(_state.default, old, options)
        _state.default_options = options
        if first:
            _wire_app(_state.default, options)
            _state.configured = True
        if first or old is None or set(options.differences(old)) & _EXPORT_OPTIONS:
            _set_exports(_state.default, options, strict)
        return _state.default


def _apply(pipeline: Pipeline, old: Options, new: Options) -> None:
    """Bring ``pipeline``'s store, defaults and resource from ``old`` options to ``new`` ones.

    In place: producers hold the pipeline. Exporters are :func:`_set_exports`'s.
    """
    changed = set(new.differences(old))
    if changed & _STORE_OPTIONS:
        _move_store(pipeline, new)
    if "task_list_id" in changed:
        defaults = {c.TASK_LIST_ID: new.task_list_id} if new.task_list_id else {}
        for context in (pipeline.context_processor, _state.app_context):
            if context is not None:
                context.set_defaults(defaults)
    if "service_name" in changed:
        _set_service_name(pipeline, new.service_name)


def _set_exports(pipeline: Pipeline, options: Options, strict: bool) -> None:
    """Our exporters, fresh (see :func:`_export_processors`): the producers' only on their
    export step; the application's on an export step of its provider, which the producers'
    spans reach too. The previous exporters are shut down."""
    ours, apps = _export_processors(options, strict)
    app = app_provider()
    step = pipeline.export_step
    if step is not None:
        step.replace(ours, options.otlp_payloads, to_app=step.to_app)
    if apps and _state.app_exports is None and app is not None:
        _state.app_exports = ExportStep(apps, options.otlp_payloads, to_app=False)
        app.add_span_processor(_state.app_exports)
    elif _state.app_exports is not None:
        _state.app_exports.replace(apps, options.otlp_payloads, to_app=False)


def _move_store(pipeline: Pipeline, options: Options) -> None:
    """Point the producers' (and the application's) transcript processor at a new store."""
    store = _build_store(options)
    old = pipeline.store
    if store is not None:
        if isinstance(pipeline.sink, TranscriptSpanProcessor):
            pipeline.sink.use(store)
        else:  # the store was off and is on now
            context = ContextSpanProcessor(None, obs_baggage_processor())
            processor = TranscriptSpanProcessor(store)
            pipeline.provider.add_span_processor(context)
            pipeline.provider.add_span_processor(processor)
            pipeline.sink, pipeline.context_processor = processor, context
        if _state.app_transcript is not None:
            _state.app_transcript.use(store)
    pipeline.store = store
    pipeline.db_path, pipeline.transcripts_dir = options.db, options.transcripts
    if old is not None:
        old.close()
    at_exit = getattr(pipeline.exit_guard, "at_exit", None)
    if at_exit is not None:  # again after the new store's own exit handler: it runs first
        atexit.unregister(at_exit)
        atexit.register(at_exit)


def _set_service_name(pipeline: Pipeline, service_name: str | None) -> None:
    """A new service name on the producers' provider (and the one we created for the app)."""
    resource = standard.resource(service_name)
    for provider in (pipeline.provider, _state.app_created):
        if provider is None:
            continue
        update = getattr(provider, "_update_resource", None)
        if update is None:
            raise ValueError(
                f"service_name={service_name!r} cannot be applied: this SDK release "
                "cannot change a provider's resource; call configure() once, before tracing"
            )
        update(resource)


def _wire_app(pipeline: Pipeline, options: Options) -> None:
    """Add our processors to the application's provider (created when there is none)."""
    if standard.sdk_disabled():
        return  # nothing is exported: no global provider to make or feed
    app = app_provider()
    if app is None:
        app = TracerProvider(resource=standard.resource(options.service_name))
        trace.set_tracer_provider(app)
        if trace.get_tracer_provider() is not app:
            logger.warning(
                "otel-obs: the global tracer provider could not be replaced; "
                "spans of other tracers will not reach the store"
            )
            return
        _state.app_created = app
    if pipeline.store is not None:
        defaults = {c.TASK_LIST_ID: options.task_list_id} if options.task_list_id else None
        _state.app_context = ContextSpanProcessor(defaults, obs_baggage_processor())
        _state.app_transcript = TranscriptSpanProcessor(pipeline.store)
        app.add_span_processor(_state.app_context)
        app.add_span_processor(_state.app_transcript)


def get_pipeline(
    db_path: StoreArg | None = None,
    transcripts_dir: str | os.PathLike[str] | None = None,
    *,
    writer: str | None = None,
) -> Pipeline:
    """The pipeline producers write through; never raises for a setting it cannot use.

    With no paths: the default pipeline (configured, or made from the
    environment the first time; it does not touch the global provider). With
    paths naming another store: a cached private pipeline for them (one per
    writer mode, see :func:`configure`), isolated: its own provider, no exporters.
    """
    if db_path is None and transcripts_dir is None:
        with _lock:
            if _state.default is None:
                _state.default_options = _resolve(False, writer=writer)
                _state.default = _build_default(_state.default_options, strict=False)
            return _state.default
    db, transcripts = resolve_paths(db_path, transcripts_dir)
    mode = _lenient(settings.WRITER, writer)
    with _lock:
        default = _state.default
        if default is not None and (default.db_path, default.transcripts_dir) == (db, transcripts):
            return default
        pipeline = _state.private.get((db, transcripts, mode))
        if pipeline is not None and pipeline.store is not None and not pipeline.store.closed:
            return pipeline
        options = _resolve(False, db_path=db, transcripts_dir=transcripts, writer=mode)
        provider = ProducerProvider(standard.resource())
        store = _build_store(options, strict=False)
        if store is None:
            pipeline = Pipeline(provider, db_path=db, transcripts_dir=transcripts)
        else:
            pipeline = attach(provider, store, None)
        _guard_exit(pipeline)
        _state.private[(db, transcripts, mode)] = pipeline
        return pipeline


def configured_pipeline() -> Pipeline | None:
    """The pipeline ``configure()`` made, if it has been called."""
    return _state.default if _state.configured else None


def close_private_pipelines() -> None:
    """Flush and close every private pipeline (each keeps a writer process or thread)."""
    with _lock:
        pipelines = list(_state.private.values())
        _state.private.clear()
    for pipeline in pipelines:
        pipeline.shutdown()


__all__: list[Any] = [
    "Options",
    "attach",
    "configure",
    "configure_from_environment",
    "configured_pipeline",
    "close_private_pipelines",
    "get_pipeline",
    "handle_sigterm",
    "resolve_paths",
    "resolve_writer",
]
