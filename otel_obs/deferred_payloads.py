"""Tool payloads redacted and capped where they leave the process, not on the agent's thread.

A tool use's input (its JSON) and output are the largest texts the producers
record, and scanning them for secrets is most of what redaction costs an
agent: two passes of RE2, each of which also lets go of the GIL, so that a
busy store thread or sender takes it and the agent waits for it back. So when
nothing but otel-obs's own code can read a tool span before it leaves the
process (:class:`Gate`), :class:`~otel_obs.tool_use_logger.ToolUseLogger`
puts the payloads on the span as they are, under the private keys
:data:`RAW_INPUT` and :data:`RAW_OUTPUT`, and each place where a span leaves
the process turns them into ``obs.tool.input`` / ``obs.tool.output``,
redacted and capped exactly as the agent's thread would have (:func:`settle`):

- the store: every queued item is mapped by :func:`otel_obs.exporters.items.apply`,
  which settles its span first, in the writer process (or on the store's
  thread); the writer process redacts with the agent's rules, which the
  process store sends it, and its counts are added to :func:`otel_obs.redaction.stats`;
- every exporter (OTLP included): the producers' spans reach exporters only
  through :func:`otel_obs.exporters.otlp_view.view_span`, which settles first,
  on the exporter's thread.

A raw key that something else reads holds the text unredacted, hence the gate:
every processor on the producers' provider must be one of otel-obs's (none
of which reads a payload), and every processor the export step hands a live
span to at its start must ignore it (the SDK's batch and simple processors).
Otherwise, or when the gate closes while a tool runs, the payloads are
redacted on the agent's thread as before.

Only the common case is deferred: an input that is a plain ``dict`` that JSON
encodes without help and whose JSON is within ``INPUT_CAP``, and an output
that is not an error, within ``OUTPUT_CAP`` + ``REDACT_MARGIN``. Anything
else (an oversized payload, an error message that also becomes the span's
status) is redacted on the agent's thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

from .exporters.payloads import (
    OUTPUT_WINDOW,
    RAW_INPUT,
    RAW_OUTPUT,
    has_raw,
    input_facts,
    settle,
    settle_on_span,
    settled_span,
)
from .redaction import INPUT_CAP, clean_text

#: Encodes only what JSON holds as it is (no ``default``): anything else raises, and the
#: payload is redacted on the agent's thread, where the original value still is.
_STRICT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


def _c_encoder() -> Callable[[Any], str]:
    """``_STRICT.encode``, by a C encoder made once instead of once per call.

    ``JSONEncoder.encode`` builds its C encoder on every call, which costs as
    much again as encoding a tool's usual input (half the instructions of this
    step, on the agent's thread). The one made here skips the check for
    circular references: a cycle ends in ``RecursionError``, which the caller
    refuses like any other input JSON cannot hold.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator
        return _STRICT.encode
    # (markers, default, encoder, indent, key sep, item sep, sort_keys, skipkeys, allow_nan)
    encoder = make(
        None, _refuse, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )

    def encode(value: Any) -> str:
        return "".join(encoder(value, 0))

    return encode


_strict_encode = _c_encoder()


def raw_input_json(tool_input: Any) -> str | None:
    """The JSON to defer for ``tool_input``, or None when it must be redacted now.

    Deferred: a plain dict of JSON values whose JSON is within ``INPUT_CAP``.
    Decoded again where it leaves, such JSON is the very value
    :func:`otel_obs.redaction.redact_value` would have walked.
    """
    if type(tool_input) is not dict:
        return None
    try:
        text = _strict_encode(tool_input)
    except (ValueError, TypeError, RecursionError):
        return None
    if len(text) > INPUT_CAP:
        return None
    return clean_text(text)


# ----------------------------------------------------------------------
# The gate: may this provider's tool spans carry raw payloads?
# ----------------------------------------------------------------------

#: ``on_start`` methods that do not look at the span (the SDK's own).
_BLIND_STARTS = frozenset(
    {SpanProcessor.on_start, BatchSpanProcessor.on_start, SimpleSpanProcessor.on_start}
)


def starts_blind(processor: Any) -> bool:
    """Whether ``processor``'s ``on_start`` ignores the span it is given."""
    return getattr(type(processor), "on_start", None) in _BLIND_STARTS


def processors_of(provider: Any) -> tuple[Any, ...] | None:
    """The span processors of an SDK ``provider`` (None when they cannot be read)."""
    active = getattr(provider, "_active_span_processor", None)
    processors = getattr(active, "_span_processors", None)
    return processors if type(processors) is tuple else None


class Gate:
    """Whether a tool span started on ``provider`` may carry raw payloads (module docstring).

    Asked on every tool use, so cheap: the verdict on the provider's
    processors is kept until they change (the SDK replaces its tuple of
    processors when one is added); an export step is asked each time (its
    targets follow the application's provider).
    """

    __slots__ = ("_provider", "_verdict")

    def __init__(self, provider: Any) -> None:
        self._provider = provider
        #: (the processors judged, only ours, the export steps among them): one tuple,
        #: replaced whole, so that threads asking at once never mix two verdicts.
        self._verdict: tuple[Any, bool, tuple[Any, ...]] = (self, False, ())

    def open(self) -> bool:
        """Whether a tool span started now may carry raw payloads (asked at its start)."""
        verdict = self._verdict
        if processors_of(self._provider) is not verdict[0]:
            verdict = self._judged()
        if not verdict[1]:
            return False
        for step in verdict[2]:
            if not step.starts_blind():
                return False
        return True

    def still_open(self) -> bool:
        """Whether a tool span may end with raw payloads (asked at its end).

        Only the provider's processors see a span's end as it is: the export
        step hands on a view with the payloads redacted, whatever its targets.
        """
        verdict = self._verdict
        if processors_of(self._provider) is not verdict[0]:
            verdict = self._judged()
        return verdict[1]

    def _judged(self) -> tuple[Any, bool, tuple[Any, ...]]:
        processors = processors_of(self._provider)
        verdict = self._verdict = (processors, *_judge(processors))
        return verdict


def _judge(processors: tuple[Any, ...] | None) -> tuple[bool, tuple[Any, ...]]:
    """(only otel-obs's processors, the export steps among them)."""
    if not processors:
        return False, ()
    from opentelemetry.processor.baggage import BaggageSpanProcessor

    from .exporters.context_processor import ContextSpanProcessor
    from .exporters.processor import TranscriptSpanProcessor
    from .otel.exit import ExitGuard
    from .otel.export_step import ExportStep

    ours = (ContextSpanProcessor, TranscriptSpanProcessor, ExitGuard, ExportStep)
    steps = []
    for processor in processors:
        if type(processor) not in ours:  # exact types: a subclass may read the payloads
            return False, ()
        if type(processor) is ContextSpanProcessor:
            # It runs the processor it was given for baggage on the live span too.
            inner = getattr(processor, "_baggage", None)
            if inner is not None and type(inner) is not BaggageSpanProcessor:
                return False, ()
        if type(processor) is ExportStep:
            steps.append(processor)
    return True, tuple(steps)


__all__ = [
    "OUTPUT_WINDOW",
    "RAW_INPUT",
    "RAW_OUTPUT",
    "Gate",
    "has_raw",
    "input_facts",
    "processors_of",
    "raw_input_json",
    "settle",
    "settle_on_span",
    "settled_span",
    "starts_blind",
]
