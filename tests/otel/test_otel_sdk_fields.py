"""The SDK private fields the OpenTelemetry plugin code reads still exist and work.

``otel_obs.otel`` reads three private fields of the OpenTelemetry SDK and API,
each with a public fallback that is slower or does less: the provider's span
processors (to hand producer spans to the application's exporters), the API's
global provider (cheaper than ``get_tracer_provider()``), and the provider's
``_disabled`` flag (``OTEL_SDK_DISABLED`` must not turn off the local store).
Should a release rename one, these tests fail, rather than the fallback quietly
taking over.
"""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from otel_obs.otel.providers import ProducerProvider, span_processors


class Named(SpanProcessor):
    def __init__(self, name: str) -> None:
        self.name = name


def test_the_processors_of_a_provider_are_read_in_order() -> None:
    provider = TracerProvider()
    first, second = Named("first"), Named("second")
    provider.add_span_processor(first)
    provider.add_span_processor(second)
    assert span_processors(provider) == (first, second)


def test_the_api_still_keeps_its_global_provider_where_it_is_read() -> None:
    assert hasattr(trace, "_TRACER_PROVIDER")


def test_otel_sdk_disabled_does_not_turn_off_the_producers_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    plain = TracerProvider()
    assert plain._disabled is True  # the field the producers' provider resets
    assert not plain.get_tracer("t").start_span("s").is_recording()
    ours = ProducerProvider(Resource.create({}))
    span = ours.get_tracer("t").start_span("s")
    assert span.is_recording()
    span.end()


def test_the_api_still_keeps_baggage_where_the_context_processor_reads_it() -> None:
    from opentelemetry import baggage
    from opentelemetry.context import Context

    from otel_obs.exporters.context_processor import _BAGGAGE_KEY, _baggage_of

    assert _BAGGAGE_KEY is not None  # else every span pays for the API's proxy
    with_bag = baggage.set_baggage("obs.k", "v", baggage.set_baggage("x", "1"))
    for ctx in (with_bag, Context(), None):
        assert dict(_baggage_of(ctx)) == dict(baggage.get_all(ctx))
    assert dict(_baggage_of(with_bag)) == {"x": "1", "obs.k": "v"}
