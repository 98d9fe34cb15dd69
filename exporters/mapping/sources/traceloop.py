"""Traceloop: the traceloop-sdk decorators and OpenLLMetry's instrumentations.

Each span says what it is in ``traceloop.span.kind``: ``agent`` and ``tool`` spans
map (the name in ``traceloop.entity.name``, the input and output as JSON text in
``traceloop.entity.input`` / ``traceloop.entity.output``); ``workflow`` and ``task``
spans wrap them and store nothing (OpenLLMetry's LangChain graph span, a workflow,
also says ``gen_ai.operation.name=invoke_agent`` and a per-run ``gen_ai.agent.id``
inside the ``invoke_agent`` span that is the run: one run, not two; its middleware
hooks' ``execute_task`` spans are steps). The decorators' input is ``{"args": [...],
"kwargs": {...}}``; LangChain's is ``{"input_str": "<the arguments as a Python dict>",
"inputs": {<the arguments>}, "kwargs": {"tool_call_id": ...}, ...}`` (the call id is
there from the start: a tool that raised has it too) and its output the serialized
``ToolMessage`` (:mod:`.langchain`).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from typing import Any

from otel_obs import conventions as c

from . import langchain
from .base import IGNORE, Source, first

_KINDS = {"agent": c.KIND_AGENT, "tool": c.KIND_TOOL, "workflow": IGNORE, "task": IGNORE}


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _arguments(value: Any) -> Any:
    """The call's arguments in a tool span's input (JSON text), as a value."""
    doc = _json(value)
    if not isinstance(doc, dict):
        return value
    if isinstance(doc.get("inputs"), dict):  # LangChain: the arguments by name
        return doc["inputs"]
    if isinstance(doc.get("input_str"), str):  # older LangChain: str() of the arguments
        text = doc["input_str"]
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            parsed = _json(text)
        return parsed
    if isinstance(doc.get("kwargs"), dict) and isinstance(doc.get("args", []), list):
        return {"args": doc["args"], **doc["kwargs"]} if doc.get("args") else doc["kwargs"]
    return value


def _langchain_call_id(value: Any) -> Any:
    """LangChain's call id in a tool span's input: ``kwargs.tool_call_id``, there from the
    start (so also when the tool raised and no ToolMessage came back)."""
    if not isinstance(value, str) or '"tool_call_id"' not in value:
        return None
    doc = _json(value)
    kwargs = doc.get("kwargs") if isinstance(doc, dict) else None
    return (kwargs.get("tool_call_id") or None) if isinstance(kwargs, dict) else None


class Traceloop(Source):
    name = "traceloop"
    conversation_keys = (*c.FOREIGN_CONVERSATION_KEYS, c.LC_THREAD_ID)
    tool_name_keys = (c.GEN_AI_TOOL_NAME, c.TRACELOOP_ENTITY_NAME)
    input_keys = (c.TRACELOOP_ENTITY_INPUT, c.GEN_AI_TOOL_CALL_ARGUMENTS)
    output_keys = (c.TRACELOOP_ENTITY_OUTPUT, c.GEN_AI_TOOL_CALL_RESULT)

    def kind(self, name: str | None, attrs: Mapping[str, Any]) -> str | None:
        found = _KINDS.get(str(attrs.get(c.TRACELOOP_SPAN_KIND) or ""))
        if found is None and attrs.get(c.GEN_AI_OPERATION_NAME) == c.OP_EXECUTE_TASK:
            # OpenLLMetry's LangGraph steps that say nothing else (a middleware hook's own
            # span, under its ``task`` span): a step of the run, no tool use.
            return IGNORE
        return found

    def agent(self, attrs: Mapping[str, Any], name: str | None = None) -> Any:
        named = first(attrs, self.agent_keys)
        if named is None and attrs.get(c.TRACELOOP_SPAN_KIND) == "agent":
            named = attrs.get(c.TRACELOOP_ENTITY_NAME)
        return named

    def _message(self, attrs: Mapping[str, Any]) -> dict[str, Any] | None:
        return langchain.tool_message(first(attrs, self.output_keys))

    def call_id(self, attrs: Mapping[str, Any]) -> Any:
        return (
            super().call_id(attrs)
            or _langchain_call_id(first(attrs, self.input_keys))
            or langchain.call_id(self._message(attrs))
        )

    def tool_input(self, attrs: Mapping[str, Any]) -> Any:
        value = first(attrs, self.input_keys)
        return None if value is None else _arguments(value)

    def tool_output(self, attrs: Mapping[str, Any]) -> Any:
        value = first(attrs, self.output_keys)
        message = langchain.tool_message(value)
        if message is not None:
            return langchain.content(message)
        doc = _json(value)
        if isinstance(doc, dict) and "output" in doc and set(doc) <= {"output", "kwargs"}:
            return doc["output"]
        return value

    def handled_failure(self, attrs: Mapping[str, Any], output: str | None) -> str | None:
        return langchain.handled_failure(self._message(attrs))


SOURCE = Traceloop()
