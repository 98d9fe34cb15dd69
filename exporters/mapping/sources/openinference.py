"""OpenInference (``openinference.span.kind``): Arize's instrumentations of many frameworks.

What they share is read here; :mod:`.smolagents` and :mod:`.openai_agents` are asked
first for the spans of those two. A TOOL span's arguments are in ``input.value``
(``tool.parameters`` is mostly the tool's schema). LangChain (:mod:`.langchain`): the
tool's output is the whole serialized ``ToolMessage`` (its content is stored, its
``tool_call_id`` is the call id, its ``status: "error"`` a handled failure), and a
``create_agent`` graph is a CHAIN span named after the agent, which only its
``metadata`` (JSON text) says: it is an agent span.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

from otel_obs import conventions as c

from . import langchain
from .base import Source, first

#: OpenAI Agents' status of a failed tool (the SDK handed the failure to the model).
_NON_FATAL = re.compile(r"^Error running tool \(non-fatal\): (\{.*\})$", re.S)
_TRACEBACK = "Traceback (most recent call last)"
#: The repr of an exception raised with one message: ``RuntimeError('the message')``.
_REPR = re.compile(r"^[A-Za-z_][\w.]*\(('.*'|\".*\")\)$", re.S)


class OpenInference(Source):
    name = "openinference"

    def kind(self, name: str | None, attrs: Mapping[str, Any]) -> str | None:
        oi_kind = attrs.get(c.OI_SPAN_KIND)
        if oi_kind == c.OI_TOOL:
            return c.KIND_TOOL
        if oi_kind == c.OI_AGENT:
            return c.KIND_AGENT
        if oi_kind == c.OI_LLM:
            return c.KIND_LLM
        if oi_kind == c.OI_CHAIN and langchain.agent_of_graph(name, attrs.get(c.OI_METADATA)):
            return c.KIND_AGENT
        return None

    def agent(self, attrs: Mapping[str, Any], name: str | None = None) -> Any:
        return first(attrs, self.agent_keys) or langchain.agent_of_graph(
            name, attrs.get(c.OI_METADATA)
        )

    def call_id(self, attrs: Mapping[str, Any]) -> Any:
        value = super().call_id(attrs)
        if value is None:
            value = langchain.call_id(langchain.tool_message(attrs.get(c.OI_OUTPUT_VALUE)))
        return value

    def tool_output(self, attrs: Mapping[str, Any]) -> Any:
        value = super().tool_output(attrs)
        message = langchain.tool_message(value)
        return langchain.content(message) if message is not None else value

    def handled_failure(self, attrs: Mapping[str, Any], output: str | None) -> str | None:
        return langchain.handled_failure(langchain.tool_message(attrs.get(c.OI_OUTPUT_VALUE)))

    def error_message(self, description: str | None) -> str | None:
        """The message alone: LangChain's description ends with the traceback; OpenAI
        Agents' is ``Error running tool (non-fatal): {'tool_name': ..., 'error': ...}``."""
        if not description:
            return description
        cut = description.find(_TRACEBACK)
        if cut > 0:
            description = description[:cut].rstrip()
            said = _REPR.match(description)  # LangChain: repr(exception) + the traceback
            if said:
                try:
                    message = ast.literal_eval(said[1])
                except (ValueError, SyntaxError, MemoryError, RecursionError):
                    message = None
                if isinstance(message, str) and message:
                    description = message
        match = _NON_FATAL.match(description)
        if match:
            try:
                details = ast.literal_eval(match[1])
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                details = None
            if isinstance(details, dict) and details.get("error"):
                return str(details["error"])
        return description


SOURCE = OpenInference()
