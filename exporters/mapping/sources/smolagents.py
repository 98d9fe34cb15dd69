"""smolagents through OpenInference (``openinference-instrumentation-smolagents``).

The agent span states the agent's name only in its own name (``builder.run``); its
attributes start with ``smolagents.``. A tool span is named after the tool's class
(``SimpleTool`` for every ``@tool``); ``tool.name`` names the tool, ``tool.parameters``
is its schema and ``input.value`` wraps the arguments as ``{"args": [...],
"sanitize_inputs_outputs": ..., "kwargs": {...}}``: the keyword arguments are stored.
No span carries the model's call ids: the tool uses are keyed by span. The built-in
``final_answer`` tool is the run's answer, not a tool use: it stores nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from otel_obs import conventions as c

from .base import IGNORE, first
from .openinference import OpenInference

_RUN_SUFFIX = ".run"


def _call(attrs: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]] | None:
    """(positional, keyword arguments) of a smolagents tool span, else None."""
    value = attrs.get(c.OI_INPUT_VALUE)
    if not isinstance(value, str) or '"kwargs"' not in value:
        return None
    try:
        doc = json.loads(value)
    except ValueError:
        return None
    if not isinstance(doc, dict) or "sanitize_inputs_outputs" not in doc:
        return None
    args, kwargs = doc.get("args"), doc.get("kwargs")
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        return None
    return args, kwargs


class Smolagents(OpenInference):
    name = "smolagents"

    def kind(self, name: str | None, attrs: Mapping[str, Any]) -> str | None:
        oi_kind = attrs.get(c.OI_SPAN_KIND)
        if oi_kind == c.OI_AGENT and any(k.startswith(c.SMOLAGENTS_PREFIX) for k in attrs):
            return c.KIND_AGENT
        if oi_kind == c.OI_TOOL and _call(attrs) is not None:
            if attrs.get(c.OI_TOOL_NAME) == c.SMOLAGENTS_FINAL_ANSWER:
                return IGNORE
            return c.KIND_TOOL
        return None

    def agent(self, attrs: Mapping[str, Any], name: str | None = None) -> Any:
        named = first(attrs, self.agent_keys)
        if named or not name:
            return named
        return name[: -len(_RUN_SUFFIX)] if name.endswith(_RUN_SUFFIX) else name

    def tool_input(self, attrs: Mapping[str, Any]) -> Any:
        call = _call(attrs)
        if call is None:
            return super().tool_input(attrs)
        args, kwargs = call
        return {"args": args, **kwargs} if args else kwargs


SOURCE = Smolagents()
