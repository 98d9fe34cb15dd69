"""The producers' own tracer provider, and the application's provider beside it.

Producers never take the global provider: they start spans on a
:class:`ProducerProvider` of their own, whoever configured what. That keeps
three promises the global provider cannot:

- an application that sets its own provider later still can (the global
  provider may be set once per process), and keeps its exporters;
- the local store does not depend on sampling: the provider's
  :class:`~.sampling.StoreSampler` keeps every producer span recording;
- the local store does not depend on span limits: this provider has none, so
  no id, path or payload is cut (``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT``) and no
  attribute the mapping needs is evicted (``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT``).
  Payloads are already capped by the producers themselves.

The application's spans stay on the application's provider, with its
sampler and limits; :func:`app_provider` finds it (the global SDK provider,
whenever it is set) and :mod:`.export_step` hands it the producers' sampled
spans, so its exporters see them too.
"""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, SpanProcessor, TracerProvider

from .app_provider import app_provider, mark_producer_provider
from .sampling import StoreSampler
from .standard import warn_once

#: No limit at all: store rows must never depend on the SDK's span limits.
UNLIMITED = SpanLimits(
    max_attributes=SpanLimits.UNSET,
    max_events=SpanLimits.UNSET,
    max_links=SpanLimits.UNSET,
    max_span_attributes=SpanLimits.UNSET,
    max_event_attributes=SpanLimits.UNSET,
    max_link_attributes=SpanLimits.UNSET,
    max_attribute_length=SpanLimits.UNSET,
    max_span_attribute_length=SpanLimits.UNSET,
)


class ProducerProvider(TracerProvider):
    """The producers' provider: every producer span recorded, no span limits, never global.

    ``OTEL_SDK_DISABLED=true`` makes an SDK provider hand out no-op tracers;
    here it turns off what is exported (see ``otel_obs.config``), not the
    local store, which is the product's own record.
    """

    def __init__(self, resource: Resource) -> None:
        super().__init__(sampler=StoreSampler(), resource=resource, span_limits=UNLIMITED)
        if getattr(self, "_disabled", False):
            self._disabled = False


mark_producer_provider(ProducerProvider)


def span_processors(provider: TracerProvider) -> tuple[SpanProcessor, ...]:
    """The processors on ``provider``, in order (the SDK keeps them in a private field).

    Without that field (another SDK release) nothing is handed over, said once.
    """
    active = getattr(provider, "_active_span_processor", None)
    processors = getattr(active, "_span_processors", None)
    if isinstance(processors, tuple):
        return processors
    warn_once(
        "processors",
        "cannot read the application's span processors in this SDK release; "
        "its exporters will not receive otel-obs spans",
    )
    return ()


__all__ = ["UNLIMITED", "ProducerProvider", "app_provider", "span_processors"]
