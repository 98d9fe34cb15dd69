"""ToolUseLogger: every tool invocation as an ``execute_tool {name}`` span.

A tool span follows the OpenTelemetry GenAI conventions (``gen_ai.operation.name``
= ``execute_tool``, ``gen_ai.tool.name``, ``gen_ai.tool.call.id``) so tracing
backends show it natively, plus the redacted, capped input and output; the
store derives the rest (its ``tool_use`` entry, the input summary, the file it
touches) from those. It is started under the writer's innermost open span but NOT
made current: an agent issues several tool calls in parallel, and none of them
is "the" current one.

Blocks are duck-typed: anything with ``id``/``name``/``input`` (attributes or
mapping keys) is a tool use — ``claude_agent_sdk`` and ``anthropic``
``ToolUseBlock`` both are, and so is a Claude Agent SDK hook payload with
``tool_use_id``/``tool_name``/``tool_input`` — and anything with ``tool_use_id``/``content``/
``is_error`` is a result. Status: ``is_error`` true → ``error``, else ``done``;
:meth:`ToolUseLogger.log_blocked` → ``blocked``.

This is the hot path of the whole library, so it does as little as it can: one
JSON serialisation of the input, no redaction when the input and output can
be redacted where the span leaves the process (:mod:`.deferred_payloads`; else
one pass over each), no pydantic, no lock (dict insert/pop are atomic),
attributes passed at span start in one dict, and nothing the store can work
out later (see :mod:`otel_obs.tool_facts`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import Status, StatusCode

from . import conventions as c
from ._internal_errors import swallowed
from .deferred_payloads import (
    OUTPUT_WINDOW,
    RAW_INPUT,
    RAW_OUTPUT,
    Gate,
    input_facts,
    raw_input_json,
    settle_on_span,
)
from .redaction import (
    ERROR_MESSAGE_CAP,
    INPUT_CAP,
    OUTPUT_CAP,
    clean_text,
    dumps,
    redact_and_cap,
    redact_text,
    safe_json_checked,
)
from .span_stack import Frame
from .tool_facts import file_facts
from .transcript_writer import CLOSED_TOOL_ERROR, Attributes, TranscriptWriter, new_id

#: How many tool names a logger keeps what their spans are called (see _name_facts).
_NAMES_KEPT = 256


class ToolUseLogger:
    """Logs tool uses of one :class:`TranscriptWriter`'s agent."""

    def __init__(self, transcript_writer: TranscriptWriter) -> None:
        # The runtime the producers share, bound once: the hot path pays no more lookups.
        self._runtime = transcript_writer._runtime
        self._tracer = transcript_writer.pipeline.tracer
        #: Whether the payloads may leave redaction to where they leave the process.
        self._gate = Gate(transcript_writer.pipeline.provider)
        #: What a tool's name gives its span (category, span name, stored name), by name.
        self._names: dict[str, tuple[str, str, str]] = {}

    def log_start(self, tool_use_block: Any) -> str:
        """Start the tool's span; return the tool use id (the block's own id when it has one)."""
        tool_id, name, tool_input = _block_fields(tool_use_block)
        if not name or not isinstance(name, str):
            raise ValueError(f"tool use block needs a tool name, got {name!r}")
        if tool_id is not None and not isinstance(tool_id, str):
            if type(tool_id) is not int:
                raise ValueError(
                    f"tool use block id must be a string, got {type(tool_id).__name__}"
                )
            tool_id = str(tool_id)  # frameworks that number their calls
        runtime = self._runtime
        if runtime.closed:
            runtime.drop_after_close("log_start")
            return str(tool_id) if tool_id else "toolu_" + new_id()
        if not tool_id:
            tool_id = "toolu_" + new_id()
        elif runtime.tool_is_open(tool_id):
            runtime.record_unbalanced(
                f"log_start for tool use {tool_id!r} which is already open; logged under a new id",
                "duplicate_start",
            )
            tool_id = f"{tool_id}-{new_id()[:8]}"

        # Redacted where it leaves the process when only otel-obs reads the span
        # before then (see deferred_payloads), else here.
        raw = self._gate.open()
        input_json = raw_input_json(tool_input) if raw else None
        if input_json is not None:
            input_key, suspect = RAW_INPUT, False
        else:
            input_json, suspect = safe_json_checked(tool_input, INPUT_CAP)
            input_key = c.TOOL_INPUT
        st = runtime.state()
        named = self._names.get(name) or self._name_facts(name)
        # The tool_use entry (id, type, category, summary), the input summary
        # and the file facts are not repeated here: the mapping derives them
        # from these attributes (see conventions.py and tool_facts.py). Only
        # the tool's own texts need cleaning: the context attributes are clean
        # already and the input JSON was made so.
        attrs = {
            **st.attrs,
            c.KIND: c.KIND_TOOL,
            c.GEN_AI_OPERATION_NAME: "execute_tool",
            c.GEN_AI_TOOL_NAME: named[2],
            c.GEN_AI_TOOL_CALL_ID: clean_text(tool_id),
            c.TOOL_CATEGORY: named[0],
            input_key: input_json,
        }
        if st.skill_id is not None:
            attrs[c.TOOL_WITHIN_SKILL] = st.skill_id
        if len(input_json) > INPUT_CAP:
            # Stored cut short: the store could not read the facts back out of it.
            input_facts(attrs, name, tool_input, input_json, suspect)
        elif name == "Write" and isinstance(tool_input, Mapping):
            # Created or replaced: only known now, before the tool runs.
            operation = file_facts(name, tool_input)[1]
            if operation is not None:
                attrs[c.FILE_OPERATION] = operation
        # Every value is a string but the context's, whose types the state knows.
        span = runtime.start_span(named[1], st.context, attrs, clean=False, plain=st.plain)
        runtime.open_tool(
            Frame(
                c.KIND_TOOL,
                tool_id,
                span,
                st.task_id,
                st.skill_id,
                time.time_ns(),
                on_close=_abandon_tool,
                raw=raw,
            )
        )
        return tool_id

    def _name_facts(self, name: str) -> tuple[str, str, str]:
        """(category, span name, stored name) of a tool name, kept for the next use."""
        facts = (c.tool_category(name), c.span_name(c.KIND_TOOL, name), clean_text(name))
        if len(self._names) >= _NAMES_KEPT:
            self._names.clear()  # an agent with this many tool names: start over
        self._names[name] = facts
        return facts

    def log_end(self, tool_use_id: str, tool_result_block: Any) -> None:
        """End the tool's span with its result: ``error`` when ``is_error``, else ``done``."""
        if not isinstance(tool_use_id, str):
            self._check_id(tool_use_id, "log_end")
        frame = self._runtime.pop_tool(tool_use_id)
        if frame is None:
            self._unknown(tool_use_id, "log_end")
            return
        # The frame is already popped: the span ends whatever happens.
        # Raw only if nothing but otel-obs has read the span live since its start, and
        # nothing else is on the provider now (it would see the span's end as it is).
        defer = frame.raw and self._gate.still_open()
        try:  # not ``with internal_errors``: free when nothing goes wrong
            if frame.raw and not defer:  # a processor came that may read the span
                settle_on_span(frame.span)
            attrs, error = _result_attributes(tool_result_block, defer)
        except Exception as exc:
            if not swallowed("tool_use_logger.result", exc):
                raise
            error = f"tool result could not be recorded: {type(exc).__name__}"
            attrs = {
                c.TOOL_RESULT_STATUS: "error",
                c.TOOL_OUTPUT: "",
                c.TOOL_ERROR_MESSAGE: error,
            }
        # Texts cleaned by redaction; every value a string.
        self._runtime.end_span(frame.span, attrs, error, clean=False, plain=True)

    def log_blocked(self, tool_use_id: str, reason: str) -> None:
        """End the tool's span as ``blocked`` by a security hook, with the reason."""
        self._check_id(tool_use_id, "log_blocked")
        frame = self._runtime.pop_tool(tool_use_id)
        if frame is None:
            self._unknown(tool_use_id, "log_blocked")
            return
        if frame.raw and not self._gate.still_open():  # a processor came that may read it
            settle_on_span(frame.span)
        attrs: Attributes = {
            c.TOOL_RESULT_STATUS: "blocked",
            c.TOOL_IS_ERROR: False,
            c.TOOL_BLOCK_REASON: redact_text(str(reason))[:ERROR_MESSAGE_CAP],
        }
        self._runtime.end_span(frame.span, attrs)

    def _check_id(self, tool_use_id: Any, method: str) -> None:
        if not isinstance(tool_use_id, str):
            raise ValueError(
                f"{method} needs the tool use id log_start returned (a string), "
                f"got {type(tool_use_id).__name__}"
            )

    def _unknown(self, tool_use_id: str, method: str) -> None:
        if self._runtime.closed:
            self._runtime.drop_after_close(method)
            return
        self._runtime.record_unbalanced(
            f"{method} for tool use {tool_use_id!r} which is not open", "unknown_tool_use"
        )


