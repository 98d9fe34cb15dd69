"""Context on every span: the attributes each row needs, copied from the parent span or baggage.

:class:`ContextSpanProcessor` copies the context attributes
(:data:`otel_obs.conventions.CONTEXT_KEYS`) from the parent span, else from
W3C baggage, onto each new span, so every span — the application's own spans
nested under a task included — can be mapped alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import baggage, trace
from opentelemetry.context import Context
from opentelemetry.processor.baggage import BaggageSpanProcessor
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_obs import conventions as c

from ._sdk_access import own_attributes

_INT_KEYS = frozenset({c.WAVE_NUMBER})


class ContextSpanProcessor(SpanProcessor):
    """Fills a new span's missing context attributes: parent span first, then baggage.

    Parent inheritance is for spans the producers did not make (the
    application's own spans nested under a task); spans with ``obs.kind`` take
    only baggage and ``defaults`` (e.g. a configured task list id). Explicit
    attributes always win.

    It also runs ``baggage_processor`` (the other ``obs.*`` baggage entries, see
    :func:`obs_baggage_processor`), but only when there is baggage at all: one
    baggage lookup per span decides for both, and a producer's span in a
    process without baggage costs one context lookup here, not three.
    """

    def __init__(
        self,
        defaults: Mapping[str, Any] | None = None,
        baggage_processor: SpanProcessor | None = None,
    ) -> None:
        self.set_defaults(defaults)
        self._baggage = baggage_processor

    def set_defaults(self, defaults: Mapping[str, Any] | None) -> None:
        """Use these defaults for spans started from now on (``configure()`` again)."""
        self._defaults = {k: v for k, v in (defaults or {}).items() if v is not None}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        bag = _baggage_of(parent_context)
        # Read, not copied: a containment test and a few gets on the SDK's own dict.
        own = own_attributes(span)
        if c.KIND in own:
            # A producer's span: the hot path. It states its context itself, and
            # what it leaves out (no enclosing skill, no task) is absent on
            # purpose: the span current in this thread may belong to another
            # writer, even another execution. Only baggage and defaults apply.
            if bag or self._defaults:
                self._fill(span, own, {}, bag)
        else:
            # The application's own spans inherit from their parent first.
            parent = trace.get_current_span(parent_context)
            inherited: Mapping[str, Any] = {}
            if isinstance(parent, ReadableSpan) and parent.is_recording():
                inherited = parent.attributes or {}
            if not inherited or c.KIND in inherited:
                # Its parent is ours, remote or absent: the store need not wait for a
                # parent of the same instrumentation to learn whose it is (lineage.py).
                span.set_attribute(c.LINK_TOP, True)
            self._fill(span, own, inherited, bag)
        if bag and self._baggage is not None:
            self._baggage.on_start(span, parent_context)

    def _fill(
        self,
        span: Span,
        own: Mapping[str, Any],
        inherited: Mapping[str, Any],
        bag: Mapping[str, Any],
    ) -> None:
        for key in c.CONTEXT_KEYS:
            if own.get(key) is not None:
                continue
            value = inherited.get(key)
            if value is None:
                value = bag.get(key)
                if value is not None and key in _INT_KEYS:
                    try:
                        value = int(value)  # baggage values are strings
                    except (TypeError, ValueError):
                        continue
            if value is None:
                value = self._defaults.get(key)
            if value is not None:
                span.set_attribute(key, value)


#: Where the API keeps the baggage in a context (private; None: not where it was).
_BAGGAGE_KEY = getattr(baggage, "_BAGGAGE_KEY", None)
_NO_BAGGAGE: Mapping[str, Any] = {}


def _baggage_of(parent_context: Context | None) -> Mapping[str, Any]:
    """``baggage.get_all(parent_context)``, read in place (do not change it).

    The API wraps the baggage in a new read-only proxy on every call (an empty
    one too), for every span started; the dict is read directly instead.
    """
    if parent_context is None or _BAGGAGE_KEY is None:
        return baggage.get_all(parent_context)
    bag = parent_context.get(_BAGGAGE_KEY)
    return bag if isinstance(bag, dict) else _NO_BAGGAGE


def obs_baggage_processor() -> BaggageSpanProcessor:
    """Copies the other ``obs.*`` baggage entries onto spans (context keys are ours above).

    Run by :class:`ContextSpanProcessor` (pass it as ``baggage_processor``)
    rather than added to the provider on its own.
    """
    context_keys = frozenset(c.CONTEXT_KEYS)
    return BaggageSpanProcessor(
        lambda key: key.startswith(c.EVENT_PREFIX) and key not in context_keys
    )
