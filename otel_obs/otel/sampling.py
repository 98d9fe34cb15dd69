"""The producers' sampler: every producer span reaches the store, exporters see the sampled ones.

The SDK gives a span that its sampler drops no processor at all, so a
sampler that drops would empty the local store (``always_off``,
``traceidratio``, a ``TRACEPARENT`` with flags ``00``). :class:`StoreSampler`
asks the application's sampler (that of the global SDK provider, else the one
``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` describe) and turns its
DROP into RECORD_ONLY (every span on the producers' provider is for the store). A
recorded, not-sampled span reaches our live processor (``on_start`` /
``on_end``) but no exporter: the SDK's export processors skip spans whose
``sampled`` flag is off, and so does :mod:`.export_step`. Sampled stays sampled,
so what leaves the process is exactly what the application's sampler chose.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from .app_provider import app_provider


class StoreSampler(Sampler):
    """The application's sampling decision, except that every span is recorded.

    It samples the producers' provider only, whose spans are all for the store
    (the producers', and those of instrumentations pointed at a pipeline).
    """

    def __init__(self) -> None:
        self._env_sampler: Sampler | None = None

    def base(self) -> Sampler:
        """The sampler that decides what is exported (looked up each time: the app may set one)."""
        app = app_provider()
        sampler = getattr(app, "sampler", None) if app is not None else None
        if isinstance(sampler, Sampler):
            return sampler
        if self._env_sampler is None:
            self._env_sampler = _sampler_from_env()
        return self._env_sampler

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        app = app_provider()
        base = getattr(app, "sampler", None) if app is not None else None
        if not isinstance(base, Sampler):
            base = self._env_sampler or self.base()
        result = base.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )
        if result.decision is Decision.DROP:
            # Recorded for the store, not sampled: no exporter sees it.
            return SamplingResult(Decision.RECORD_ONLY, attributes, result.trace_state)
        return result

    def get_description(self) -> str:
        return f"StoreSampler{{{self.base().get_description()}}}"


def _sampler_from_env() -> Sampler:
    """The sampler the SDK builds from ``OTEL_TRACES_SAMPLER`` (its own reading, its fallbacks)."""
    from opentelemetry.sdk.trace import TracerProvider

    from .providers import UNLIMITED

    return TracerProvider(span_limits=UNLIMITED, shutdown_on_exit=False).sampler


__all__ = ["StoreSampler"]
