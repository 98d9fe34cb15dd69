"""pydantic-ai's built-in instrumentation (``InstrumentationSettings``), every version.

The current format follows the GenAI conventions (``invoke_agent`` and
``execute_tool`` spans). The older ones (version 1 and 2) name the spans ``agent
run`` and ``running tool`` and keep the agent's name in ``agent_name``, the arguments
in ``tool_arguments`` and the result in ``tool_response``. Each run has an id
(``gen_ai.agent.call.id``); the store tells runs apart by their spans anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_obs import conventions as c

from .genai import GenAI

#: Attributes only pydantic-ai sets (one of them is on each of its agent and tool spans).
_MARKERS = (
    c.PYDANTIC_AI_AGENT_NAME,
    c.PYDANTIC_AI_TOOL_ARGUMENTS,
    c.PYDANTIC_AI_TOOL_RESPONSE,
    c.PYDANTIC_AI_RUN_ID,
)
_LEGACY_NAMES = {"agent run": c.KIND_AGENT, "running tool": c.KIND_TOOL}


class PydanticAI(GenAI):
    name = "pydantic_ai"
    agent_keys = (*c.FOREIGN_AGENT_KEYS, c.PYDANTIC_AI_AGENT_NAME)
    input_keys = (c.GEN_AI_TOOL_CALL_ARGUMENTS, c.PYDANTIC_AI_TOOL_ARGUMENTS)
    output_keys = (c.GEN_AI_TOOL_CALL_RESULT, c.PYDANTIC_AI_TOOL_RESPONSE)

    def kind(self, name: str | None, attrs: Mapping[str, Any]) -> str | None:
        if not any(key in attrs for key in _MARKERS):
            return None
        return super().kind(name, attrs) or _LEGACY_NAMES.get(name or "")


SOURCE = PydanticAI()
