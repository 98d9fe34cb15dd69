"""Producer attributes put on SDK spans without the SDK checking each value again.

The SDK copies every attribute a span starts with, or is given, through
``BoundedAttributes``, which checks and copies each value: about half a
microsecond per attribute on the agent's thread, so that a tool span's dozen
and a half attributes cost more than a bare span's whole start and end. The
producers make those values themselves (strings cleaned by
:func:`otel_obs.redaction.clean_text`, numbers, booleans): the check finds
nothing to change. So on the hot path (a tool use) they are put in place as
they are:

- :func:`start_prepared` starts a span as the SDK's ``Tracer.start_span`` does
  (the same parent, ids, sampler call, flags, metrics and processors, in the
  same order), except that the attributes are put into the new span's dict
  instead of being cleaned into it;
- :func:`set_prepared` adds attributes to a live span as ``Span.set_attributes``
  does, without the check.

Only where that gives the very span the SDK would: a plain ``Tracer`` and
``Span`` of the installed SDK, whose ``start_span`` is the one mirrored here
(its code names the same things, checked once; a test asserts it, so an SDK
upgrade that changes it is noticed); no limit on the length of values; room
for every attribute under the count limit; attributes the sampler returned
unchanged; keys not set already (the SDK would move them). Anything else goes
through the SDK's public calls, which give the same span more slowly. The
caller promises the values are ``str``, ``bool``, ``int`` or ``float`` (the
SDK would turn a list into a tuple).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.util.types import AttributeValue

#: The SDK release whose ``Tracer.start_span`` is mirrored here.
MIRRORED_RELEASE = "1.45"
#: The names ``Tracer.start_span`` uses in that release: another release's differ when
#: its steps do.
_MIRRORED_NAMES = (
    "trace_api",
    "get_current_span",
    "get_span_context",
    "isinstance",
    "SpanContext",
    "TypeError",
    "_is_enabled",
    "NonRecordingSpan",
    "is_valid",
    "id_generator",
    "generate_trace_id",
    "trace_id",
    "sampler",
    "should_sample",
    "decision",
    "is_sampled",
    "TraceFlags",
    "SAMPLED",
    "DEFAULT",
    "is_trace_id_random",
    "trace_flags",
    "random_trace_id",
    "RANDOM_TRACE_ID",
    "generate_span_id",
    "trace_state",
    "_tracer_metrics",
    "start_span",
    "is_recording",
    "_Span",
    "resource",
    "attributes",
    "span_processor",
    "instrumentation_info",
    "_span_limits",
    "_instrumentation_scope",
    "start",
)
#: The names ``Span.set_attributes`` uses in that release.
_SET_NAMES = ("_lock", "_end_time", "logger", "warning", "_attributes", "_set_items")

_SdkTracer = sdk_trace.Tracer
_SdkSpan = sdk_trace._Span  # the class the SDK's tracer makes (private, see above)
_TraceFlags = trace_api.TraceFlags
_SpanContext: type[trace_api.SpanContext] = trace_api.SpanContext
_get_current_span = trace_api.get_current_span
_INTERNAL = trace_api.SpanKind.INTERNAL


def _code_names(function: Any) -> tuple[str, ...] | None:
    code = getattr(function, "__code__", None)
    return code.co_names if code is not None else None


def mirrors_sdk() -> bool:
    """Whether the installed SDK's ``start_span`` and ``set_attributes`` are those mirrored."""
    return (
        _code_names(_SdkTracer.start_span) == _MIRRORED_NAMES
        and _code_names(sdk_trace.Span.set_attributes) == _SET_NAMES
        and hasattr(_TraceFlags, "RANDOM_TRACE_ID")
    )


_MIRRORS = mirrors_sdk()

Attributes = Mapping[str, AttributeValue]


