"""``otel-obs diff A B``: what changed between two runs, the second against the first.

Runs of one task list repeat the same tasks and tools, so a change is a finding:
a task or tool that fails now and did not (a regression) or failed and does not
(fixed), one that got slower or faster beyond its own spread, a command blocked
now that was not, an agent that came or went, and the run's duration.

"Beyond its own spread": a tool is slower when its mean duration in B exceeds its
mean in A by more than ``sigmas`` standard deviations of its durations in A (each
side with at least ``min_calls`` calls); a task when its duration changed by more
than ``sigmas`` standard deviations of all task durations in A. A change under
``min_change_ms`` is never one (durations of a few microseconds spread by noise).
Agents are compared by name: an agent run of another instrumentation is
``<name>@<span id>``, new each run. Cost and tokens are the model calls' (C001's
figures, each call counted once).
"""

from __future__ import annotations

import math
from typing import Any

from ..store_location import StoreLocation
from .readonly import connect_read_only, execute

Row = dict[str, Any]

_TASKS = "SELECT id, status, duration_ms FROM tasks WHERE execution_id = ?"
_TOOLS = """
SELECT tool, count(*) AS calls, avg(duration_ms) AS mean_ms,
       sum(result_status = 'error') AS errors,
       avg(duration_ms * duration_ms) AS mean_sq
FROM tool_uses WHERE execution_id = ? AND duration_ms IS NOT NULL GROUP BY tool
"""
_FAILED_CALLS = """
SELECT DISTINCT tool, coalesce(input_summary, '') AS what
FROM tool_uses WHERE execution_id = ? AND result_status = 'error'
"""
_CALLS = """
SELECT DISTINCT tool, coalesce(input_summary, '') AS what FROM tool_uses WHERE execution_id = ?
"""
_BLOCKED = """
SELECT DISTINCT tool, coalesce(input_summary, '') AS what, block_reason
FROM tool_uses WHERE execution_id = ? AND result_status = 'blocked'
"""
_AGENTS = "SELECT id FROM build_agent_instances WHERE execution_id = ?"
_RUN = """
SELECT id, status, started_at, completed_at,
       (julianday(completed_at) - julianday(started_at)) * 86400000.0 AS duration_ms
FROM task_list_execution_runs WHERE id = ?
"""


def agent_name(instance_id: str) -> str:
    """An instance as a name that recurs across runs (a foreign run's span id dropped)."""
    name, at, span = instance_id.rpartition("@")
    return (
        name
        if at and len(span) == 16 and all(ch in "0123456789abcdef" for ch in span)
        else instance_id
    )


def _sd(mean: float | None, mean_sq: float | None) -> float:
    if mean is None or mean_sq is None:
        return 0.0
    return math.sqrt(max(0.0, mean_sq - mean * mean))


def compare(
    db_path: StoreLocation,
    a: str,
    b: str,
    *,
    sigmas: float = 2.0,
    min_calls: int = 3,
    min_change_ms: float = 5.0,
) -> dict[str, Any]:
    """Every change of ``b`` against ``a`` (see the module docstring)."""
    conn = connect_read_only(db_path)
    try:
        return _compare(conn, a, b, sigmas, min_calls, min_change_ms)
    finally:
        conn.close()


def _rows(conn: Any, sql: str, *params: Any) -> list[Row]:
    return [dict(row) for row in conn.execute(sql, params)]


