"""Spans of other instrumentations, restated in our attributes so they map as ours do.

Which instrumentation made a span, and where it keeps each fact, is the business
of its source module (:mod:`.sources`); this module holds what they share: the
identity a span gets (execution, instance), what a failure is, and how inputs
and outputs are cleaned, redacted and capped on their way in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import StatusCode

from otel_obs import conventions as c
from otel_obs.redaction import (
    ERROR_MESSAGE_CAP,
    INPUT_CAP,
    OUTPUT_CAP,
    cap_text,
    capped_name,
    clean_attributes,
    clean_text,
    dumps,
    redact_text,
)

from .sources import IGNORE, STEP, first, source_of
from .values import SpanLike, hex_ids


def foreign_kind(name: str | None, attrs: Mapping[str, Any]) -> str | None:
    """``tool`` or ``agent`` for a span of another instrumentation that is one, else None."""
    found = source_of(name, attrs)
    if found is None or found[1] in (STEP, IGNORE, c.KIND_LLM):
        return None
    return found[1]


def foreign_inheritance(
    name: str | None, attrs: Mapping[str, Any], parent_context: Any, span_context: Any
) -> tuple[dict[str, Any], Mapping[str, Any]]:
    """What a span takes from its parent when the parent is an agent or tool span that
    is not ours: (attributes to set on the parent, the attributes to inherit from).

    Mapping maps each span alone, so "the nearest agent ancestor" has to travel
    down the tree as spans start. It is decided when the parent's first child
    starts: by then every processor has done what it does at the parent's start,
    whatever order they were added in. The parent's execution, unless it has
    ours (baggage, an enclosing span of ours): the conversation or session id
    it states, or the conversation the GenAI utilities carry on the context
    (they put it on the agent span only when it ends); else the trace id. It is
    set on the parent too, so that the parent maps to the execution its
    descendants do. An agent parent is its descendants' instance: its agent id
    or name, else its execution.
    """
    found = source_of(name, attrs)
    if found is None or found[1] in (STEP, IGNORE, c.KIND_LLM):
        return {}, attrs
    source, kind = found
    decided: dict[str, Any] = {}
    execution = attrs.get(c.EXECUTION_ID)
    if not execution:
        conversation = source.conversation(attrs)
        if conversation is None and parent_context is not None and _ambient_conversation:
            conversation = _ambient_conversation(parent_context)
        execution = conversation or hex_ids(span_context)[0]
        if execution:
            decided[c.EXECUTION_ID] = clean_text(str(execution))
    inherited = {**attrs, **decided}
    if kind == c.KIND_AGENT:
        instance = source.agent(attrs, name) or execution
        if instance:
            inherited[c.INSTANCE_ID] = clean_text(str(instance))
    return decided, inherited


def subagent_instance(parent_name: str | None, parent_attrs: Mapping[str, Any]) -> str | None:
    """The instance of an agent span of another instrumentation that starts under a tool
    span of one (:data:`otel_obs.conventions.SUBAGENT_INSTANCE_ID`).

    ``parent_attrs`` are what the tool span passes on (:func:`foreign_inheritance`).
    None when the parent is not such a tool span or names no call.
    """
    found = source_of(parent_name, parent_attrs)
    if found is None or found[1] != c.KIND_TOOL:
        return None
    call = found[0].call_id(parent_attrs)
    caller = parent_attrs.get(c.INSTANCE_ID) or parent_attrs.get(c.EXECUTION_ID)
    if call is None or not caller:
        return None
    return clean_text(f"{caller}/{call}")


try:  # the GenAI utilities keep the conversation id of an agent run on the context
    from opentelemetry.util.genai._conversation_context import get_ambient_conversation_id
except ImportError:  # pragma: no cover - the utilities are optional
    _ambient_conversation: Callable[[Context | None], str | None] | None = None
else:
    _ambient_conversation = get_ambient_conversation_id


def _status_error(span: SpanLike, attrs: Mapping[str, Any]) -> tuple[bool, str | None]:
    """(failed, description) from the span's status, or from its status attributes."""
    if attrs.get(c.OTEL_STATUS_CODE) == "ERROR":
        return True, attrs.get(c.OTEL_STATUS_DESCRIPTION) or None
    status = getattr(span, "status", None)
    if status is not None and status.status_code is StatusCode.ERROR:
        return True, status.description or None
    return False, None


def status_attributes(span: SpanLike) -> dict[str, Any]:
    """A span's error status as attributes, for a path that carries attributes only."""
    failed, description = _status_error(span, {})
    if not failed:
        return {}
    return {c.OTEL_STATUS_CODE: "ERROR", c.OTEL_STATUS_DESCRIPTION: description or ""}


def _exception_message(span: SpanLike) -> str | None:
    for event in span.events or ():
        if event.name == c.EXCEPTION_EVENT:
            message = (event.attributes or {}).get(c.EXCEPTION_MESSAGE)
            if message:
                return str(message)
    return None


def _as_text(value: Any) -> str:
    """An attribute value as text: strings as they are, anything else (a sequence) as JSON."""
    if isinstance(value, str):
        return value
    return dumps(list(value) if isinstance(value, tuple) else value)


def _foreign_input(value: Any) -> str | None:
    """A foreign tool input as our JSON text: JSON as it is, other text as a JSON string."""
    if value is None:
        return None
    text = _as_text(value)
    try:
        json.loads(text)
    except ValueError:
        text = dumps(text)
    return redact_text(cap_text(text, INPUT_CAP))