def start_prepared(
    given: trace_api.Tracer, name: str, context: Context | None, attributes: dict[str, Any]
) -> trace_api.Span:
    """``tracer.start_span(name, context, attributes=attributes)``, without the value check.

    ``attributes``: values of type ``str``, ``bool``, ``int`` or ``float`` only.
    """
    if not _MIRRORS or type(given) is not _SdkTracer:
        return given.start_span(name, context=context, attributes=attributes)
    tracer: Any = given  # the SDK's own Tracer: its private fields are read below
    limits = tracer._span_limits
    most = limits.max_span_attributes
    if limits.max_span_attribute_length is not None or (
        most is not None and len(attributes) > most
    ):
        return tracer.start_span(name, context=context, attributes=attributes)
    # From here on, Tracer.start_span's steps, in its order.
    parent_span_context: Any = _get_current_span(context).get_span_context()
    if parent_span_context is not None and not isinstance(parent_span_context, _SpanContext):
        raise TypeError("parent_span_context must be a SpanContext or None.")
    if not tracer._is_enabled():
        # As the SDK does, None included.
        return trace_api.NonRecordingSpan(context=parent_span_context)  # type: ignore[arg-type]
    id_generator = tracer.id_generator
    if parent_span_context is None or not parent_span_context.is_valid:
        parent_span_context = None
        trace_id = id_generator.generate_trace_id()
    else:
        trace_id = parent_span_context.trace_id
    sampler = tracer.sampler
    sampling_result = sampler.should_sample(context, trace_id, name, _INTERNAL, attributes, ())
    trace_flags = (
        _TraceFlags(_TraceFlags.SAMPLED)
        if sampling_result.decision.is_sampled()
        else _TraceFlags(_TraceFlags.DEFAULT)
    )
    if parent_span_context is None:
        random_trace_id = id_generator.is_trace_id_random()
    else:
        random_trace_id = parent_span_context.trace_flags.random_trace_id
    if random_trace_id:
        trace_flags = _TraceFlags(trace_flags | _TraceFlags.RANDOM_TRACE_ID)
    span_context = _SpanContext(
        trace_id,
        id_generator.generate_span_id(),
        is_remote=False,
        trace_flags=trace_flags,
        trace_state=sampling_result.trace_state,
    )
    record_end_metrics = tracer._tracer_metrics.start_span(
        parent_span_context, sampling_result.decision
    )
    if not sampling_result.decision.is_recording():
        return trace_api.NonRecordingSpan(context=span_context)
    sampled = sampling_result.attributes
    # The sampler's attributes are what the SDK cleans into the span: when they are
    # ours, unchanged (the SDK's samplers pass them through), they need no cleaning.
    as_given = sampled == attributes
    span: Any = _SdkSpan(
        name=name,
        context=span_context,
        parent=parent_span_context,
        sampler=sampler,
        resource=tracer.resource,
        attributes=None if as_given else sampled,
        span_processor=tracer.span_processor,
        kind=_INTERNAL,
        links=(),
        instrumentation_info=tracer.instrumentation_info,
        record_exception=True,
        set_status_on_exception=True,
        limits=limits,
        instrumentation_scope=tracer._instrumentation_scope,
        record_end_metrics=record_end_metrics,
    )
    if as_given:
        span._attributes._dict.update(attributes)
    span.start(parent_context=context)
    return span


def set_prepared(span: trace_api.Span, attributes: dict[str, Any]) -> None:
    """``span.set_attributes(attributes)``, without the value check.

    ``attributes``: values of type ``str``, ``bool``, ``int`` or ``float`` only.
    """
    if _MIRRORS and type(span) is _SdkSpan:
        own: Any = span  # the SDK's own span: its private fields are read below
        bounded = own._attributes
        inner = bounded._dict
        most = bounded.maxlen
        if (
            bounded.max_value_len is None
            and (most is None or len(inner) + len(attributes) <= most)
            and inner.keys().isdisjoint(attributes)
        ):
            with own._lock:
                if own._end_time is None and not bounded._immutable:
                    inner.update(attributes)
                    return
    span.set_attributes(attributes)


__all__ = ["MIRRORED_RELEASE", "mirrors_sdk", "set_prepared", "start_prepared"]
