"""What a source of foreign spans is: one instrumentation's way of saying what a span is.

A :class:`Source` answers two questions about a finished span that otel-obs did not
make: is it an agent, a tool call, or a step of a tool call (:meth:`Source.kind`), and
where does it keep the facts a row needs (conversation, agent, call id, tool name,
arguments, result, failure). Supporting a new framework means one new module here
with a small subclass, and its recordings under ``tests/recordings/``.

The defaults read every convention's keys in one precedence order
(:data:`otel_obs.conventions.FOREIGN_TOOL_ID_KEYS` and its siblings), which is
right for spans that mix conventions; a source overrides what its instrumentation
says differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_obs import conventions as c

#: A span that is one step of a tool call, which can only say the call failed
#: (Claude Code's ``claude_code.tool.execution``).
STEP = "step"
#: A span a source knows and that stores nothing: a wrapper around an agent run (OpenAI
#: Agents' trace span, a Traceloop workflow), the answer given as a tool call
#: (smolagents' ``final_answer``), a span that merges others. Its children see through it.
IGNORE = "ignore"


def first(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    """The first of ``keys`` that ``attrs`` holds with a value (None, "" count as none)."""
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


class Source:
    """One instrumentation's spans: which are agents and tools, and where their facts are."""

    #: A short name, used in logs and the unmapped-span counts.
    name = "base"
    conversation_keys: tuple[str, ...] = c.FOREIGN_CONVERSATION_KEYS
    agent_keys: tuple[str, ...] = c.FOREIGN_AGENT_KEYS
    call_id_keys: tuple[str, ...] = c.FOREIGN_TOOL_ID_KEYS
    tool_name_keys: tuple[str, ...] = c.FOREIGN_TOOL_NAME_KEYS
    input_keys: tuple[str, ...] = c.FOREIGN_INPUT_KEYS
    output_keys: tuple[str, ...] = c.FOREIGN_OUTPUT_KEYS
    #: Call ids that name no call (a placeholder): such a tool use is keyed by its span.
    placeholder_call_ids: frozenset[str] = frozenset()

    def kind(self, name: str | None, attrs: Mapping[str, Any]) -> str | None:
        """``tool``, ``agent`` or :data:`STEP` when this source made the span, else None."""
        return None

    def conversation(self, attrs: Mapping[str, Any]) -> Any:
        return first(attrs, self.conversation_keys)

    def agent(self, attrs: Mapping[str, Any], name: str | None = None) -> Any:
        """The agent's id or name, as the span (named ``name``) states it."""
        return first(attrs, self.agent_keys)

    def call_id(self, attrs: Mapping[str, Any]) -> Any:
        value = first(attrs, self.call_id_keys)
        if value is not None and str(value) in self.placeholder_call_ids:
            return None
        return value

    def tool_name(self, name: str | None, attrs: Mapping[str, Any]) -> Any:
        return first(attrs, self.tool_name_keys) or name

    def tool_input(self, attrs: Mapping[str, Any]) -> Any:
        return first(attrs, self.input_keys)

    def tool_output(self, attrs: Mapping[str, Any]) -> Any:
        return first(attrs, self.output_keys)

    def handled_failure(self, attrs: Mapping[str, Any], output: str | None) -> str | None:
        """The message of a failure the framework handled (the span's status is OK), else None."""
        return None

    def error_message(self, description: str | None) -> str | None:
        """The failure's message from a failed span's status description (None: none)."""
        return description
