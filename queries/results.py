"""What the diagnosis methods of ObservabilitySkills return.

The SQL tools return plain rows; these models are the spec's typed results
built on top of them (a validation issue, an error with its root-cause flag, a
stuck operation, the parallel-health and anomaly reports). Pydantic, so a
caller can ``model_dump()`` them to JSON for an agent or a CLI.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

Severity = Literal["error", "warning"]


class ValidationIssue(BaseModel):
    """One broken invariant found by a validation tool (V001–V007)."""

    check_id: str
    severity: Severity
    description: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorRecord(BaseModel):
    """One error from any source (T001); the first in time is the root-cause candidate."""

    source: str  # tool / assertion / skill / entry
    id: str
    timestamp: str
    sequence: int | None = None
    task_id: str | None = None
    name: str | None = None
    message: str | None = None
    is_root_cause: bool = False


class StuckOperation(BaseModel):
    """Something that started and never ended (T004), with how long ago it started."""

    kind: str  # tool_use / skill / task / assertion_chain
    id: str
    name: str | None = None
    task_id: str | None = None
    instance_id: str | None = None
    started_at: str
    age_s: float


class ParallelHealthReport(BaseModel):
    """Waves, stuck agents, file conflicts and efficiency (P001–P004) with the verdict.

    ``issues`` holds one sentence per problem found; the execution is healthy
    when there are none.
    """

    execution_id: str
    issues: list[str] = Field(default_factory=list)
    wave_progress: list[dict[str, Any]] = Field(default_factory=list)
    stuck_agents: list[dict[str, Any]] = Field(default_factory=list)
    file_conflicts: list[dict[str, Any]] = Field(default_factory=list)
    wave_efficiency: list[dict[str, Any]] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def is_healthy(self) -> bool:
        return not self.issues


class AnomalyReport(BaseModel):
    """What each anomaly tool (D001–D006) found in one execution."""

    execution_id: str
    unusual_durations: list[dict[str, Any]] = Field(default_factory=list)
    error_cascades: list[dict[str, Any]] = Field(default_factory=list)
    assertion_regressions: list[dict[str, Any]] = Field(default_factory=list)
    activity_spikes: list[dict[str, Any]] = Field(default_factory=list)
    orphaned_resources: list[dict[str, Any]] = Field(default_factory=list)
    circular_waits: list[dict[str, Any]] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def has_anomalies(self) -> bool:
        return any(
            (
                self.unusual_durations,
                self.error_cascades,
                self.assertion_regressions,
                self.activity_spikes,
                self.orphaned_resources,
                self.circular_waits,
            )
        )
