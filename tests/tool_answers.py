"""Every SQL tool's calls on a store, and answers compared to the last bit.

:func:`tool_calls` runs each tool of the registry (``otel_obs.queries``) with
every execution id, task id, task list, correlation and event the store holds
(and without the optional ones); :func:`typed` makes ``3`` and ``3.0`` differ
when two answers are compared.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from otel_obs.queries.registry import load_tools

#: The ``now`` the tools that look at recent activity are given: the same on both sides.
NOW = "2031-06-01T00:00:00.000000Z"


def store_values(db: Path) -> dict[str, list[Any]]:
    """The values of each tool parameter a SQLite store holds (some capped in number)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:

        def column(sql: str) -> list[Any]:
            return [r[0] for r in conn.execute(sql)]

        return {
            "execution_id": column("SELECT id FROM task_list_execution_runs ORDER BY id"),
            "task_list_id": column(
                "SELECT DISTINCT task_list_id FROM task_list_execution_runs"
                " WHERE task_list_id IS NOT NULL ORDER BY 1"
            ),
            "task_id": column("SELECT DISTINCT id FROM tasks ORDER BY id LIMIT 12"),
            "correlation_id": column(
                "SELECT DISTINCT correlation_id FROM message_bus_log"
                " WHERE correlation_id IS NOT NULL ORDER BY 1 LIMIT 4"
            ),
            "event_id": column("SELECT id FROM message_bus_log ORDER BY id LIMIT 4"),
        }
    finally:
        conn.close()


def tool_calls(db: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every tool with every value of its parameters the store holds (and None if optional).

    A window or threshold keeps its default; ``now`` is :data:`NOW`.
    """
    values = store_values(db)
    for tool in load_tools().values():
        combos: list[dict[str, Any]] = [{}]
        for param in tool.params:
            if param.name == "now":
                choices: list[Any] = [NOW]
            elif param.name in values:
                choices = list(values[param.name])
                if not param.required:
                    choices.append(None)
            else:
                continue  # a window or threshold: its default
            combos = [{**c, param.name: v} for c in combos for v in choices]
        for combo in combos:
            yield tool.id, combo


def typed(value: Any) -> Any:
    """``value`` with each number's type beside it, so ``3`` and ``3.0`` differ."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [typed(v) for v in value]
    if isinstance(value, bool | int | float):
        return (type(value).__name__, value)
    return value
