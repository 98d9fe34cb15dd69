"""LangChain's tool results, as its instrumentations put them on a tool span.

Not a source of its own: OpenInference (:mod:`.openinference`) and OpenLLMetry
(:mod:`.traceloop`) both instrument LangChain, and both store the whole serialized
``ToolMessage`` as the tool's output. The message holds what a row needs: its
``content`` (the output), its ``tool_call_id`` (which the spans carry nowhere else)
and its ``status``: ``"error"`` when the tool failed and LangChain handed the failure
to the model (``handle_tool_error``), with the span's status left OK.
"""

from __future__ import annotations

import json
from typing import Any

from otel_obs import conventions as c
from otel_obs.redaction import dumps


def tool_message(value: Any) -> dict[str, Any] | None:
    """The fields of a serialized ``ToolMessage`` in ``value``, else None.

    OpenInference: ``{"type": "tool", "data": {...}}``; OpenLLMetry:
    ``{"output": {"lc": 1, "id": [..., "ToolMessage"], "kwargs": {...}}, ...}``.
    """
    if not isinstance(value, str) or '"tool' not in value and "ToolMessage" not in value:
        return None
    try:
        doc = json.loads(value)
    except ValueError:
        return None
    if isinstance(doc, dict) and isinstance(doc.get("output"), dict):
        doc = doc["output"]
    if not isinstance(doc, dict):
        return None
    if doc.get("type") == "tool" and isinstance(doc.get("data"), dict):
        return doc["data"]
    ids, fields = doc.get("id"), doc.get("kwargs")
    if isinstance(ids, list) and ids[-1:] == ["ToolMessage"] and isinstance(fields, dict):
        return fields
    return None


def content(message: dict[str, Any]) -> str:
    """A ToolMessage's content as text (a list of content blocks as JSON)."""
    value = message.get("content")
    return value if isinstance(value, str) else dumps(value)


def call_id(message: dict[str, Any] | None) -> Any:
    return None if message is None else message.get("tool_call_id") or None


def handled_failure(message: dict[str, Any] | None) -> str | None:
    """The content of a ToolMessage whose status is ``error``, else None."""
    if message is None or message.get("status") != "error":
        return None
    return content(message) or "failed"


def agent_of_graph(name: str | None, metadata: Any) -> str | None:
    """The agent name of a ``create_agent`` graph span: its run metadata names the agent
    (``lc_agent_name``, which every span of the graph carries) and no graph node (only
    the nodes carry ``langgraph_node``), and the span is named after the agent."""
    if not isinstance(metadata, str) or c.LC_AGENT_NAME not in metadata:
        return None
    try:
        doc = json.loads(metadata)
    except ValueError:
        return None
    if not isinstance(doc, dict) or c.LC_GRAPH_NODE in doc:
        return None
    agent = doc.get(c.LC_AGENT_NAME)
    return agent if isinstance(agent, str) and agent and agent == name else None
