"""Claude Code's own telemetry: ``claude_code.tool`` spans and their execution steps.

Claude Code says that a tool failed only on the ``claude_code.tool.execution`` child
of its ``claude_code.tool`` span (``success`` false, ``error.type``, the message under
``error`` and in an ERROR status), and mostly exports that child first. The child
names its tool use (``tool_use_id``) and conversation, so it is read alone, as a
:data:`~.base.STEP` that can only fail its tool use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_obs import conventions as c

from .base import STEP, Source


class ClaudeCode(Source):
    name = "claude_code"

    def kind(self, name: str | None, attrs: Mapping[str, Any]) -> str | None:
        if name == c.CLAUDE_CODE_TOOL_SPAN:
            return c.KIND_TOOL
        if name == c.CLAUDE_CODE_TOOL_EXECUTION_SPAN:
            return STEP
        return None

    def step_failure(self, attrs: Mapping[str, Any]) -> Any:
        """The message Claude Code leaves on a failed step (beside its status)."""
        if attrs.get(c.CLAUDE_CODE_SUCCESS) is False:
            return attrs.get(c.CLAUDE_CODE_ERROR) or "failed"
        return attrs.get(c.CLAUDE_CODE_ERROR) if attrs.get(c.ERROR_TYPE) else None


SOURCE = ClaudeCode()