def _foreign_output(value: Any) -> str | None:
    """A foreign tool output as text: a JSON string unwrapped, anything else as it came."""
    if value is None:
        return None
    text = _as_text(value)
    if text.startswith('"'):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, str):
            text = parsed
    return redact_text(cap_text(text, OUTPUT_CAP))


def _error_message(message: Any) -> str:
    return redact_text(str(message))[:ERROR_MESSAGE_CAP]


def _tool_instance(out: dict[str, Any], attrs: Mapping[str, Any], named: Any) -> None:
    """A foreign tool's instance: its nearest agent ancestor's (our context key), else the
    agent or conversation it names."""
    instance = attrs.get(c.INSTANCE_ID) or named
    if instance:
        out[c.INSTANCE_ID] = str(instance)


def restate(span: SpanLike, attrs: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """A finished span of another instrumentation in our attributes: (what it is, them).

    ``tool`` or ``agent``: the span maps whole, as ours do. :data:`~.sources.STEP`: a
    failed step of a tool call, which maps to its tool use's failure alone. None: the
    span stores nothing (not a span any source knows, a step that did not fail, or one
    that names no call).

    Foreign spans are mapped once, when they end: the instrumentations set ids and
    outcomes late. Execution: ours (baggage, an enclosing span of ours, or as decided
    for its ancestors); a span that arrives with none is read alone: its conversation
    or session id, else its trace id. Instance: an agent span is its own (its agent id
    or name, else its execution); a tool is its nearest agent ancestor's (our context
    key), else the agent or conversation it names.
    """
    if span.start_time is None or span.end_time is None:
        return None
    found = source_of(span.name, attrs)
    if found is None or found[1] == IGNORE:
        return None
    source, kind = found
    failed, description = _status_error(span, attrs)
    description = source.error_message(description)
    error_type = attrs.get(c.ERROR_TYPE)
    if description is not None and description == error_type:
        # The type alone (ADK's status of a failed tool, so that no tool content lands in
        # an attribute its content toggle cannot gate): the exception says what failed.
        description = _exception_message(span) or description
    if kind == STEP:
        step_message = getattr(source, "step_failure", lambda _: None)(attrs)
        if not (failed or error_type or step_message):
            return None
    # Texts as the producers make theirs (NUL and lone surrogates as U+FFFD): SQLite
    # would cut an id at NUL, merging ids the JSONL keeps apart.
    attrs = clean_attributes(dict(attrs))
    conversation, own_agent = source.conversation(attrs), source.agent(attrs, span.name)
    execution = attrs.get(c.EXECUTION_ID) or conversation or hex_ids(span.context)[0]
    if not execution:
        return None
    out = attrs
    out[c.KIND] = c.KIND_TOOL if kind == STEP else kind
    out[c.EXECUTION_ID] = str(execution)
    if kind in (c.KIND_LLM, c.KIND_AGENT):
        usage = source.usage(attrs)
        if usage is None and kind == c.KIND_LLM:  # a call that states no usage: still a call
            usage = {
                "model": first(attrs, source.model_keys),
                "provider": first(attrs, source.provider_keys),
            }
        if usage is not None:
            out[c.USAGE] = usage
        out[c.USAGE_SOURCE] = source.name
    if kind == c.KIND_LLM:
        _tool_instance(out, attrs, own_agent or conversation)
        return kind, out
    if kind == c.KIND_AGENT:
        out[c.INSTANCE_ID] = str(attrs.get(c.RUN_INSTANCE_ID) or own_agent or execution)
        if failed or error_type:
            out[c.AGENT_STATUS] = "failed"
            # Redacted and capped as a failed tool's message is.
            out[c.AGENT_ERROR] = _error_message(
                description or _exception_message(span) or str(error_type)
            )
        return kind, out
    _tool_instance(out, attrs, own_agent or conversation)
    tool_id = source.call_id(attrs)
    if kind == STEP:
        if tool_id is None:
            return None
        message = (
            description
            or attrs.get(c.CLAUDE_CODE_ERROR)
            or _exception_message(span)
            or error_type
            or "failed"
        )
        out[c.GEN_AI_TOOL_CALL_ID] = str(tool_id)
        out[c.TOOL_RESULT_STATUS] = "error"
        out[c.TOOL_ERROR_MESSAGE] = _error_message(message)
        return kind, out
    out[c.GEN_AI_TOOL_NAME] = capped_name(source.tool_name(span.name, attrs) or "unknown")
    out[c.GEN_AI_TOOL_CALL_ID] = str(tool_id) if tool_id is not None else None
    out[c.TOOL_INPUT] = _foreign_input(source.tool_input(attrs))
    output = _foreign_output(source.tool_output(attrs))
    out[c.TOOL_OUTPUT] = output
    handled = None if (failed or error_type) else source.handled_failure(attrs, output)
    if failed or error_type or handled:
        message = handled or description or _exception_message(span) or output or error_type
        out[c.TOOL_RESULT_STATUS] = "error"
        out[c.TOOL_ERROR_MESSAGE] = _error_message(message)
    else:
        out[c.TOOL_RESULT_STATUS] = "done"
    return kind, out


__all__ = [
    "first",
    "foreign_inheritance",
    "foreign_kind",
    "restate",
    "status_attributes",
    "subagent_instance",
]
