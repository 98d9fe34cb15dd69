"""Google ADK's built-in tracing (``gcp.vertex.agent``), which follows the GenAI conventions.

A run is ``invoke_workflow <agent>`` (ADK 2.x; not an agent: it wraps the run and
states the conversation, so it is a pass-through) over ``invoke_agent <agent>``
(:mod:`.genai` reads it) over ``generate_content`` and ``execute_tool <tool>``. The
tool spans state no conversation (their agent's run gives it, :mod:`exporters.lineage`)
and set everything when they end. A tool that raised has no response, and ADK states
the call id ``<not specified>`` (a placeholder: the use is keyed by its span; the real
id is only in the model's output messages, when content is captured). The result is
``{"result": <value>}`` unless the tool returned a dict: the value is stored. Two calls
in one turn add an ``execute_tool (merged)`` span (tool ``(merged tools)``, the merged
event's id as call id) after their own spans: it is not a tool use. Arguments and
results are there only when content capture is on (before ADK aligned with the
conventions: ``gcp.vertex.agent.tool_call_args`` / ``tool_response``).

ADK's tool spans say they are ADK's with its own attributes (``gcp.vertex.agent.event_id``
on every call that answered) or, for a call that raised, with the placeholder id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from otel_obs import conventions as c
from otel_obs.redaction import dumps

from .base import IGNORE, Source


def _adk_tool(attrs: Mapping[str, Any]) -> bool:
    return attrs.get(c.GEN_AI_TOOL_CALL_ID) == c.ADK_NO_CALL_ID or any(
        key.startswith(c.ADK_PREFIX) for key in attrs
    )


class ADK(Source):
    name = "adk"
    placeholder_call_ids = frozenset({c.ADK_NO_CALL_ID})
    input_keys = (c.GEN_AI_TOOL_CALL_ARGUMENTS, c.ADK_TOOL_CALL_ARGS)
    output_keys = (c.GEN_AI_TOOL_CALL_RESULT, c.ADK_TOOL_RESPONSE)

    def kind(self, name: str | None, attrs: Mapping[str, Any]) -> str | None:
        operation = attrs.get(c.GEN_AI_OPERATION_NAME)
        if operation == c.OP_INVOKE_WORKFLOW:
            return IGNORE
        if operation != c.OP_EXECUTE_TOOL or not _adk_tool(attrs):
            return None
        if attrs.get(c.GEN_AI_TOOL_NAME) == c.ADK_MERGED_TOOLS:
            return IGNORE
        return c.KIND_TOOL

    def tool_output(self, attrs: Mapping[str, Any]) -> Any:
        value = super().tool_output(attrs)
        if not isinstance(value, str) or not value.startswith("{"):
            return value
        try:
            doc = json.loads(value)
        except ValueError:
            return value
        if not isinstance(doc, dict) or set(doc) != {"result"}:
            return value
        result = doc["result"]
        return result if isinstance(result, str) else dumps(result)


SOURCE = ADK()
