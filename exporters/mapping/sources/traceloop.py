"""Traceloop: the traceloop-sdk decorators and OpenLLMetry's instrumentations.

Each span says what it is in ``traceloop.span.kind``: ``agent`` and ``tool`` spans
map (the name in ``traceloop.entity.name``, the input and output as JSON text in
``traceloop.entity.input`` / ``traceloop.entity.output``); ``workflow`` and ``task``
spans wrap them and store nothing (OpenLLMetry's LangChain graph span, a workflow,
also says ``gen_ai.operation.name=invoke_agent`` inside the ``invoke_agent`` span
that is the run). The decorators' input is ``{"args": [...], "kwargs": {...}}``;
LangChain's is ``{"input_str": "<the arguments as a Python dict>", ...}`` and its
output the serialized ``ToolMessage`` (:mod:`.langchain`).
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
    if isinstance(doc.get("input_str"), str):  # LangChain: str() of the arguments
        text = doc["input_str"]
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            parsed = _json(text)
        return parsed
    if isinstance(doc.get("kwargs"), dict) and isinstance(doc.get("args", []), list):
        return {"args": doc["args"], **doc["kwargs"]} if doc.get("args") else doc["kwargs"]
    return value


class Traceloop(Source):
    name = "traceloop"
    conversation_keys = (*c.FOREIGN_CONVERSATION_KEYS, c.LC_THREAD_ID)
    tool_name_keys = (c.GEN_AI_TOOL_NAME, c.TRACELOOP_ENTITY_NAME)
    input_keys = (c.TRACELOOP_ENTITY_INPUT, c.GEN_AI_TOOL_CALL_ARGUMENTS)
    output_keys = (c.TRACELOOP_ENTITY_OUTPUT, c.GEN_AI_TOOL_CALL_RESULT)

    def kind(self, name: str | None, attrs: Mapping[str, Any]) -> str | None:
        return _KINDS.get(str(attrs.get(c.TRACELOOP_SPAN_KIND) or ""))

    def agent(self, attrs: Mapping[str, Any], name: str | None = None) -> Any:
        named = first(attrs, self.agent_keys)
        if named is None and attrs.get(c.TRACELOOP_SPAN_KIND) == "agent":
            named = attrs.get(c.TRACELOOP_ENTITY_NAME)
        return named

    def _message(self, attrs: Mapping[str, Any]) -> dict[str, Any] | None:
        return langchain.tool_message(first(attrs, self.output_keys))

    def call_id(self, attrs: Mapping[str, Any]) -> Any:
        return super().call_id(attrs) or langchain.call_id(self._message(attrs))

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