def _compare(conn: Any, a: str, b: str, sigmas: float, min_calls: int, min_change_ms: float) -> Row:
    runs = {x: (_rows(conn, _RUN, x) or [{}])[0] for x in (a, b)}
    tasks_a = {t["id"]: t for t in _rows(conn, _TASKS, a)}
    tasks_b = {t["id"]: t for t in _rows(conn, _TASKS, b)}
    durations = [t["duration_ms"] for t in tasks_a.values() if t["duration_ms"] is not None]
    mean = sum(durations) / len(durations) if durations else None
    task_sd = _sd(mean, sum(d * d for d in durations) / len(durations)) if durations else 0.0
    out: Row = {
        "a": a,
        "b": b,
        "duration_ms": {x: runs[x].get("duration_ms") for x in (a, b)},
        "cost_usd": {x: _usage(conn, x)[0] for x in (a, b)},
        "tokens": {x: _usage(conn, x)[1] for x in (a, b)},
        "status": {x: runs[x].get("status") for x in (a, b)},
        "tasks_newly_failing": [],
        "tasks_fixed": [],
        "tasks_slower": [],
        "tasks_faster": [],
        "tasks_added": sorted(set(tasks_b) - set(tasks_a)),
        "tasks_gone": sorted(set(tasks_a) - set(tasks_b)),
    }
    for task_id in sorted(set(tasks_a) & set(tasks_b)):
        before, after = tasks_a[task_id], tasks_b[task_id]
        if after["status"] == "failed" and before["status"] != "failed":
            out["tasks_newly_failing"].append(task_id)
        elif before["status"] == "failed" and after["status"] == "completed":
            out["tasks_fixed"].append(task_id)
        if before["duration_ms"] is not None and after["duration_ms"] is not None:
            change = after["duration_ms"] - before["duration_ms"]
            if abs(change) > max(sigmas * task_sd, min_change_ms):
                row = {
                    "task_id": task_id,
                    "a_ms": before["duration_ms"],
                    "b_ms": after["duration_ms"],
                    "change_ms": change,
                }
                out["tasks_slower" if change > 0 else "tasks_faster"].append(row)
    tools_a = {t["tool"]: t for t in _rows(conn, _TOOLS, a)}
    tools_b = {t["tool"]: t for t in _rows(conn, _TOOLS, b)}
    out["tools_slower"], out["tools_faster"] = [], []
    for tool in sorted(set(tools_a) & set(tools_b)):
        before, after = tools_a[tool], tools_b[tool]
        if before["calls"] < min_calls or after["calls"] < min_calls:
            continue
        spread = _sd(before["mean_ms"], before["mean_sq"])
        change = after["mean_ms"] - before["mean_ms"]
        if abs(change) > max(sigmas * spread, min_change_ms):
            row = {
                "tool": tool,
                "a_mean_ms": before["mean_ms"],
                "b_mean_ms": after["mean_ms"],
                "a_sd_ms": spread,
                "calls": [before["calls"], after["calls"]],
            }
            out["tools_slower" if change > 0 else "tools_faster"].append(row)
    failed_a = {(r["tool"], r["what"]) for r in _rows(conn, _FAILED_CALLS, a)}
    failed_b = {(r["tool"], r["what"]) for r in _rows(conn, _FAILED_CALLS, b)}
    calls_b = {(r["tool"], r["what"]) for r in _rows(conn, _CALLS, b)}
    out["tool_uses_newly_failing"] = [
        {"tool": tool, "input_summary": what} for tool, what in sorted(failed_b - failed_a)
    ]
    out["tool_uses_fixed"] = [
        {"tool": tool, "input_summary": what}
        for tool, what in sorted((failed_a - failed_b) & calls_b)
    ]
    blocked_a = {(r["tool"], r["what"]) for r in _rows(conn, _BLOCKED, a)}
    out["newly_blocked"] = [
        {"tool": r["tool"], "input_summary": r["what"], "block_reason": r["block_reason"]}
        for r in _rows(conn, _BLOCKED, b)
        if (r["tool"], r["what"]) not in blocked_a
    ]
    names_a = {agent_name(r["id"]) for r in _rows(conn, _AGENTS, a)}
    names_b = {agent_name(r["id"]) for r in _rows(conn, _AGENTS, b)}
    out["agents_added"] = sorted(names_b - names_a)
    out["agents_gone"] = sorted(names_a - names_b)
    return out


def _usage(conn: Any, execution_id: str) -> tuple[float | None, int]:
    """(cost in USD or None when nothing is priced, input + output tokens) of a run's model
    calls: C001's own figures per agent, which count each call once."""
    from ..queries.registry import get_tool

    tool = get_tool("C001")
    cursor = execute(conn, tool.sql, tool.bind({"execution_id": execution_id}), tool.param_types)
    names = [d[0] for d in cursor.description or ()]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    costs = [r["cost_usd"] for r in rows if r["cost_usd"] is not None]
    tokens = sum((r["input_tokens"] or 0) + (r["output_tokens"] or 0) for r in rows)
    return (sum(costs) if costs else None), tokens


#: The lists of a comparison that are changes (an empty comparison has none).
CHANGES = (
    "tasks_newly_failing",
    "tasks_fixed",
    "tasks_slower",
    "tasks_faster",
    "tasks_added",
    "tasks_gone",
    "tools_slower",
    "tools_faster",
    "tool_uses_newly_failing",
    "tool_uses_fixed",
    "newly_blocked",
    "agents_added",
    "agents_gone",
)


def regressions(comparison: Row) -> int:
    """How many changes are for the worse (what ``diff`` exits 1 on)."""
    worse = ("tasks_newly_failing", "tool_uses_newly_failing", "newly_blocked")
    return sum(len(comparison[name]) for name in worse)


__all__ = ["CHANGES", "agent_name", "compare", "regressions"]
