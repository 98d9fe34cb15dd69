"""One Claude Agent SDK session, recorded through the producers as one agent instance.

:class:`ClaudeSession` reads the messages a worker receives (it never changes
them) and answers one hook of its own; from those it drives a
:class:`TranscriptWriter` and :class:`ToolUseLogger` exactly as a hand-written
worker would, so the rows are the ones our own producers make:

* the ``init`` system message starts the agent instance: the instance id is
  the session id, the execution is the orchestrator's (baggage
  ``obs.execution_id``) or else the session; the model and session id go on
  the agent span;
* every ``ToolUseBlock`` of an assistant message starts a tool use (parallel
  blocks of one message are separate tool uses, matched to their results by
  id); every ``ToolResultBlock`` ends one: ``done``, or ``error``;
* an error result after a deny (a PreToolUse hook or the permission system)
  is not a failed tool: neither PostToolUse nor PostToolUseFailure fires and
  ``ResultMessage.permission_denials`` lists it. The permission system also
  says so at once (a ``permission_denied`` system message, with its reason);
  a hook's deny is known only from the result message. So an error result is
  ``blocked`` at once after ``permission_denied``, ``error`` at once when our
  PostToolUseFailure hook reported that tool, and otherwise held until the
  result message, which says ``blocked`` (with the CLI's answer as the
  reason) or ``error``;
* messages with a ``parent_tool_use_id`` come from a subagent: it is an agent
  instance of its own (``<session>/<Task tool use id>``) whose span, and so
  whose tool uses, sit under the ``Task`` tool use that started it. A
  background subagent starts after its Task tool use has ended (the tool
  answers "launched") and ends with its ``task_notification``; one that runs
  inside its Task tool use ends with that tool's result;
* each result message adds its usage, turns and API time (summed over the
  session's results), the session's cost so far and the denial count to the
  agent span; an error result ends the instance ``failed``.

Nothing here raises into the worker: a session that cannot record logs why
and lets the messages through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import baggage, context, trace

from otel_obs import conventions as c
from otel_obs._internal_errors import internal_errors
from otel_obs.pipeline import Pipeline
from otel_obs.tool_use_logger import ToolUseLogger, content_text
from otel_obs.transcript_writer import TranscriptWriter

from .claude_hooks import POST_TOOL_USE_FAILURE

#: How a held error result is ended when the session closes without a result message.
UNRESOLVED = "tool failed or was denied (the session ended before its result message)"


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)


def _type(obj: Any) -> str:
    return type(obj).__name__


def _is(message: Any, kind: str) -> bool:
    """Whether ``message`` is an SDK message of class ``kind`` or a subclass of it."""
    return any(cls.__name__ == kind for cls in type(message).__mro__)


class _Agent:
    """One agent instance of the session: its writer and tool logger."""

    def __init__(self, writer: TranscriptWriter) -> None:
        self.writer = writer
        self.tools = ToolUseLogger(writer)

    def span(self) -> trace.Span:
        # With no task or phase open, the writer's current span is its agent span.
        return trace.get_current_span(self.writer._runtime.state().context)


class ClaudeSession:
    """Messages and hook callbacks of one session in; producer calls out."""

    def __init__(self, pipeline: Pipeline | None = None) -> None:
        self._pipeline = pipeline
        self._parent_context = context.get_current()
        self.session_id: str | None = None
        self.model: str | None = None
        self._main: _Agent | None = None
        #: Subagents by the id of the Task tool use that started them.
        self._subagents: dict[str, _Agent] = {}
        #: The agent whose logger opened each open tool use.
        self._owner: dict[str, _Agent] = {}
        #: Tool uses PostToolUseFailure reported (their error results are failures).
        self._failed: set[str] = set()
        #: The spans of agent tool uses (Task), which their subagents sit under: a
        #: background subagent starts after its Task tool use has ended.
        self._agent_tools: dict[str, trace.Span] = {}
        #: Tool uses the permission system denied (``permission_denied``), with its message.
        self._denied: dict[str, str] = {}
        #: Error results waiting for the result message: tool use id -> (agent, text).
        self._held: dict[str, tuple[_Agent, str]] = {}
        #: Usage summed over the session's result messages, by attribute.
        self._totals: dict[str, int | float] = {}
        self._error: str | None = None
        self._closed = False

    # ------------------------------------------------------------------
    # hooks
    # ------------------------------------------------------------------

    def hook_callbacks(self) -> dict[str, Any]:
        """Our hook callbacks by event: PostToolUseFailure tells a failure from a deny."""

        async def post_tool_use_failure(
            payload: Any, tool_use_id: str | None, _context: Any
        ) -> dict[str, Any]:
            key = _get(payload, "tool_use_id") or tool_use_id
            if key:
                self._failed.add(str(key))
            return {}

        return {POST_TOOL_USE_FAILURE: post_tool_use_failure}

    def add_hooks(self, options: Any) -> Any:
        """A copy of ``options`` whose hooks also hold ours (the worker's own come first)."""
        import dataclasses

        from claude_agent_sdk import ClaudeAgentOptions, HookMatcher

        if options is None:
            options = ClaudeAgentOptions()
        hooks: dict[str, list[Any]] = {
            event: list(matchers) for event, matchers in (options.hooks or {}).items()
        }
        for event, callback in self.hook_callbacks().items():
            hooks.setdefault(event, []).append(HookMatcher(matcher=None, hooks=[callback]))
        return dataclasses.replace(options, hooks=hooks)

    # ------------------------------------------------------------------
    # messages
    # ------------------------------------------------------------------

    def on_message(self, message: Any) -> None:
        """Record what ``message`` says; never raises."""
        if self._closed:
            return
        # Recording must never cost the worker its messages.
        with internal_errors("claude_session.message"):
            if _is(message, "SystemMessage"):
                self._on_system(message)
            elif _is(message, "AssistantMessage"):
                self._on_assistant(message)
            elif _is(message, "UserMessage"):
                self._on_user(message)
            elif _is(message, "ResultMessage"):
                self._on_result(message)

    def _on_system(self, message: Any) -> None:
        subtype = _get(message, "subtype")
        data = _get(message, "data") or {}
        if subtype == "init":
            self._start(_get(data, "session_id"), _get(data, "model"))
        elif subtype == "permission_denied" and _get(data, "tool_use_id"):
            # The permission system's deny, said before its error result arrives.
            self._denied[str(_get(data, "tool_use_id"))] = str(_get(data, "message") or "denied")
        elif subtype == "task_notification" and _get(data, "tool_use_id"):
            # A background subagent has finished (its Task tool use ended long ago).
            subagent = self._subagents.pop(str(_get(data, "tool_use_id")), None)
            if subagent is not None:
                status = _get(data, "status")
                failed = status not in (None, "completed")
                self._close_agent(subagent, f"subagent {status}" if failed else None)

    def _start(self, session_id: Any, model: Any = None) -> _Agent | None:
        if self._main is not None:
            return self._main
        if not session_id:
            return None
        self.session_id, self.model = str(session_id), model
        execution = baggage.get_baggage(c.EXECUTION_ID, self._parent_context)
        token = context.attach(self._parent_context)
        try:
            writer = TranscriptWriter(
                str(execution) if execution else self.session_id,
                self.session_id,
                pipeline=self._pipeline,
            )
        finally:
            context.detach(token)
        self._main = _Agent(writer)
        attrs: dict[str, Any] = {
            c.GEN_AI_CONVERSATION_ID: self.session_id,
            c.GEN_AI_PROVIDER_NAME: "anthropic",
        }
        if model:
            attrs[c.GEN_AI_REQUEST_MODEL] = str(model)
        self._main.span().set_attributes(attrs)
        return self._main

    def _agent_for(self, parent_tool_use_id: Any) -> _Agent | None:
        """The agent a message belongs to: the session's, or the subagent of a Task tool use."""
        main = self._main
        if main is None or not parent_tool_use_id:
            return main
        key = str(parent_tool_use_id)
        agent = self._subagents.get(key)
        if agent is not None:
            return agent
        task = self._agent_tools.get(key)
        parent = trace.set_span_in_context(task) if task is not None else None
        token = context.attach(parent) if parent is not None else None
        try:
            writer = TranscriptWriter(
                main.writer.execution_id,
                f"{main.writer.instance_id}/{key}",
                pipeline=self._pipeline,
            )
        finally:
            if token is not None:
                context.detach(token)
        agent = self._subagents[key] = _Agent(writer)
        agent.span().set_attribute(c.GEN_AI_CONVERSATION_ID, self.session_id or "")
        return agent

    def _on_assistant(self, message: Any) -> None:
        if self._main is None:
            self._start(_get(message, "session_id"), _get(message, "model"))
        agent = self._agent_for(_get(message, "parent_tool_use_id"))
        if agent is None:
            return
        for block in _get(message, "content") or ():
            if _type(block) == "ToolUseBlock" or _get(block, "type") == "tool_use":
                tool_id = agent.tools.log_start(block)
                self._owner[tool_id] = agent
                if c.tool_category(str(_get(block, "name"))) == "agent":
                    frame = agent.writer._runtime.open_tools.get(tool_id)
                    if frame is not None:
                        self._agent_tools[tool_id] = frame.span

    def _on_user(self, message: Any) -> None:
        content = _get(message, "content")
        if not isinstance(content, list):
            return
        for block in content:
            if _type(block) != "ToolResultBlock" and _get(block, "type") != "tool_result":
                continue
            tool_id = str(_get(block, "tool_use_id"))
            agent = self._owner.pop(tool_id, None)
            if agent is None:
                continue
            subagent = self._subagents.pop(tool_id, None)
            if subagent is not None:  # the Task tool's subagent has finished
                self._close_agent(subagent, None)
            denied = self._denied.pop(tool_id, None)
            if denied is not None:
                agent.tools.log_blocked(tool_id, denied)
            elif _get(block, "is_error") and tool_id not in self._failed:
                self._held[tool_id] = (agent, content_text(_get(block, "content")))
            else:
                self._failed.discard(tool_id)
                agent.tools.log_end(tool_id, block)

    def _on_result(self, message: Any) -> None:
        if self._main is None:
            self._start(_get(message, "session_id"))
        denials = {
            str(_get(denial, "tool_use_id")): denial
            for denial in _get(message, "permission_denials") or ()
        }
        self._resolve_held(denials)
        main = self._main
        if main is None:
            return
        # A session can end several turns (a ClaudeSDKClient, a background subagent's
        # follow-up turn): each result counts its own tokens, turns and API time,
        # and the session's cost so far.
        usage = _get(message, "usage") or {}
        totals = self._totals
        for key, name in (
            (c.GEN_AI_USAGE_INPUT_TOKENS, "input_tokens"),
            (c.GEN_AI_USAGE_OUTPUT_TOKENS, "output_tokens"),
            (c.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, "cache_read_input_tokens"),
            (c.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, "cache_creation_input_tokens"),
        ):
            value = _get(usage, name)
            if isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
        for key, name in (
            (c.AGENT_NUM_TURNS, "num_turns"),
            (c.AGENT_DURATION_API_MS, "duration_api_ms"),
        ):
            value = _get(message, name)
            if isinstance(value, (int, float)):
                totals[key] = totals.get(key, 0) + value
        totals[c.AGENT_PERMISSION_DENIALS] = totals.get(c.AGENT_PERMISSION_DENIALS, 0) + len(
            denials
        )
        cost = _get(message, "total_cost_usd")
        attrs: dict[str, Any] = dict(totals)
        if isinstance(cost, (int, float)):
            attrs[c.AGENT_COST_USD] = cost
        main.span().set_attributes(attrs)
        if _get(message, "is_error"):
            errors = _get(message, "errors") or []
            self._error = "; ".join(map(str, errors)) or f"result {_get(message, 'subtype')}"
        else:
            self._error = None

    def _resolve_held(self, denials: Mapping[str, Any]) -> None:
        for tool_id, (agent, text) in list(self._held.items()):
            del self._held[tool_id]
            if tool_id in denials:
                agent.tools.log_blocked(tool_id, text or "denied")
            else:
                agent.tools.log_end(tool_id, {"content": text, "is_error": True})

    # ------------------------------------------------------------------
    # end
    # ------------------------------------------------------------------

    def close(self, error: str | None = None) -> None:
        """End the session: held results as errors, subagents, then the agent instance."""
        if self._closed:
            return
        self._closed = True
        with internal_errors("claude_session.close"):
            for tool_id, (agent, text) in list(self._held.items()):
                agent.tools.log_end(tool_id, {"content": text or UNRESOLVED, "is_error": True})
            self._held.clear()
            for agent in list(self._subagents.values()):
                self._close_agent(agent, error)
            self._subagents.clear()
            if self._main is not None:
                self._close_agent(self._main, error or self._error)

    @staticmethod
    def _close_agent(agent: _Agent, error: str | None) -> None:
        if error:
            failure = RuntimeError(error)
            agent.writer.__exit__(RuntimeError, failure, None)
        else:
            agent.writer.close()
