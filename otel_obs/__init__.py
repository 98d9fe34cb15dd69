"""otel-obs: OpenTelemetry-native observability for AI coding agents.

Workers describe their work through four producers (``TranscriptWriter``,
``ToolUseLogger``, ``SkillTracer``, ``AssertionRecorder``); each call becomes an
OpenTelemetry span or span event, which the transcript processor maps into a
SQLite + JSONL store that ``ObservabilitySkills`` (39 SQL tools) diagnoses.

Names are imported lazily so that ``import otel_obs`` (and the CLI) stay cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "TranscriptWriter": "otel_obs.transcript_writer",
    "ToolUseLogger": "otel_obs.tool_use_logger",
    "SkillTracer": "otel_obs.skill_tracer",
    "AssertionRecorder": "otel_obs.assertion_recorder",
    "TranscriptEntry": "otel_obs.models",
    "SkillReference": "otel_obs.models",
    "AssertionResult": "otel_obs.models",
    "ChainResult": "otel_obs.models",
    "configure": "otel_obs.config",
    "ObservabilitySkills": "otel_obs.queries.runner",
    "obs_validate": "otel_obs.queries.runner",
    "obs_errors": "otel_obs.queries.runner",
    "obs_parallel_health": "otel_obs.queries.runner",
    "obs_anomalies": "otel_obs.queries.runner",
    "obs_summary": "otel_obs.queries.runner",
}

__all__ = [
    "AssertionRecorder",
    "AssertionResult",
    "ChainResult",
    "ObservabilitySkills",
    "SkillReference",
    "SkillTracer",
    "ToolUseLogger",
    "TranscriptEntry",
    "TranscriptWriter",
    "__version__",
    "configure",
    "obs_anomalies",
    "obs_errors",
    "obs_parallel_health",
    "obs_summary",
    "obs_validate",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .assertion_recorder import AssertionRecorder
    from .config import configure
    from .models import AssertionResult, ChainResult, SkillReference, TranscriptEntry
    from .queries.runner import (
        ObservabilitySkills,
        obs_anomalies,
        obs_errors,
        obs_parallel_health,
        obs_summary,
        obs_validate,
    )
    from .skill_tracer import SkillTracer
    from .tool_use_logger import ToolUseLogger
    from .transcript_writer import TranscriptWriter


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'otel_obs' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
