"""The records workers hand to the producers and get back from them.

Pydantic models, so bad input fails at the call with a message naming the bad
value, not later in a background thread where the agent never sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import conventions as c
from .redaction import redact_text

SUMMARY_MAX = 200


class SkillReference(BaseModel):
    """Where a skill is defined: file, line and section of its markdown."""

    model_config = ConfigDict(frozen=True)

    skill_name: str = Field(min_length=1)
    skill_file: str = ""
    line_number: int = Field(default=0, ge=0)
    section_title: str = ""

    @field_validator("skill_name", "skill_file", "section_title")
    @classmethod
    def _redacted(cls, value: str) -> str:
        """Names reach span names and every sink: a secret pasted into one is removed."""
        return redact_text(value)


class TranscriptEntry(BaseModel):
    """One entry of the unified transcript, before the store gives it id and sequence.

    ``category`` defaults from ``entry_type``; ``summary`` is cut to 200
    characters (with an ellipsis) rather than refused, because an agent's
    summary is prose and losing its tail beats losing the entry.
    """

    model_config = ConfigDict(extra="forbid")

    entry_type: str
    category: str | None = None
    summary: str = ""
    task_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    skill_ref: SkillReference | None = None
    duration_ms: float | None = Field(default=None, ge=0)
    token_estimate: int | None = Field(default=None, ge=0)

    @field_validator("entry_type")
    @classmethod
    def _known_entry_type(cls, value: str) -> str:
        if value not in c.ENTRY_TYPES:
            raise ValueError(
                f"unknown entry_type {value!r}; valid entry types: {', '.join(c.ENTRY_TYPES)}"
            )
        return value

    @field_validator("details", mode="before")
    @classmethod
    def _string_keys(cls, value: Any) -> Any:
        """Non-string keys (a tuple, a number) are stored by their text, not refused."""
        if isinstance(value, Mapping) and not all(type(k) is str for k in value):
            return {k if type(k) is str else repr(k): v for k, v in value.items()}
        return value

    @field_validator("summary")
    @classmethod
    def _cap_summary(cls, value: str) -> str:
        value = redact_text(value)  # before the cut: a cut must not leave half a secret
        if len(value) > SUMMARY_MAX:
            return value[: SUMMARY_MAX - 1] + "…"
        return value

    @model_validator(mode="after")
    def _default_category(self) -> TranscriptEntry:
        if not self.category:
            self.category = c.DEFAULT_CATEGORY[self.entry_type]
        return self


AssertionOutcome = Literal["pass", "fail", "skip", "warn"]
ChainOutcome = Literal["pass", "fail", "partial", "skip"]


class AssertionResult(BaseModel):
    """The outcome of one assertion, with the evidence that decided it."""

    id: str
    task_id: str
    chain_id: str | None = None
    category: str
    description: str
    result: AssertionOutcome
    evidence: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime
    duration_ms: float = 0.0

    @property
    def passed(self) -> bool:
        return self.result == "pass"


class ChainResult(BaseModel):
    """The verdict of an assertion chain: fail if any failed, pass if any passed, else skip."""

    chain_id: str
    task_id: str
    overall_result: ChainOutcome
    pass_count: int = 0
    fail_count: int = 0
    skip_count: int = 0
    warn_count: int = 0
    first_failure_id: str | None = None
    results: list[AssertionResult] = Field(default_factory=list)
