"""The merge rules: how rows of one key combine, in a batch and in the store.

See the package docstring for facts and entities; the constants here say which
table is which, what keys them, and which columns follow special rules. The
upsert SQL (:mod:`..statements`) states the same rules for rows already stored.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]
Key = tuple[Any, ...]

START = "start"
END = "end"

#: Primary key columns of every table the mapping writes.
KEYS: Mapping[str, tuple[str, ...]] = {
    "task_list_execution_runs": ("id",),
    # An id is unique only within its execution (a tool-call id within its conversation;
    # any other id as a client sends it): every row is keyed per execution, so no
    # client changes or hides another execution's rows by reusing its ids.
    "transcript_entries": ("execution_id", "id"),
    "tool_uses": ("execution_id", "id"),
    "skill_traces": ("execution_id", "id"),
    "assertion_chains": ("execution_id", "id"),
    "assertion_results": ("execution_id", "id"),
    "message_bus_log": ("execution_id", "id"),
    "tasks": ("execution_id", "id"),
    "task_relationships": (
        "execution_id",
        "source_task_id",
        "target_task_id",
        "relationship_type",
    ),
    "task_file_impacts": ("execution_id", "id"),
    "parallel_execution_waves": ("execution_id", "wave_number"),
    "wave_task_assignments": ("execution_id", "wave_number", "task_id"),
    "build_agent_instances": ("execution_id", "id"),
    "llm_calls": ("execution_id", "id"),
}

#: The key of a row in :class:`Rows`: the primary key value, a tuple when it has several columns.
KEY_OF: Mapping[str, Any] = {table: operator.itemgetter(*cols) for table, cols in KEYS.items()}

#: Tables whose rows are completed at a span's end (upserted by phase).
ENTITY_TABLES: frozenset[str] = frozenset(
    {
        "task_list_execution_runs",
        "parallel_execution_waves",
        "build_agent_instances",
        "tasks",
        "tool_uses",
        "skill_traces",
        "assertion_chains",
    }
)

#: Columns where the earliest value wins whatever the phase (several
#: processes each "ensure" the same execution or wave with their own clock).
EARLIEST_COLUMNS: frozenset[str] = frozenset({"started_at"})
#: Tables whose row is the latest attempt at something that can be retried, by the
#: column that dates an attempt: a row of a later attempt replaces the row (a task
#: retried in a later wave, by another agent, is that wave's and that agent's now),
#: and a row of an earlier attempt, arriving late or again, changes nothing.
ATTEMPT_TABLES: dict[str, str] = {"tasks": "started_at"}
#: The columns an attempt's end fills, cleared when a later attempt starts.
ATTEMPT_END_COLUMNS: dict[str, tuple[str, ...]] = {
    "tasks": ("completed_at", "duration_ms", "error")
}

#: Tables whose rows keep a failure: (status column, its failed value, its done value,
#: the columns of the outcome). When one row of a key says failed and the other done,
#: the failed row's outcome wins whatever the phases and whichever came first: a step
#: of a tool can fail inside a span that ends done (Claude Code's
#: ``claude_code.tool.execution`` inside its ``claude_code.tool``, see
#: :func:`map_failed_step`). Our producers end a tool use once, so never meet it.
FAILURE_KEPT: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "tool_uses": ("result_status", "error", "done", ("result_status", "is_error", "error_message"))
}


@dataclass
class Rows:
    """Rows for the store, merged by primary key (see the module docstring).

    ``tables`` maps a table to ``{primary key: [phase, row]}`` in the order the
    rows were first met, which for transcript entries is the order in which
    they get their sequence numbers. ``heartbeats`` holds, per (execution,
    instance), the latest activity time and the task it was in (``None`` once
    that task ended). ``touched_waves`` / ``touched_skills`` name the waves and
    skill traces, each by (execution, number or id), whose derived counts the store
    must recompute.

    Merging takes ownership of the merged rows' dicts.
    """

    tables: dict[str, dict[Any, list[Any]]] = field(default_factory=dict)
    heartbeats: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    touched_waves: set[tuple[str, int]] = field(default_factory=set)
    touched_skills: set[tuple[str, str]] = field(default_factory=set)
    #: The lineage of foreign spans (see exporters/lineage.py): decided links by
    #: (trace, span) as ``span_links`` rows, spans left waiting (parent, record text),
    #: waiting spans released, and unmapped spans counted by (scope, name).
    links: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)
    waiting: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    released: set[tuple[str, str]] = field(default_factory=set)
    unmapped: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, table: str, row: Row, phase: str = START) -> None:
        """Add one row, merging with a row of the same key already here."""
        key = KEY_OF[table](row)
        bucket = self.tables.get(table)
        if bucket is None:
            bucket = self.tables[table] = {}
        current = bucket.get(key)
        if current is None:
            bucket[key] = [phase, row]
            return
        if table not in ENTITY_TABLES:
            return  # a fact: the first delivery wins, later ones are the same fact
        old = current[1]
        attempt = ATTEMPT_TABLES.get(table)
        if attempt is not None:
            began, known = row.get(attempt), old.get(attempt)
            if began is not None and known is not None and began != known:
                if began > known:  # a later attempt: it is the row now
                    current[0], current[1] = phase, row
                return
        kept = _kept_failure(table, old, row) if table in FAILURE_KEPT else None
        if phase == END:
            current[0] = END
            for name, value in row.items():
                if value is not None and not (
                    name in EARLIEST_COLUMNS and old.get(name) is not None and old[name] <= value
                ):
                    old[name] = value
        else:
            for name, value in row.items():
                if value is None:
                    continue
                known = old.get(name)
                if known is None or (name in EARLIEST_COLUMNS and value < known):
                    old[name] = value
        if kept:
            old.update(kept)

    def add_keyed(self, table: str, key: Any, row: Row, phase: str = START) -> None:
        """:meth:`add` of a row whose key the caller already has (the fast path's rows)."""
        bucket = self.tables.get(table)
        if bucket is None:
            bucket = self.tables[table] = {}
        if key in bucket:
            self.add(table, row, phase)
        else:
            bucket[key] = [phase, row]

    def heartbeat(
        self, execution_id: str, instance_id: str | None, ts: str, task_id: str | None
    ) -> None:
        """Record activity of an agent: the latest time and the task it was in."""
        if not instance_id:
            return
        key = (execution_id, instance_id)
        current = self.heartbeats.get(key)
        if current is None:
            self.heartbeats[key] = [ts, task_id]
        elif ts >= current[0]:
            current[0] = ts
            current[1] = task_id

    def merge(self, other: Rows) -> Rows:
        """Fold ``other`` into this one (its rows come after ours)."""
        for table, bucket in other.tables.items():
            for phase, row in bucket.values():
                self.add(table, row, phase)
        for (execution_id, instance_id), (ts, task_id) in other.heartbeats.items():
            self.heartbeat(execution_id, instance_id, ts, task_id)
        self.touched_waves |= other.touched_waves
        self.touched_skills |= other.touched_skills
        self.links.update(other.links)
        self.waiting.update(other.waiting)
        self.released |= other.released
        for key, n in other.unmapped.items():
            self.unmapped[key] = self.unmapped.get(key, 0) + n
        return self

    def rows(self, table: str) -> list[Row]:
        """The rows for ``table``, in the order they were first added."""
        return [row for _, row in self.tables.get(table, {}).values()]

    def phase(self, table: str, key: Any) -> str | None:
        """The phase of the row with primary key ``key`` in ``table`` (None if absent)."""
        entry = self.tables.get(table, {}).get(key)
        return None if entry is None else entry[0]

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self.tables.values())

    def __bool__(self) -> bool:
        return bool(
            self.tables
            or self.heartbeats
            or self.links
            or self.waiting
            or self.released
            or self.unmapped
        )


def _kept_failure(table: str, old: Row, new: Row) -> Row | None:
    """The outcome a merge of ``new`` into ``old`` must keep (see :data:`FAILURE_KEPT`)."""
    status, failed, done, columns = FAILURE_KEPT[table]
    known, coming = old.get(status), new.get(status)
    if known == failed and coming == done:
        source = old
    elif known == done and coming == failed:
        source = new
    else:
        return None
    return {name: source[name] for name in columns if source.get(name) is not None}