# ----------------------------------------------------------------------
# Reading blocks
# ----------------------------------------------------------------------


def _field(obj: Any, name: str) -> Any:
    if type(obj) is dict or isinstance(obj, Mapping):  # the exact-type test skips the ABC check
        return obj.get(name)
    return getattr(obj, name, None)


def _block_fields(block: Any) -> tuple[str | None, Any, Any]:
    if type(block) is dict:  # the common block, read in three lookups
        name = block.get("name")
        if name is not None:
            tool_input = block.get("input")
            return block.get("id"), name, {} if tool_input is None else tool_input
    name = _field(block, "name")
    if name is None and _field(block, "tool_name") is not None:
        # A Claude Agent SDK hook payload (PreToolUse and the Post* hooks):
        # tool_use_id / tool_name / tool_input instead of id / name / input.
        tool_input = _field(block, "tool_input")
        return _field(block, "tool_use_id"), _field(block, "tool_name"), tool_input or {}
    tool_input = _field(block, "input")
    return _field(block, "id"), name, {} if tool_input is None else tool_input


def _result_fields(result: Any) -> tuple[Any, bool]:
    if type(result) is dict:
        return result.get("content"), bool(result.get("is_error"))
    return _field(result, "content"), bool(_field(result, "is_error"))


def _result_attributes(result: Any, defer: bool = False) -> tuple[dict[str, Any], str | None]:
    """The end attributes of a tool span for ``result``, and its error message if any.

    ``defer``: an output that is no error and within :data:`OUTPUT_WINDOW` is
    left raw, for where it leaves the process (see :mod:`.deferred_payloads`).
    """
    content, is_error = _result_fields(result)
    text = content_text(content)
    if defer and not is_error and len(text) <= OUTPUT_WINDOW:
        return {c.TOOL_RESULT_STATUS: "done", RAW_OUTPUT: clean_text(text)}, None
    text = redact_and_cap(text, OUTPUT_CAP)
    # obs.tool.is_error and obs.tool.output_summary follow from these two;
    # the mapping derives them (see conventions.py).
    attrs: dict[str, Any] = {
        c.TOOL_RESULT_STATUS: "error" if is_error else "done",
        c.TOOL_OUTPUT: text,
    }
    error = None
    if is_error:
        error = text[:ERROR_MESSAGE_CAP] or "tool reported an error"
        attrs[c.TOOL_ERROR_MESSAGE] = error
    return attrs, error


def content_text(content: Any) -> str:
    """The text of a tool result's ``content``: a string, content blocks, or None."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        return "\n".join(_block_text(part) for part in content)
    return _block_text(content)


def _block_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    text = _field(part, "text")
    if isinstance(text, str):
        return text
    kind = _field(part, "type")
    if kind:
        return f"[{kind}]"
    return dumps(part)


def _abandon_tool(frame: Frame) -> None:
    """End a tool use the agent never finished (the writer is closing)."""
    settle_on_span(frame.span)  # whoever may read the span by now
    frame.span.set_attributes(
        {
            c.TOOL_RESULT_STATUS: "error",
            c.TOOL_IS_ERROR: True,
            c.TOOL_ERROR_MESSAGE: CLOSED_TOOL_ERROR,
            c.CLOSED_BY: "close",
        }
    )
    frame.span.set_status(Status(StatusCode.ERROR, CLOSED_TOOL_ERROR))
    frame.span.end()
