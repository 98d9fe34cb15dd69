"""What goes out over OTLP: the spans as a tracing backend should see them.

The local store derives a tool use's input summary and file facts from its
stored input (see :mod:`otel_obs.tool_facts`), so the agent's hot path does
not put them on the span. A tracing backend (Jaeger, Tempo) shows spans as
they are, so :class:`OtlpView` adds them back on the way out, on the export
thread. It also decides how much of the payloads leaves the machine
(``OTEL_OBS_OTLP_PAYLOADS``): ``full`` sends the redacted, capped tool inputs,
outputs, entry details and assertion evidence as stored; ``none`` keeps them
local and sends the summaries only. The local store is never affected.

It also adds what backends that read the GenAI and OpenInference conventions
look for, which the store does not need: ``openinference.span.kind`` on every
span of ours; on ``invoke_agent``, ``gen_ai.provider.name`` (the span's own,
else ``OTEL_OBS_GEN_AI_PROVIDER``) and ``gen_ai.conversation.id``; on
``execute_tool``, ``gen_ai.tool.type``, and for a failed or blocked tool
``error.type``, an ``exception`` event and an ERROR status, plus the arguments
and result as ``gen_ai.tool.call.arguments`` / ``.result`` when payloads go
out; on each assertion event, ``gen_ai.evaluation.*``.

:func:`view_span` is that mapping; the producers' pipeline applies it to
every exporter their spans reach (``otel_obs.otel.export_step``), and
:class:`OtlpView` wraps a single exporter with it, for spans handed to an
exporter outside otel-obs's providers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status, StatusCode

from otel_obs import conventions as c
from otel_obs import settings
from otel_obs.tool_facts import tool_span_facts

from .payloads import has_raw, settle
from .span_copy import replaced

#: How much of the payloads goes out over OTLP (see the module docstring).
PAYLOADS = ("full", "none")
DEFAULT_PAYLOADS = "full"
#: The attributes ``none`` keeps local: free text and full payloads, on spans and events
#: (their GenAI copies are not made then; the input summary goes out either way).
PAYLOAD_KEYS = c.PAYLOAD_ATTRIBUTES


class OtlpView(SpanExporter):
    """Hands ``exporter`` each span with its derived tool facts, and payloads as configured."""

    def __init__(self, exporter: SpanExporter, payloads: str = DEFAULT_PAYLOADS) -> None:
        self.exporter = exporter
        self.payloads = check_payloads(payloads)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.exporter.export([self.view(span) for span in spans])

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)

    def view(self, span: ReadableSpan) -> ReadableSpan:
        """``span`` as it goes out (see :func:`view_span`)."""
        return view_span(span, self.payloads)


def view_span(span: ReadableSpan, payloads: str = DEFAULT_PAYLOADS) -> ReadableSpan:
    """``span`` as it goes out: a copy when anything changes, else the span itself.

    The one mapping from a stored span to an exported one, used by
    :class:`OtlpView` and by the export step every exporter's spans pass
    (``otel_obs.otel.export_step``). A tool span's payloads left raw by the
    agent's thread are redacted and capped first, here on the exporter's
    thread (:mod:`otel_obs.deferred_payloads`).
    """
    attributes = span.attributes or {}
    if has_raw(attributes):
        span = replaced(span, attributes=settle(attributes))
        attributes = span.attributes or {}
    strip = payloads == "none"
    kind = attributes.get(c.KIND)
    if kind is None and not (strip and _holds_payload(span)):
        return span  # not ours, nothing to keep local
    attrs = {**attributes, **_tool_facts(attributes), **_conventions(kind, attributes, strip)}
    events = tuple(_event_conventions(e) for e in span.events)
    status = span.status
    if kind == c.KIND_TOOL:
        events, status = _tool_failure(attrs, events, status, span.end_time, strip)
    if strip:
        attrs = _without_payloads(attrs)
        events = tuple(
            Event(e.name, _without_payloads(e.attributes or {}), e.timestamp) for e in events
        )
    return replaced(span, attributes=attrs, events=events, status=status)


def check_payloads(payloads: str) -> str:
    """``payloads`` when it is a valid policy, else ``ValueError`` naming it."""
    if payloads not in PAYLOADS:
        raise ValueError(f"payloads={payloads!r} is not valid; valid: {', '.join(PAYLOADS)}")
    return payloads


def _tool_facts(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The input summary and file facts a tool span leaves to the store, derived here."""
    if attributes.get(c.KIND) != c.KIND_TOOL or c.TOOL_INPUT_SUMMARY in attributes:
        return {}
    summary, path, operation = tool_span_facts(
        str(attributes.get(c.GEN_AI_TOOL_NAME) or ""),
        attributes.get(c.TOOL_CATEGORY),
        None,
        attributes.get(c.FILE_PATH),
        attributes.get(c.FILE_OPERATION),
        attributes.get(c.TOOL_INPUT),
    )
    derived = {c.TOOL_INPUT_SUMMARY: summary, c.FILE_PATH: path, c.FILE_OPERATION: operation}
    return {k: v for k, v in derived.items() if v is not None and k not in attributes}


