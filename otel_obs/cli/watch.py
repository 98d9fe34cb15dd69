"""``otel-obs watch``: a live store's findings, printed as they happen.

A run that goes wrong should say so while it runs, not in the report afterwards.
The watch polls the store (read-only) with the SQL tools that name what a person
acts on — every error with its root cause (T001), a blocked command (T002), an
agent that stopped showing activity (P002) — and prints each finding once, the
moment it appears. When the execution ends, the exit status says whether it had
findings, so a CI job can fail on them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

#: How often the store is read, in seconds (a finding is seen within about this).
POLL_S = 0.25
#: Execution statuses that mean it ended.
ENDED = frozenset({"completed", "failed", "terminated"})


@dataclass(frozen=True)
class Finding:
    """One thing that went wrong, as the watch prints it."""

    kind: str  # error | root_cause | failed_assertion | blocked | stuck_agent
    execution_id: str
    at: str | None
    summary: str
    key: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def findings(skills: Any, execution_id: str, heartbeat_s: float) -> Iterator[Finding]:
    """Every finding the store holds now for ``execution_id`` (the caller keeps what it
    has already printed, by key)."""
    for index, row in enumerate(skills.run("T001", execution_id=execution_id)):
        if row["source"] == "assertion":
            kind = "failed_assertion"
        else:
            kind = "root_cause" if index == 0 else "error"
        where = f" in task {row['task_id']}" if row.get("task_id") else ""
        yield Finding(
            kind,
            execution_id,
            row["timestamp"],
            f"{row['source']} {row['name']}{where}: {row['message'] or ''}".strip(),
            f"T001:{row['source']}:{row['id']}",
        )
    for row in skills.run("T002", execution_id=execution_id):
        yield Finding(
            "blocked",
            execution_id,
            row.get("timestamp"),
            f"{row['tool']} blocked: {row['block_reason'] or ''} ({row['input_summary'] or ''})",
            f"T002:{row['tool_use_id']}",
        )
    for row in skills.run("P002", execution_id=execution_id, heartbeat_s=heartbeat_s):
        task = f" in task {row['current_task_id']}" if row.get("current_task_id") else ""
        yield Finding(
            "stuck_agent",
            execution_id,
            row["last_heartbeat_at"],
            f"agent {row['instance_id']}{task} silent for {row['silent_s']:.0f} s",
            f"P002:{row['instance_id']}:{row['last_heartbeat_at']}",
        )


def execution_status(skills: Any, execution_id: str) -> str | None:
    """The execution's status (A001's), or None while nothing of it is stored."""
    rows = skills.run("A001", execution_id=execution_id)
    return rows[0]["status"] if rows else None


def watch(
    skills: Any,
    execution_id: str,
    emit: Callable[[Finding], None],
    *,
    heartbeat_s: float = 120.0,
    timeout_s: float | None = None,
    poll_s: float = POLL_S,
) -> tuple[bool, int]:
    """Print each new finding until the execution ends (or ``timeout_s`` passes):
    (it ended, how many findings)."""
    seen: set[str] = set()
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        status = execution_status(skills, execution_id)
        for finding in findings(skills, execution_id, heartbeat_s):
            if finding.key not in seen:
                seen.add(finding.key)
                emit(finding)
        if status in ENDED:
            return True, len(seen)
        if deadline is not None and time.monotonic() >= deadline:
            return False, len(seen)
        time.sleep(poll_s)


__all__ = ["ENDED", "Finding", "execution_status", "findings", "watch"]
