"""The standard ``OTEL_*`` settings, read the way the OpenTelemetry SDK reads them.

The exporters themselves read their endpoint, headers, timeout, compression
and certificates (generic and ``_TRACES_`` variables) when built without
arguments, so they are built that way. What is decided here is which
exporters to build (``OTEL_TRACES_EXPORTER``, a comma-separated list), which
OTLP protocol (``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL``, else
``OTEL_EXPORTER_OTLP_PROTOCOL``), the resource (``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES`` win over our default service name; process and
host detectors add theirs) and whether the SDK is disabled.

A value we cannot use is logged once and skipped: configuration must never
raise inside a producer (the agent would die for a telemetry setting).
``configure()`` asks for ``strict`` reading, so an application that calls it
directly still gets a clear error for a value that is not valid at all.
"""

from __future__ import annotations

import functools
import logging
import os
import threading

from opentelemetry.environment_variables import OTEL_TRACES_EXPORTER
from opentelemetry.sdk.environment_variables import (
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    OTEL_SDK_DISABLED,
)
from opentelemetry.sdk.resources import (
    SERVICE_NAME,
    OTELResourceDetector,
    Resource,
    ResourceDetector,
    get_aggregated_resources,
)
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.util._importlib_metadata import entry_points

logger = logging.getLogger("otel_obs")

DEFAULT_SERVICE_NAME = "otel-obs"
#: What ``OTEL_TRACES_EXPORTER`` may name besides other installed exporters.
OTLP, CONSOLE, NONE, OTEL_OBS = "otlp", "console", "none", "otel_obs"
#: The OTLP protocols of the OpenTelemetry specification.
PROTOCOLS = ("grpc", "http/protobuf", "http/json")
#: The resource detectors added to the ``otel`` one (environment) the SDK always runs.
DETECTORS = ("process", "host")

_warned: set[str] = set()
_warned_lock = threading.Lock()


def warn_once(key: str, message: str, *args: object) -> None:
    """Log ``message`` the first time ``key`` is seen in this process, never again."""
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    logger.warning("otel-obs: " + message, *args)


def sdk_disabled() -> bool:
    """``OTEL_SDK_DISABLED=true`` (the SDK's own reading: only ``true``, any case)."""
    return os.environ.get(OTEL_SDK_DISABLED, "").strip().lower() == "true"


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value.strip() if value and value.strip() else None


def traces_protocol() -> tuple[str, str | None]:
    """The OTLP protocol for traces and the variable it came from (per-signal first)."""
    for name in (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL):
        value = _env(name)
        if value is not None:
            return value, name
    return "grpc", None


