"""Which provider is the application's: the global SDK provider, once set, unless it is ours.

Asked at every producer span (by the sampler and the export step), so it is
kept here, apart, cheap to import and to call.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

_MISSING = object()

_app: TracerProvider | None = None
_ours: tuple[type, ...] = ()


def mark_producer_provider(kind: type) -> None:
    """Providers of this class are the producers' own, never the application's."""
    global _ours
    _ours = (*_ours, kind)


def app_provider() -> TracerProvider | None:
    """The application's SDK provider, or None while there is none.

    Kept once found: OpenTelemetry lets the global provider be set only once.
    Until then the API's global is read directly (``trace._TRACER_PROVIDER``,
    with ``get_tracer_provider()`` as the fallback should a release rename
    it): ``get_tracer_provider()`` looks up an environment variable at every
    call, which cost more than the rest of a producer span's sampling.
    """
    global _app
    if _app is not None:
        return _app
    current = getattr(trace, "_TRACER_PROVIDER", _MISSING)
    if current is None:
        return None
    if current is _MISSING:
        current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider) and not isinstance(current, _ours):
        _app = current
        return current
    return None


__all__ = ["app_provider", "mark_producer_provider"]
