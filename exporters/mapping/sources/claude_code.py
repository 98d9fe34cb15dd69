"""Claude Code's own telemetry: ``claude_code.tool`` spans and their execution steps.

Claude Code says that a tool failed only on the ``claude_code.tool.execution`` child
of its ``claude_code.tool`` span (``success`` false, ``error.type``, the message under
``error`` and in an ERROR status), and mostly exports that child first. The child
names its tool use (``tool_use_id``) and conversation, so it is read alone, as a
:data:`~.base.STEP` that can only fail its tool use. A ``claude_code.llm_request`` span is
one call of the model, with its usage (Anthropic's counts: the input tokens without the
cached ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_obs import conventions as c

from .base import STEP, Source


class ClaudeCode(Source):
    name = "claude_code"
    model_keys = ("model",)
    input_token_keys = ("input_tokens",)
    output_token_keys = ("output_tokens",)
    cache_read_keys = ("cache_read_tokens",)
    cache_creation_keys = ("cache_creation_tokens",)
    cost_keys = ("cost_usd",)
    input_includes_cache = False

    def kind(self, name: str | None, attrs: Mapping[str, Any]) -> str | None:
        if name == c.CLAUDE_CODE_TOOL_SPAN:
            return c.KIND_TOOL
        if name == c.CLAUDE_CODE_TOOL_EXECUTION_SPAN:
            return STEP
        if name == c.CLAUDE_CODE_LLM_SPAN:
            return c.KIND_LLM
        return None

    def step_failure(self, attrs: Mapping[str, Any]) -> Any:
        """The message Claude Code leaves on a failed step (beside its status)."""
        if attrs.get(c.CLAUDE_CODE_SUCCESS) is False:
            return attrs.get(c.CLAUDE_CODE_ERROR) or "failed"
        return attrs.get(c.CLAUDE_CODE_ERROR) if attrs.get(c.ERROR_TYPE) else None


SOURCE = ClaudeCode()
