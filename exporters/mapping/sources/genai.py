"""The OpenTelemetry GenAI semantic conventions (``gen_ai.operation.name``).

``opentelemetry-util-genai`` and the instrumentations built on it, and every
framework that follows the conventions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_obs import conventions as c

from .base import IGNORE, Source


class GenAI(Source):
    name = "genai"

    def kind(self, name: str | None, attrs: Mapping[str, Any]) -> str | None:
        operation = attrs.get(c.GEN_AI_OPERATION_NAME)
        if operation == c.OP_EXECUTE_TOOL:
            return c.KIND_TOOL
        if operation == c.OP_INVOKE_AGENT:
            return c.KIND_AGENT
        if operation in c.OP_MODEL_CALLS:
            return c.KIND_LLM
        if operation == c.OP_CREATE_AGENT:
            # The agent as made (its name, its tools), not a run of it: stores nothing.
            return IGNORE
        return None


SOURCE = GenAI()
