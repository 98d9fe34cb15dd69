"""The sources of foreign spans, one module each (see :mod:`.base` for the interface).

:data:`SOURCES` is the order they are asked in: the first that claims a span reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import (
    adk,
    claude_code,
    genai,
    openai_agents,
    openinference,
    pydantic_ai,
    smolagents,
    traceloop,
)
from .base import IGNORE, STEP, Source, first

#: Every source, in the order they are asked: names first, then the frameworks (each
#: before the convention it follows), then the conventions.
SOURCES: tuple[Source, ...] = (
    claude_code.SOURCE,
    pydantic_ai.SOURCE,
    traceloop.SOURCE,
    adk.SOURCE,
    genai.SOURCE,
    smolagents.SOURCE,
    openai_agents.SOURCE,
    openinference.SOURCE,
)


def source_of(name: str | None, attrs: Mapping[str, Any]) -> tuple[Source, str] | None:
    """(the source that made this span, what the span is), or None for any other span."""
    for source in SOURCES:
        kind = source.kind(name, attrs)
        if kind is not None:
            return source, kind
    return None


__all__ = ["IGNORE", "SOURCES", "STEP", "Source", "first", "source_of"]
