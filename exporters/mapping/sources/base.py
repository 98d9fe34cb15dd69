"""What a source of foreign spans is: one instrumentation's way of saying what a span is.

A :class:`Source` answers two questions about a finished span that otel-obs did not
make: is it an agent, a tool call, a step of a tool call or a call of a language model
(:meth:`Source.kind`), and where does it keep the facts a row needs (conversation,
agent, call id, tool name, arguments, result, failure, model and usage). Supporting a
new framework means one new module here with a small subclass, and its recordings
under ``tests/recordings/``.

The defaults read every convention's keys in one precedence order
(:data:`otel_obs.conventions.FOREIGN_TOOL_ID_KEYS` and its siblings), which is
right for spans that mix conventions; a source overrides what its instrumentation
says differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_obs import conventions as c
from otel_obs.redaction import capped_name

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
    #: Where a model call (or an agent run, as a whole) states its model and usage.
    model_keys: tuple[str, ...] = (c.GEN_AI_RESPONSE_MODEL, c.GEN_AI_REQUEST_MODEL, c.OI_MODEL_NAME)
    provider_keys: tuple[str, ...] = (c.GEN_AI_PROVIDER_NAME, c.GEN_AI_SYSTEM, c.OI_PROVIDER)
    input_token_keys: tuple[str, ...] = (
        c.GEN_AI_USAGE_INPUT_TOKENS,
        c.OI_PROMPT_TOKENS,
        c.GEN_AI_AGGREGATED_INPUT_TOKENS,
    )
    output_token_keys: tuple[str, ...] = (
        c.GEN_AI_USAGE_OUTPUT_TOKENS,
        c.OI_COMPLETION_TOKENS,
        c.GEN_AI_AGGREGATED_OUTPUT_TOKENS,
    )
    cache_read_keys: tuple[str, ...] = (
        c.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        c.OI_CACHE_READ_TOKENS,
    )
    cache_creation_keys: tuple[str, ...] = (
        c.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
        c.OI_CACHE_WRITE_TOKENS,
    )
    cost_keys: tuple[str, ...] = (c.OI_COST_TOTAL,)
    #: Whether the input token count includes the cached tokens (the GenAI conventions
    #: and OpenInference: yes; Anthropic's API, and so Claude Code: no).
    input_includes_cache = True

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

    def usage(self, attrs: Mapping[str, Any]) -> dict[str, Any] | None:
        """The model and usage a model call (or an agent run) states, None when it states no
        tokens and no cost: ``model``, ``provider``, ``input_tokens`` (every input token,
        the cached ones included), ``output_tokens``, ``cache_read_tokens``,
        ``cache_creation_tokens``, ``cost_usd`` (as reported)."""
        found: dict[str, Any] = {
            "input_tokens": _count(first(attrs, self.input_token_keys)),
            "output_tokens": _count(first(attrs, self.output_token_keys)),
            "cache_read_tokens": _count(first(attrs, self.cache_read_keys)),
            "cache_creation_tokens": _count(first(attrs, self.cache_creation_keys)),
            "cost_usd": _amount(first(attrs, self.cost_keys)),
        }
        if all(value is None for value in found.values()):
            return None
        if not self.input_includes_cache and found["input_tokens"] is not None:
            cached = (found["cache_read_tokens"], found["cache_creation_tokens"])
            found["input_tokens"] += sum(n for n in cached if n is not None)
        model, provider = first(attrs, self.model_keys), first(attrs, self.provider_keys)
        found["model"] = None if model is None else capped_name(model)
        found["provider"] = None if provider is None else capped_name(provider)
        return found

    def error_message(self, description: str | None) -> str | None:
        """The failure's message from a failed span's status description (None: none)."""
        return description


def _count(value: Any) -> int | None:
    """A token count as stated (an int, or its text over OTLP/JSON), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, (str, float)):
        try:
            number = int(float(value))
        except (ValueError, OverflowError):
            return None
        return number if number >= 0 else None
    return None


def _amount(value: Any) -> float | None:
    """A cost in USD as stated, else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 and number == number and number != float("inf") else None
