"""OpenAI Agents through OpenInference (``openinference-instrumentation-openai-agents``).

The SDK's trace is a span of its own, an AGENT span that states nothing but its kind
(named after the workflow, ``Agent workflow`` by default): it wraps the agent run and
is not one, so it stores nothing. The agent's span names the agent (``agent.name``,
``graph.node.id``). Its tool spans carry no call id (the ids are only in the LLM spans):
their tool uses are keyed by span. What else they say is read as OpenInference's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_obs import conventions as c

from .base import IGNORE
from .openinference import OpenInference

#: Attributes that otel-obs itself may have set on a span (not the instrumentation's).
_OURS = ("obs.", "otel.")


class OpenAIAgents(OpenInference):
    name = "openai_agents"

    def kind(self, name: str | None, attrs: Mapping[str, Any]) -> str | None:
        if attrs.get(c.OI_SPAN_KIND) != c.OI_AGENT:
            return None
        if attrs.get(c.OI_GRAPH_NODE_ID):
            return c.KIND_AGENT
        if all(key == c.OI_SPAN_KIND or key.startswith(_OURS) for key in attrs):
            return IGNORE
        return None


SOURCE = OpenAIAgents()