def endpoint_configured() -> bool:
    """Whether an OTLP endpoint is set in the environment (generic or for traces)."""
    return _env(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is not None or (
        _env(OTEL_EXPORTER_OTLP_ENDPOINT) is not None
    )


def exporter_names(otlp_endpoint: str | None = None) -> list[str]:
    """The span exporters to build, in order, without duplicates.

    ``OTEL_TRACES_EXPORTER`` as a comma-separated list (``none`` alone: no
    exporter). Unset, OTLP is on only when an endpoint is given (argument or
    variable): the local store is the product's own record, and an OTLP
    exporter aimed at a collector nobody runs only retries and slows exits.
    An ``otlp_endpoint`` argument always asks for OTLP.
    """
    raw = _env(OTEL_TRACES_EXPORTER)
    if raw is None:
        names = [OTLP] if otlp_endpoint or endpoint_configured() else []
    else:
        names = [n.strip().lower() for n in raw.split(",") if n.strip()]
        if NONE in names:
            if len(names) > 1:
                warn_once(
                    "exporter-none",
                    "%s=%r names 'none' with other exporters; nothing is exported",
                    OTEL_TRACES_EXPORTER,
                    raw,
                )
            names = []
    if otlp_endpoint and OTLP not in names:
        names.append(OTLP)
    return list(dict.fromkeys(names))


def build_exporters(
    names: list[str], otlp_endpoint: str | None = None, *, strict: bool = False
) -> list[SpanExporter]:
    """An exporter for each name; one that cannot be built is logged once and skipped.

    ``otel_obs`` is skipped here: the caller's own pipeline is the store. With
    ``strict``, an OTLP protocol that is not valid at all raises ``ValueError``.
    """
    exporters: list[SpanExporter] = []
    for name in names:
        if name == OTEL_OBS:
            continue
        try:
            exporter = _build(name, otlp_endpoint, strict)
        except Exception as exc:  # a broken exporter must not take the agent down
            if strict and isinstance(exc, ValueError):
                raise
            warn_once(
                f"exporter-{name}", "span exporter %r cannot be built (%s); skipped", name, exc
            )
            exporter = None
        if exporter is not None:
            exporters.append(exporter)
    return exporters


def _build(name: str, otlp_endpoint: str | None, strict: bool) -> SpanExporter | None:
    if name == OTLP:
        return otlp_exporter(otlp_endpoint, strict=strict)
    if name == CONSOLE:
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    return _entry_point_exporter(name)


def otlp_exporter(endpoint: str | None = None, *, strict: bool = False) -> SpanExporter | None:
    """The OTLP span exporter for the configured protocol; None (logged once) if unusable.

    Built without arguments unless ``endpoint`` is given, so it reads its other
    standard variables itself. ``endpoint`` is a base address like
    ``OTEL_EXPORTER_OTLP_ENDPOINT``: over HTTP, ``/v1/traces`` is added.
    """
    protocol, source = traces_protocol()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpExporter,
        )

        if endpoint and not endpoint.rstrip("/").endswith("/v1/traces"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        return HttpExporter(endpoint=endpoint) if endpoint else HttpExporter()
    if protocol == "http/json":
        # The specification's third protocol; the installed exporters do not offer it.
        warn_once(
            "protocol-http/json",
            "%s=http/json is not supported by the installed OTLP exporter; OTLP export is off",
            source,
        )
        return None
    message = f"{source}={protocol!r} is not valid; valid: {', '.join(PROTOCOLS)}"
    if strict:
        raise ValueError(message)
    warn_once(f"protocol-{protocol}", "%s; OTLP export is off", message)
    return None


def _entry_point_exporter(name: str) -> SpanExporter | None:
    """An installed ``opentelemetry_traces_exporter`` by name, built without arguments."""
    found = list(entry_points(group="opentelemetry_traces_exporter", name=name))
    if not found:
        warn_once(
            f"exporter-{name}",
            "%s names %r, which no installed package provides; skipped",
            OTEL_TRACES_EXPORTER,
            name,
        )
        return None
    exporter_class = found[0].load()
    return exporter_class()


def resource(service_name: str | None = None) -> Resource:
    """The resource for spans: argument, else the standard variables, else ``otel-obs``.

    ``OTEL_SERVICE_NAME`` and ``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES``
    win over the default; the ``process`` and ``host`` detectors add their
    attributes under whatever the variables say.
    """
    given: dict[str, str] = {}
    if service_name:
        given[SERVICE_NAME] = service_name
    elif not OTELResourceDetector().detect().attributes.get(SERVICE_NAME):
        given[SERVICE_NAME] = DEFAULT_SERVICE_NAME
    stated = Resource.create(given)
    detected = get_aggregated_resources(_detectors(), initial_resource=Resource.get_empty())
    return detected.merge(stated)


def _detectors() -> list[ResourceDetector]:
    detectors: list[ResourceDetector] = []
    for name, detector_class in _detector_classes():
        try:
            detectors.append(detector_class())
        except Exception as exc:  # a detector is a nicety, never a failure
            warn_once(f"detector-{name}", "resource detector %r failed (%s)", name, exc)
    return detectors


@functools.cache
def _detector_classes() -> tuple[tuple[str, type[ResourceDetector]], ...]:
    """The installed ``process`` and ``host`` detectors (looked up once: entry points are slow)."""
    found: list[tuple[str, type[ResourceDetector]]] = []
    for name in DETECTORS:
        for entry in entry_points(group="opentelemetry_resource_detector", name=name):
            try:
                found.append((name, entry.load()))
            except Exception as exc:
                warn_once(f"detector-{name}", "resource detector %r failed (%s)", name, exc)
            break
    return tuple(found)


__all__ = [
    "DEFAULT_SERVICE_NAME",
    "build_exporters",
    "endpoint_configured",
    "exporter_names",
    "otlp_exporter",
    "resource",
    "sdk_disabled",
    "traces_protocol",
    "warn_once",
]