#: The GenAI copies of a tool's payloads (c.DERIVED_PAYLOAD_ATTRIBUTES).
_GEN_AI_COPIES = (
    (c.TOOL_INPUT, c.GEN_AI_TOOL_CALL_ARGUMENTS),
    (c.TOOL_OUTPUT, c.GEN_AI_TOOL_CALL_RESULT),
)


def _conventions(kind: Any, attributes: Mapping[str, Any], strip: bool) -> dict[str, Any]:
    """The GenAI and OpenInference attributes a span of ``kind`` goes out with."""
    if kind is None:
        return {}
    out: dict[str, Any] = {c.OI_SPAN_KIND: c.OPENINFERENCE_KINDS.get(kind, "CHAIN")}
    if kind == c.KIND_AGENT:
        out[c.GEN_AI_OPERATION_NAME] = c.OP_INVOKE_AGENT
        out[c.GEN_AI_PROVIDER_NAME] = attributes.get(c.GEN_AI_PROVIDER_NAME) or _provider()
        # One agent instance of one execution is one conversation.
        conversation = f"{attributes.get(c.EXECUTION_ID)}/{attributes.get(c.INSTANCE_ID)}"
        out[c.GEN_AI_CONVERSATION_ID] = attributes.get(c.GEN_AI_CONVERSATION_ID) or conversation
    elif kind == c.KIND_TOOL:
        out[c.GEN_AI_TOOL_TYPE] = "function"
        if not strip:
            for source, target in _GEN_AI_COPIES:
                if attributes.get(source) is not None:
                    out[target] = attributes[source]
    return out


def _provider() -> str:
    try:
        return settings.GEN_AI_PROVIDER.resolve()
    except ValueError:  # a bad value never fails an export: the default stands
        return settings.GEN_AI_PROVIDER.default


def _tool_failure(
    attrs: dict[str, Any],
    events: tuple[Event, ...],
    status: Status,
    end_time: int | None,
    strip: bool,
) -> tuple[tuple[Event, ...], Status]:
    """A failed or blocked tool's ``error.type``, ``exception`` event and ERROR status.

    With payloads kept local (``strip``), the message is the error type only:
    a tool's error message is its error output.
    """
    result = attrs.get(c.TOOL_RESULT_STATUS)
    if result not in ("error", "blocked"):
        return events, status
    error_type = attrs.get(c.ERROR_TYPE) or ("tool_error" if result == "error" else "tool_blocked")
    reason = attrs.get(c.TOOL_ERROR_MESSAGE) or attrs.get(c.TOOL_BLOCK_REASON)
    message = error_type if strip or not reason else str(reason)
    attrs[c.ERROR_TYPE] = error_type
    exception = Event(
        "exception",
        {"exception.type": error_type, "exception.message": message},
        end_time,
    )
    if strip or status.status_code is not StatusCode.ERROR:
        # The producer's own ERROR status describes the error by its output, too.
        status = Status(StatusCode.ERROR, message[:200])
    return (*events, exception), status


_ASSERTION_EVENT = c.EVENT_PREFIX + "assertion"
_SCORES = {"pass": 1.0, "fail": 0.0}


def _event_conventions(event: Event) -> Event:
    """An assertion event with its ``gen_ai.evaluation.*`` attributes; any other as it is."""
    if event.name != _ASSERTION_EVENT:
        return event
    attrs = dict(event.attributes or {})
    result = attrs.get(c.ASSERTION_RESULT)
    attrs[c.GEN_AI_EVALUATION_NAME] = str(attrs.get(c.ASSERTION_CATEGORY) or "assertion")
    if result is not None:
        attrs[c.GEN_AI_EVALUATION_SCORE_LABEL] = str(result)
        if result in _SCORES:
            attrs[c.GEN_AI_EVALUATION_SCORE_VALUE] = _SCORES[result]
    description = attrs.get(c.ASSERTION_DESCRIPTION)
    if description:
        attrs[c.GEN_AI_EVALUATION_EXPLANATION] = str(description)
    return Event(event.name, attrs, event.timestamp)


def _holds_payload(span: ReadableSpan) -> bool:
    if not PAYLOAD_KEYS.isdisjoint(span.attributes or {}):
        return True
    return any(not PAYLOAD_KEYS.isdisjoint(e.attributes or {}) for e in span.events)


def _without_payloads(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if k not in PAYLOAD_KEYS}


__all__ = [
    "DEFAULT_PAYLOADS",
    "PAYLOADS",
    "PAYLOAD_KEYS",
    "OtlpView",
    "check_payloads",
    "view_span",
]
