"""The payloads a producer left raw on a tool span, redacted and capped where they leave.

See :mod:`otel_obs.deferred_payloads` for when a tool span carries its input
and output raw (under :data:`RAW_INPUT` / :data:`RAW_OUTPUT`) instead of
redacted: only where nothing but otel-obs reads it before it leaves the
process. Each place a span leaves by settles them first with :func:`settle`,
to exactly the values the agent's thread would have set: the store's
:func:`.items.apply` (every item any store maps passes there) and
:func:`.otlp_view.view_span` (every exporter's view of a producer span).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from otel_obs import conventions as c
from otel_obs.redaction import (
    INPUT_CAP,
    OUTPUT_CAP,
    REDACT_MARGIN,
    cap_json,
    clean_text,
    dumps,
    might_hold_secret,
    redact_and_cap,
    redact_text,
    redact_value,
    shorten,
)
from otel_obs.tool_facts import FILE_TOOLS, INPUT_SUMMARY_MAX, file_facts, salient_text

from ._sdk_access import own_attributes
from .span_record import Recorder, SpanRecord

#: A tool's input JSON (cleaned, not redacted, within ``INPUT_CAP``), until it leaves.
RAW_INPUT = "otel_obs.raw.tool.input"
#: A tool's output text (cleaned, not redacted, within :data:`OUTPUT_WINDOW`), until it leaves.
RAW_OUTPUT = "otel_obs.raw.tool.output"
#: The longest output deferred: what ``redact_and_cap`` reads of an output anyway.
OUTPUT_WINDOW = OUTPUT_CAP + REDACT_MARGIN


def has_raw(attributes: Mapping[str, Any]) -> bool:
    """Whether ``attributes`` hold a payload still to be redacted."""
    return RAW_INPUT in attributes or RAW_OUTPUT in attributes


def settle(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``attributes`` with each raw payload redacted and capped under its own key.

    The values the agent's thread would have set (no reader depends on the
    attributes' order); what a cap drops is counted. A raw key beside its
    settled key (the agent settled it after all) is dropped.
    """
    out = dict(attributes)
    raw = out.pop(RAW_INPUT, None)
    output = out.pop(RAW_OUTPUT, None)
    if type(raw) is str and raw and c.TOOL_INPUT not in out:
        facts = settled_input(out.get(c.GEN_AI_TOOL_NAME), raw, out)
        out.update(facts)
    if type(output) is str and c.TOOL_OUTPUT not in out:
        out[c.TOOL_OUTPUT] = redact_and_cap(output, OUTPUT_CAP)
    return out


def settled_input(name: Any, raw: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """``obs.tool.input`` for a deferred input (and, when redaction made it exceed the
    cap, the input's facts, as the agent's thread states them for an oversized input)."""
    suspect = might_hold_secret(raw)
    text = dumps(redact_value(_decoded(raw))) if suspect else raw
    if len(text) <= INPUT_CAP:
        return {c.TOOL_INPUT: text}
    out: dict[str, Any] = {c.TOOL_INPUT: cap_json(text, INPUT_CAP)}
    # A Write's operation was stated at its start (whether the file existed then).
    input_facts(out, str(name), _decoded(raw), out[c.TOOL_INPUT], suspect, exists=None)
    if c.FILE_OPERATION in attributes:
        out.pop(c.FILE_OPERATION, None)
    return out


def _decoded(raw: str) -> Any:
    """The value of a raw input's JSON (the producers' is always JSON; a text that came
    over OTLP under the raw key may not be, and is then redacted as a text)."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return raw


def input_facts(
    attrs: dict[str, Any],
    name: str,
    tool_input: Any,
    input_json: str,
    suspect: bool,
    exists: Callable[[str], bool] | None = os.path.exists,
) -> None:
    """Put the input summary and file facts of an input stored cut short into ``attrs``
    (the store could not read them back out of it)."""
    # A plain dict's strings are all inside its JSON, just checked: none of
    # them needs redacting unless that JSON did.
    redact = redact_text if suspect or type(tool_input) is not dict else None
    attrs[c.TOOL_INPUT_SUMMARY] = clean_text(
        shorten(salient_text(tool_input, input_json, redact), INPUT_SUMMARY_MAX)
    )
    if name in FILE_TOOLS and isinstance(tool_input, Mapping):
        file_path, operation = file_facts(name, tool_input, exists)
        if file_path is not None:
            attrs[c.FILE_PATH] = clean_text(file_path)
            if operation is not None:
                attrs[c.FILE_OPERATION] = operation


def settle_on_span(span: Any) -> None:
    """Settle a live span's raw input on the span itself (the raw key is emptied).

    For a tool span whose input was deferred but that ends where the gate
    no longer holds (a processor was added meanwhile, the writer is closing).
    """
    attributes = own_attributes(span)
    raw = attributes.get(RAW_INPUT)
    if type(raw) is str and raw and c.TOOL_INPUT not in attributes:
        span.set_attributes(
            {**settled_input(attributes.get(c.GEN_AI_TOOL_NAME), raw, attributes), RAW_INPUT: ""}
        )


def settled_span(span: Any) -> Any:
    """``span`` with its raw payloads settled, as a record (:mod:`otel_obs.exporters.span_record`).

    A record (from the writer's pipe, or a snapshot) gets new attributes; any
    other span (a live or ended SDK span) is copied into a new record first.
    """
    if type(span) is not SpanRecord:
        span = _recorder.record(_recorder.wire(span))
    span.attributes = settle(span.attributes)
    return span


_recorder = Recorder()


__all__ = [
    "OUTPUT_WINDOW",
    "RAW_INPUT",
    "RAW_OUTPUT",
    "has_raw",
    "input_facts",
    "settle",
    "settle_on_span",
    "settled_input",
    "settled_span",
]
