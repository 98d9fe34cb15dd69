"""Claude Agent SDK hooks that log every tool use through a :class:`ToolUseLogger`.

For workers that prefer to wire hooks themselves rather than let
:class:`~otel_obs.instrumentation.claude_agent_sdk.ClaudeAgentSDKInstrumentor`
watch their sessions::

    tools = ToolUseLogger(TranscriptWriter(execution_id, instance_id))
    options = ClaudeAgentOptions(hooks=tool_use_hooks(tools))

PreToolUse starts the tool use, PostToolUse ends it ``done`` with the tool's
response, PostToolUseFailure ends it ``error`` with the error. A tool use
that a permission rule or another hook denies gets neither Post hook (the
CLI answers the model with an error result instead), so hooks alone leave it
open until the writer closes; the instrumentor, which also reads the message
stream, stores it as ``blocked`` with its reason.

The callbacks never raise into the SDK and never change a decision: each
answers ``{}`` (no opinion), whatever happens to the store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from otel_obs._internal_errors import internal_errors
from otel_obs.tool_use_logger import ToolUseLogger

if TYPE_CHECKING:  # the SDK is an optional extra: its types only
    from claude_agent_sdk.types import SyncHookJSONOutput

#: What each callback answers: ``{}``, no opinion (every key of the SDK's output is optional).
HookCallback = Callable[[Any, "str | None", Any], "Awaitable[SyncHookJSONOutput]"]

PRE_TOOL_USE = "PreToolUse"
POST_TOOL_USE = "PostToolUse"
POST_TOOL_USE_FAILURE = "PostToolUseFailure"


def _get(payload: Any, key: str) -> Any:
    return payload.get(key) if isinstance(payload, dict) else getattr(payload, key, None)


def tool_use_callbacks(tool_logger: ToolUseLogger) -> dict[str, HookCallback]:
    """The three hook callbacks, by hook event (no SDK import: usable with any matcher type)."""

    async def pre_tool_use(
        payload: Any, tool_use_id: str | None, _context: Any
    ) -> SyncHookJSONOutput:
        with internal_errors("claude_hooks.pre_tool_use"):  # never fails the agent's tool call
            if tool_use_id and not _get(payload, "tool_use_id"):
                payload = {**payload, "tool_use_id": tool_use_id}
            tool_logger.log_start(payload)
        return {}

    async def post_tool_use(
        payload: Any, tool_use_id: str | None, _context: Any
    ) -> SyncHookJSONOutput:
        with internal_errors("claude_hooks.post_tool_use"):
            key = _get(payload, "tool_use_id") or tool_use_id
            result = {"content": _get(payload, "tool_response"), "is_error": False}
            tool_logger.log_end(str(key), result)
        return {}

    async def post_tool_use_failure(
        payload: Any, tool_use_id: str | None, _context: Any
    ) -> SyncHookJSONOutput:
        with internal_errors("claude_hooks.post_tool_use_failure"):
            key = _get(payload, "tool_use_id") or tool_use_id
            error = _get(payload, "error") or "tool failed"
            tool_logger.log_end(str(key), {"content": str(error), "is_error": True})
        return {}

    return {
        PRE_TOOL_USE: pre_tool_use,
        POST_TOOL_USE: post_tool_use,
        POST_TOOL_USE_FAILURE: post_tool_use_failure,
    }


def tool_use_hooks(tool_logger: ToolUseLogger) -> dict[str, list[Any]]:
    """``ClaudeAgentOptions.hooks`` that log every tool use through ``tool_logger``.

    One ``HookMatcher`` (matching every tool) per event: PreToolUse, PostToolUse
    and PostToolUseFailure. To keep hooks of your own, add these matchers to
    your lists for the same events.
    """
    from claude_agent_sdk import HookMatcher

    return {
        event: [HookMatcher(matcher=None, hooks=[callback])]
        for event, callback in tool_use_callbacks(tool_logger).items()
    }
