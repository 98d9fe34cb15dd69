"""Spans and span events in, table rows out: the one mapping every path shares.

The live processor, the batch exporter, OTLP ingest and replay all call these
functions, so a span lands in the same rows whichever way it arrives. The
mapping reads only the attributes named in :mod:`otel_obs.conventions`, keeps
no state and does no I/O: given the same span it returns the same rows, which
is what makes re-delivery harmless (ids come from the producer's attributes).

Rows come in two flavours:

* *facts* (transcript entries, assertion results, message-bus rows, file
  impacts, relationships, wave assignments) are written once: the store
  inserts them with ``INSERT OR IGNORE`` and a second delivery changes nothing;
* *entities* (executions, waves, agents, tasks, tool uses, skill traces,
  assertion chains) have a life: a row written at a span's start is completed
  at its end. Each carries a phase. A ``start`` row only fills what is still
  empty (so a late re-delivery of a start never undoes an end); an ``end`` row
  is the whole row and its non-null values win, so an end arriving without its
  start still makes a complete row. One exception: a tool use's failure is
  kept over a row that says it was done, whatever their phases
  (:data:`FAILURE_KEPT`).

Several mapped items merge into one :class:`Rows` by primary key with those
same rules, so a tool use that starts and ends within one write batch becomes
one row write, not an insert and an update.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from opentelemetry.trace import StatusCode

from otel_obs import conventions as c
from otel_obs.redaction import (
    ERROR_MESSAGE_CAP,
    INPUT_CAP,
    OUTPUT_CAP,
    cap_text,
    clean_attributes,
    clean_text,
    dumps,
    finite_json,
    redact_text,
    shorten,
)
from otel_obs.tool_facts import OUTPUT_SUMMARY_MAX, tool_span_facts

from ._sdk_access import attributes_copy

Row = dict[str, Any]
Key = tuple[Any, ...]

START = "start"
END = "end"

#: Primary key columns of every table the mapping writes.
KEYS: Mapping[str, tuple[str, ...]] = {
    "task_list_execution_runs": ("id",),
    "transcript_entries": ("id",),
    # A tool-call id is unique only within its conversation: keyed per execution.
    "tool_uses": ("execution_id", "id"),
    "skill_traces": ("id",),
    "assertion_chains": ("id",),
    "assertion_results": ("id",),
    "message_bus_log": ("id",),
    "tasks": ("execution_id", "id"),
    "task_relationships": (
        "execution_id",
        "source_task_id",
        "target_task_id",
        "relationship_type",
    ),
    "task_file_impacts": ("id",),
    "parallel_execution_waves": ("execution_id", "wave_number"),
    "wave_task_assignments": ("execution_id", "wave_number", "task_id"),
    "build_agent_instances": ("execution_id", "id"),
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

#: Entry types that are also messages on the bus (everything not carried by a span).
BUS_ENTRY_TYPES: frozenset[str] = frozenset(
    {
        "decision",
        "discovery",
        "error",
        "checkpoint",
        "lock_acquire",
        "lock_release",
        "validation",
    }
)

_START_ENTRY_BY_KIND = {
    c.KIND_PHASE: "phase_start",
    c.KIND_TASK: "task_start",
    c.KIND_SKILL: "skill_invoke",
    c.KIND_TOOL: "tool_use",
}
_END_ENTRY_BY_KIND = {
    c.KIND_PHASE: "phase_end",
    c.KIND_TASK: "task_end",
    c.KIND_SKILL: "skill_complete",
}
#: How long a tool_use entry's summary may be ("<tool>: <input summary>", shortened).
TOOL_SUMMARY_MAX = 200
_ENTRY_TYPE_SET = frozenset(c.ENTRY_TYPES)

_START_ENTRY_KEYS = c.START_ENTRY_KEYS
_END_ENTRY_KEYS = c.END_ENTRY_KEYS


class SpanLike(Protocol):
    """What the mapping reads from a span: an SDK ``ReadableSpan`` (live or ended) fits."""

    @property
    def name(self) -> str: ...

    @property
    def attributes(self) -> Mapping[str, Any] | None: ...

    @property
    def context(self) -> Any: ...

    @property
    def start_time(self) -> int | None: ...

    @property
    def end_time(self) -> int | None: ...

    @property
    def events(self) -> Iterable[Any]: ...

    @property
    def resource(self) -> Any: ...


@dataclass
class Rows:
    """Rows for the store, merged by primary key (see the module docstring).

    ``tables`` maps a table to ``{primary key: [phase, row]}`` in the order the
    rows were first met, which for transcript entries is the order in which
    they get their sequence numbers. ``heartbeats`` holds, per (execution,
    instance), the latest activity time and the task it was in (``None`` once
    that task ended). ``touched_waves`` / ``touched_skills`` name the waves and
    skill traces whose derived counts the store must recompute.

    Merging takes ownership of the merged rows' dicts.
    """

    tables: dict[str, dict[Any, list[Any]]] = field(default_factory=dict)
    heartbeats: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    touched_waves: set[tuple[str, int]] = field(default_factory=set)
    touched_skills: set[str] = field(default_factory=set)

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
        return bool(self.tables) or bool(self.heartbeats)


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


# --------------------------------------------------------------------------
# small pure helpers
# --------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _second_prefix(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def iso_from_ns(ns: int) -> str:
    """Nanoseconds since the epoch as the store's one timestamp format."""
    seconds, micros = divmod(ns // 1000, 1_000_000)
    return "%s.%06dZ" % (_second_prefix(seconds), micros)  # noqa: UP031 - the fastest form


def _ms(start_ns: int | None, end_ns: int | None) -> float | None:
    if start_ns is None or end_ns is None:
        return None
    return (end_ns - start_ns) / 1_000_000


def json_object_text(raw: Any) -> str | None:
    """``raw`` as the text of a JSON object, so SQL ``json_extract`` never meets bad JSON.

    Producers send details as JSON text; anything else (plain text, a JSON
    list, a malformed string) is kept under ``{"value": ...}`` rather than lost.
    """
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        return _object_text_of_str(raw)
    if isinstance(raw, Mapping):
        return finite_json(_OBJECT_ENCODER, dict(raw))
    return finite_json(_OBJECT_ENCODER, {"value": raw})


#: Details as ``json.dumps`` writes them, refusing NaN (see redaction.finite_json).
_OBJECT_ENCODER = json.JSONEncoder(default=str, allow_nan=False)


@lru_cache(maxsize=1024)
def _object_text_of_str(raw: str) -> str:
    """:func:`json_object_text` of a string. Remembered: producers send the same details
    text again and again (a tool's fixed details), and parsing it is most of the cost."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return json.dumps({"value": raw})
    if isinstance(parsed, dict):
        # One line per entry in the JSONL file: pretty-printed text is written
        # again; so is text with NaN or Infinity, which is not JSON to SQLite.
        if "\n" in raw or "\r" in raw or "NaN" in raw or "Infinity" in raw:
            return finite_json(_OBJECT_ENCODER, parsed)
        return raw
    return finite_json(_OBJECT_ENCODER, {"value": parsed})


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    """A float column's value; None for what is not a finite number (SQL has no NaN)."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _str_list(value: Any) -> list[str]:
    """A sequence attribute (or JSON / comma text of one) as a list of strings."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return [str(v) for v in json.loads(text) if v not in (None, "")]
            except ValueError:
                pass
        return [part.strip() for part in text.split(",") if part.strip()]
    return [str(v) for v in value if v not in (None, "")]


def _hex_ids(span_context: Any) -> tuple[str | None, str | None]:
    if span_context is None:
        return None, None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


def _label(span: SpanLike, prefix: str) -> str | None:
    name = span.name or ""
    return name[len(prefix) :] if name.startswith(prefix) else None


_RESOURCE_FACTS: dict[int, tuple[Any, dict[str, Any]]] = {}


def _resource_attr(span: SpanLike, key: str) -> Any:
    resource = getattr(span, "resource", None)
    if resource is None:
        return None
    # A provider has one resource for all its spans: read its attributes once.
    known = _RESOURCE_FACTS.get(id(resource))
    if known is None or known[0] is not resource:
        if len(_RESOURCE_FACTS) > 64:
            _RESOURCE_FACTS.clear()
        known = _RESOURCE_FACTS[id(resource)] = (resource, dict(resource.attributes))
    return known[1].get(key)


class _Ctx:
    """The context every row of one span needs, read once from its attributes."""

    __slots__ = (
        "attrs",
        "execution_id",
        "instance_id",
        "task_id",
        "wave",
        "task_list_id",
        "skill_trace_id",
        "kind",
        "trace_id",
        "span_id",
        "file_operation",
    )

    def __init__(self, attrs: Mapping[str, Any], span_context: Any) -> None:
        self.attrs = attrs
        get = attrs.get
        self.execution_id: str | None = get(c.EXECUTION_ID) or None
        self.instance_id: str | None = get(c.INSTANCE_ID) or None
        self.task_id: str | None = get(c.TASK_ID) or None
        wave = get(c.WAVE_NUMBER)
        self.wave: int | None = wave if type(wave) is int else _int(wave)
        self.task_list_id: str | None = get(c.TASK_LIST_ID) or None
        self.kind: str | None = get(c.KIND)
        #: A tool's file operation, once its row has read or derived it.
        self.file_operation: str | None = None
        skill = get(c.SKILL_ID) if self.kind == c.KIND_SKILL else None
        self.skill_trace_id: str | None = skill or get(c.SKILL_TRACE_ID) or None
        self.trace_id, self.span_id = _hex_ids(span_context)


def _context_of(span_or_context: Any) -> _Ctx:
    if isinstance(span_or_context, Mapping):
        return _Ctx(span_or_context, None)
    return _Ctx(attributes_copy(span_or_context), getattr(span_or_context, "context", None))


def _ensure(rows: Rows, ctx: _Ctx, ts: str, span: SpanLike | None = None) -> None:
    """Every row implies its execution (and wave) exists: create them if absent.

    ``span`` names the service (its resource's ``service.name``), read only
    when a row is added: nearly every call finds both already in the batch.
    """
    runs = rows.tables.get("task_list_execution_runs")
    known = None if runs is None else runs.get(ctx.execution_id)
    if ctx.wave is not None:
        wave = rows.tables.get("parallel_execution_waves", {}).get((ctx.execution_id, ctx.wave))
        if wave is None or wave[1]["started_at"] > ts:
            known = None
    if (
        known is not None
        and known[1]["started_at"] <= ts
        and (ctx.task_list_id is None or known[1].get("task_list_id") is not None)
    ):
        return  # already ensured in this batch: nothing this row could add
    rows.add(
        "task_list_execution_runs",
        {
            "id": ctx.execution_id,
            "task_list_id": ctx.task_list_id,
            "started_at": ts,
            "trace_id": ctx.trace_id,
            "service_name": None if span is None else _resource_attr(span, "service.name"),
        },
    )
    if ctx.wave is not None:
        rows.add(
            "parallel_execution_waves",
            {"execution_id": ctx.execution_id, "wave_number": ctx.wave, "started_at": ts},
        )


def _entry(
    rows: Rows,
    ctx: _Ctx,
    attrs: Mapping[str, Any],
    keys: tuple[str, ...],
    entry_type: str,
    ts: str,
    *,
    task_id: str | None,
    duration_ms: float | None = None,
    tool_use_id: str | None = None,
    entry_id: Any = None,
    summary: Any = None,
) -> Row:
    """One transcript entry (and its message-bus row when it is a message).

    ``entry_id`` and ``summary``, when given, stand in for the span's own
    (a tool span's derived ones), so its attributes need not be copied.
    """
    get = attrs.get
    row = _entry_row(
        ctx,
        get,
        keys,
        entry_type,
        ts,
        task_id,
        duration_ms,
        tool_use_id,
        get(keys[0]) if entry_id is None else entry_id,
        get(keys[3]) if summary is None else summary,
    )
    rows.add("transcript_entries", row)
    if entry_type in BUS_ENTRY_TYPES:
        _bus_row(rows, ctx, get, row)
    return row


def _entry_row(
    ctx: _Ctx,
    get: Any,
    keys: tuple[str, ...],
    entry_type: str,
    ts: str,
    task_id: str | None,
    duration_ms: float | None,
    tool_use_id: str | None,
    entry_id: Any,
    summary: Any,
) -> Row:
    """A transcript entry's row: the one place its columns are derived (every path calls it)."""
    return {
        "id": str(entry_id),
        "execution_id": ctx.execution_id,
        "timestamp": ts,
        "instance_id": ctx.instance_id,
        "wave_number": ctx.wave,
        "task_id": task_id,
        "entry_type": entry_type,
        "category": get(keys[2]) or c.DEFAULT_CATEGORY.get(entry_type, "action"),
        "summary": summary or "",
        "details": json_object_text(get(keys[4])) or "{}",
        "skill_ref": json_object_text(get(keys[5])),
        "skill_trace_id": ctx.skill_trace_id,
        "tool_use_id": tool_use_id,
        "duration_ms": duration_ms,
        "token_estimate": _int(get(keys[6])),
        "trace_id": ctx.trace_id,
        "span_id": ctx.span_id,
    }


def _bus_row(rows: Rows, ctx: _Ctx, get: Any, entry: Row) -> None:
    """The message-bus row of an entry that is also a message (its payload is the details)."""
    task_id = entry["task_id"]
    rows.add(
        "message_bus_log",
        {
            "id": entry["id"],
            "execution_id": ctx.execution_id,
            "event_type": entry["entry_type"],
            "source": ctx.instance_id,
            "task_id": task_id,
            "correlation_id": get(c.CORRELATION_ID) or task_id or ctx.execution_id,
            "payload": entry["details"],
            "timestamp": entry["timestamp"],
        },
    )


# --------------------------------------------------------------------------
# entity rows, one function per kind: the whole row for an end, the
# start-time part for a start
# --------------------------------------------------------------------------


def _tool_row(span: SpanLike, ctx: _Ctx, start: str, end: str | None) -> Row:
    get = ctx.attrs.get
    tool = get(c.GEN_AI_TOOL_NAME) or _label(span, "execute_tool ") or "unknown"
    tool_id = str(get(c.GEN_AI_TOOL_CALL_ID) or get(c.ENTRY_ID) or ctx.span_id)
    row: Row = {
        "id": tool_id,
        "execution_id": ctx.execution_id,
        "transcript_entry_id": get(c.ENTRY_ID) or tool_entry_id(ctx.execution_id, tool_id),
        "instance_id": ctx.instance_id,
        "wave_number": ctx.wave,
        "task_id": ctx.task_id,
        "tool": tool,
        "tool_category": get(c.TOOL_CATEGORY) or c.tool_category(tool),
        "input": get(c.TOOL_INPUT),
        "input_summary": get(c.TOOL_INPUT_SUMMARY),
        "file_path": get(c.FILE_PATH),
        "within_skill": get(c.TOOL_WITHIN_SKILL) or ctx.skill_trace_id,
        "start_time": start,
        "trace_id": ctx.trace_id,
        "span_id": ctx.span_id,
    }
    # What our producers leave to the store is read back out of the input.
    row["input_summary"], row["file_path"], ctx.file_operation = tool_span_facts(
        tool,
        row["tool_category"],
        row["input_summary"],
        row["file_path"],
        get(c.FILE_OPERATION),
        row["input"],
    )
    if end is not None:
        status = get(c.TOOL_RESULT_STATUS)
        is_error = bool(get(c.TOOL_IS_ERROR))
        error_message = get(c.TOOL_ERROR_MESSAGE)
        if not status:
            if get(c.CLOSED_BY):
                status, is_error = "error", True
                error_message = error_message or f"ended by {get(c.CLOSED_BY)} without a result"
            else:
                status = "error" if is_error else "done"
        output = get(c.TOOL_OUTPUT)
        summary = get(c.TOOL_OUTPUT_SUMMARY)
        if summary is None and output is not None:
            summary = shorten(output, OUTPUT_SUMMARY_MAX)
        # Item by item: a keyword update builds a dict of its own first (the
        # writer maps every tool use through here).
        row["result_status"] = status
        row["is_error"] = int(is_error or status == "error")
        row["is_blocked"] = int(status == "blocked")
        row["block_reason"] = get(c.TOOL_BLOCK_REASON)
        row["error_message"] = error_message
        row["output"] = output
        row["output_summary"] = summary
        row["end_time"] = end
        row["duration_ms"] = _ms(span.start_time, span.end_time)
    return row


def _skill_row(span: SpanLike, ctx: _Ctx, start: str, end: str | None) -> Row:
    get = ctx.attrs.get
    row: Row = {
        "id": str(get(c.SKILL_ID) or ctx.span_id),
        "execution_id": ctx.execution_id,
        "instance_id": ctx.instance_id,
        "task_id": ctx.task_id,
        "skill_name": get(c.SKILL_NAME) or _label(span, "skill ") or "unknown",
        "skill_file": get(c.SKILL_FILE),
        "line_number": _int(get(c.SKILL_LINE)),
        "section_title": get(c.SKILL_SECTION),
        "parent_trace_id": get(c.SKILL_PARENT_ID),
        "start_time": start,
        "trace_id": ctx.trace_id,
        "span_id": ctx.span_id,
    }
    if end is not None:
        status = get(c.SKILL_STATUS) or ("failed" if get(c.SKILL_ERROR) else "success")
        row.update(
            status=status,
            error=get(c.SKILL_ERROR),
            end_time=end,
            duration_ms=_ms(span.start_time, span.end_time),
        )
    return row


def _chain_row(span: SpanLike, ctx: _Ctx, start: str, end: str | None) -> Row:
    get = ctx.attrs.get
    row: Row = {
        "id": str(get(c.CHAIN_ID) or ctx.span_id),
        "execution_id": ctx.execution_id,
        "task_id": ctx.task_id,
        "instance_id": ctx.instance_id,
        "description": get(c.CHAIN_DESCRIPTION) or _label(span, "assertion_chain ") or "",
        "start_time": start,
        "trace_id": ctx.trace_id,
        "span_id": ctx.span_id,
    }
    if end is not None:
        row.update(_chain_verdict(span, get))
        row.update(end_time=end, duration_ms=_ms(span.start_time, span.end_time))
    return row


def _chain_verdict(span: SpanLike, get: Any) -> Row:
    """The chain's counts and result: the producer's, else counted from its assertion events."""
    tally = {"pass": 0, "fail": 0, "skip": 0}
    first_failure = get(c.CHAIN_FIRST_FAILURE_ID)
    for event in span.events or ():
        if event.name != c.EVENT_PREFIX + "assertion":
            continue
        attributes = event.attributes or {}
        result = attributes.get(c.ASSERTION_RESULT)
        if result in tally:
            tally[result] += 1
        if result == "fail" and first_failure is None:
            first_failure = attributes.get(c.ASSERTION_ID)
    passed = _int(get(c.CHAIN_PASS_COUNT))
    failed = _int(get(c.CHAIN_FAIL_COUNT))
    skipped = _int(get(c.CHAIN_SKIP_COUNT))
    passed = tally["pass"] if passed is None else passed
    failed = tally["fail"] if failed is None else failed
    skipped = tally["skip"] if skipped is None else skipped
    verdict = get(c.CHAIN_OVERALL_RESULT) or ("fail" if failed else "pass" if passed else "skip")
    return {
        "overall_result": verdict,
        "pass_count": passed,
        "fail_count": failed,
        "skip_count": skipped,
        "first_failure_id": first_failure,
    }


def _task_row(span: SpanLike, ctx: _Ctx, start: str, end: str | None) -> Row:
    get = ctx.attrs.get
    row: Row = {
        "id": ctx.task_id,
        "execution_id": ctx.execution_id,
        "title": get(c.TASK_TITLE),
        "action": get(c.TASK_ACTION),
        "file": get(c.TASK_FILE),
        "status": "in_progress",
        "instance_id": ctx.instance_id,
        "wave_number": ctx.wave,
        "started_at": start,
        "trace_id": ctx.trace_id,
        "span_id": ctx.span_id,
    }
    if end is not None:
        row.update(
            status=get(c.TASK_STATUS) or ("failed" if get(c.TASK_ERROR) else "completed"),
            completed_at=end,
            duration_ms=_ms(span.start_time, span.end_time),
            error=get(c.TASK_ERROR),
        )
    return row


def _agent_row(span: SpanLike, ctx: _Ctx, start: str, end: str | None) -> Row:
    get = ctx.attrs.get
    row: Row = {
        "id": ctx.instance_id,
        "execution_id": ctx.execution_id,
        "wave_number": ctx.wave,
        "pid": _int(get(c.AGENT_PID) or _resource_attr(span, "process.pid")),
        "hostname": get(c.AGENT_HOSTNAME) or _resource_attr(span, "host.name"),
        "status": "executing",
        "spawned_at": start,
        "last_heartbeat_at": start,
        "trace_id": ctx.trace_id,
        "span_id": ctx.span_id,
    }
    if end is not None:
        row.update(
            status=get(c.AGENT_STATUS) or ("failed" if get(c.AGENT_ERROR) else "completed"),
            last_heartbeat_at=end,
            terminated_at=end,
            error=get(c.AGENT_ERROR),
        )
    return row


def _wave_row(span: SpanLike, ctx: _Ctx, start: str, end: str | None) -> Row:
    row: Row = {
        "execution_id": ctx.execution_id,
        "wave_number": ctx.wave,
        "status": "running",
        "started_at": start,
        "trace_id": ctx.trace_id,
        "span_id": ctx.span_id,
    }
    if end is not None:
        row.update(status="completed", completed_at=end)
    return row


def _execution_row(span: SpanLike, ctx: _Ctx, start: str, end: str | None) -> Row:
    get = ctx.attrs.get
    row: Row = {
        "id": ctx.execution_id,
        "task_list_id": ctx.task_list_id,
        "status": "running",
        "started_at": start,
        "trace_id": ctx.trace_id,
        "service_name": _resource_attr(span, "service.name"),
    }
    if end is not None:
        row.update(status=get(c.EXECUTION_STATUS) or "completed", completed_at=end)
    return row


_ENTITY_BY_KIND = {
    c.KIND_TOOL: ("tool_uses", _tool_row),
    c.KIND_SKILL: ("skill_traces", _skill_row),
    c.KIND_CHAIN: ("assertion_chains", _chain_row),
    c.KIND_TASK: ("tasks", _task_row),
    c.KIND_AGENT: ("build_agent_instances", _agent_row),
    c.KIND_WAVE: ("parallel_execution_waves", _wave_row),
    c.KIND_EXECUTION: ("task_list_execution_runs", _execution_row),
}


def _entity(rows: Rows, span: SpanLike, ctx: _Ctx, start: str, end: str | None) -> Row | None:
    """The span's own entity row (start part, or the whole row once it ended)."""
    spec = _ENTITY_BY_KIND.get(ctx.kind)  # type: ignore[arg-type]
    if spec is None:
        return None
    table, build = spec
    row = build(span, ctx, start, end)
    key = KEY_OF[table](row)
    if key is None or (type(key) is tuple and None in key):
        return None  # e.g. a task span without a task id: nothing to key it by
    rows.add(table, row, START if end is None else END)
    if ctx.kind == c.KIND_SKILL:
        rows.touched_skills.add(row["id"])
    elif ctx.kind == c.KIND_TOOL and row["within_skill"]:
        rows.touched_skills.add(row["within_skill"])
    elif ctx.wave is not None and ctx.kind in (c.KIND_TASK, c.KIND_AGENT, c.KIND_WAVE):
        rows.touched_waves.add((ctx.execution_id, ctx.wave))  # type: ignore[arg-type]
    return row


# --------------------------------------------------------------------------
# the public mapping
# --------------------------------------------------------------------------


def tool_entry_id(execution_id: str, tool_use_id: str) -> str:
    """The ``tool_use`` entry id of a tool span that carries none: derived from the tool use.

    Tool spans leave ``obs.entry.id`` out (it costs the agent an attribute per
    call); a fixed function of the execution and the tool use id keeps
    re-delivery idempotent, and the same call id in two executions (replays,
    frameworks numbering calls ``call_0``, ``call_1``…) two entries.
    """
    key = f"tool_use:{execution_id}:{tool_use_id}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(key, digest_size=16).hexdigest()


def _start_entry(rows: Rows, ctx: _Ctx, attrs: Mapping[str, Any], entity: Row | None, start: str):
    """The span's opening transcript entry, if it has one (tool spans always do)."""
    entry_id = summary = None
    if ctx.kind == c.KIND_TOOL:
        if entity is None:
            return
        entry_id, summary = _tool_entry_fields(attrs, entity)
        entry_type = attrs.get(c.ENTRY_TYPE) or "tool_use"
        tool_use_id = entity["id"]
    elif attrs.get(c.ENTRY_ID):
        entry_type = attrs.get(c.ENTRY_TYPE) or _START_ENTRY_BY_KIND.get(ctx.kind, "")
        tool_use_id = None
    else:
        return
    if entry_type in _ENTRY_TYPE_SET:
        _entry(
            rows,
            ctx,
            attrs,
            _START_ENTRY_KEYS,
            entry_type,
            start,
            task_id=ctx.task_id,
            duration_ms=_float(attrs.get(c.ENTRY_DURATION_MS)),
            tool_use_id=tool_use_id,
            entry_id=entry_id,
            summary=summary,
        )


def _tool_entry_fields(attrs: Mapping[str, Any], tool: Row) -> tuple[Any, Any]:
    """The id and summary a tool span's ``tool_use`` entry takes in place of its own (None, None:
    it carries its own). The entry fields a tool span leaves out follow from the rest of it."""
    if attrs.get(c.ENTRY_ID):
        return None, None
    summary = attrs.get(c.ENTRY_SUMMARY)
    if summary is None:
        shown = tool["input_summary"] or ""
        summary = shorten(f"{tool['tool']}: {shown}", TOOL_SUMMARY_MAX)
    return tool["transcript_entry_id"], summary


def map_tool_start_end(span: SpanLike, rows: Rows | None = None) -> Rows:
    """:func:`map_span_start_end` of a finished tool span, with less work: the same rows.

    Nearly every item a writer maps is a tool span whose start and end came in
    one batch. Its rows are known in advance (the execution/wave ensures, the
    ``tool_uses`` row at its end phase, the ``tool_use`` entry, the file
    impact, one heartbeat), so this goes to them directly: no dispatch by kind,
    no key extraction for rows that are new to the batch, one heartbeat where
    the generic path records two (the start's is always overtaken by the
    end's, or the later of the two wins alike). Every column is still derived
    by the helpers the generic path uses. Any other span (or a tool span with
    an end entry of its own) goes the generic way.
    """
    rows = Rows() if rows is None else rows
    attrs = attributes_copy(span)
    ctx = _Ctx(attrs, span.context)
    start_ns, end_ns = span.start_time, span.end_time
    if (
        ctx.kind != c.KIND_TOOL
        or start_ns is None
        or end_ns is None
        or not ctx.execution_id
        or attrs.get(c.END_ENTRY_ID)
    ):
        return _lifecycle(span, rows, attrs, ctx, start=True, end=end_ns is not None)
    started = iso_from_ns(start_ns)
    ended = iso_from_ns(end_ns)
    _ensure(rows, ctx, started, span)
    tool = _tool_row(span, ctx, started, ended)
    tool_id = tool["id"]
    rows.add_keyed("tool_uses", (ctx.execution_id, tool_id), tool, END)
    within = tool["within_skill"]
    if within:
        rows.touched_skills.add(within)
    get = attrs.get
    entry_type = get(c.ENTRY_TYPE) or "tool_use"
    if entry_type in _ENTRY_TYPE_SET:
        entry_id, summary = _tool_entry_fields(attrs, tool)
        entry = _entry_row(
            ctx,
            get,
            _START_ENTRY_KEYS,
            entry_type,
            started,
            ctx.task_id,
            _float(get(c.ENTRY_DURATION_MS)),
            tool_id,
            get(c.ENTRY_ID) if entry_id is None else entry_id,
            get(c.ENTRY_SUMMARY) if summary is None else summary,
        )
        rows.add_keyed("transcript_entries", entry["id"], entry)
        if entry_type in BUS_ENTRY_TYPES:
            _bus_row(rows, ctx, get, entry)
    _tool_file_impact(rows, ctx, tool, started)
    rows.heartbeat(ctx.execution_id, ctx.instance_id, max(started, ended), ctx.task_id)
    return rows


def map_span_start(span: SpanLike, rows: Rows | None = None) -> Rows:
    """Rows a span implies as soon as it starts (so a crash still leaves them)."""
    return _map_lifecycle(span, Rows() if rows is None else rows, start=True, end=False)


def map_span_end(span: SpanLike, rows: Rows | None = None) -> Rows:
    """Rows a span completes when it ends: its whole entity row and its end entry.

    The span's events are not included (see :func:`map_span`); the live path
    stores them as they happen.
    """
    return _map_lifecycle(span, Rows() if rows is None else rows, start=False, end=True)


def map_span_start_end(span: SpanLike, rows: Rows | None = None) -> Rows:
    """``map_span_start`` then ``map_span_end`` of one finished span, in one pass.

    The same rows as the two calls (the entity row is written whole, at its end
    phase, which is what the start row merged with the end row is), for about
    half the work: the writer uses it when a span's start and end are in one
    batch. Events are left out, as in :func:`map_span_end`.
    """
    rows = Rows() if rows is None else rows
    return _map_lifecycle(span, rows, start=True, end=span.end_time is not None)


def _map_lifecycle(span: SpanLike, rows: Rows, *, start: bool, end: bool) -> Rows:
    """The start rows, the end rows, or both, of one span: the one body of the three above."""
    attrs = attributes_copy(span)
    return _lifecycle(span, rows, attrs, _Ctx(attrs, span.context), start=start, end=end)


def _lifecycle(
    span: SpanLike, rows: Rows, attrs: Mapping[str, Any], ctx: _Ctx, *, start: bool, end: bool
) -> Rows:
    """:func:`_map_lifecycle` given the span's attributes and context, already read."""
    if ctx.kind is None:
        # Not one of ours: an agent or tool span of another instrumentation, or
        # nothing (a span that only carries our baggage makes no execution).
        if end:
            foreign = foreign_attributes(span, attrs)
            if foreign is not None:
                return _lifecycle(
                    span, rows, foreign, _Ctx(foreign, span.context), start=True, end=True
                )
            if span.name == c.CLAUDE_CODE_TOOL_EXECUTION_SPAN:
                return map_failed_step(span, attrs, rows)
        return rows
    if not ctx.execution_id or span.start_time is None or (end and span.end_time is None):
        return rows
    started = iso_from_ns(span.start_time)
    ended = iso_from_ns(span.end_time) if end and span.end_time is not None else None
    _ensure(rows, ctx, started, span)
    entity = _entity(rows, span, ctx, started, ended)
    if start:
        _start_entry(rows, ctx, attrs, entity, started)
        if ctx.kind == c.KIND_TOOL and entity is not None:
            _tool_file_impact(rows, ctx, entity, started)
        elif ctx.kind == c.KIND_TASK and ctx.task_id:
            _task_facts(rows, ctx, started)
        rows.heartbeat(ctx.execution_id, ctx.instance_id, started, ctx.task_id)
    if ended is not None:
        _end_entry(rows, ctx, attrs, span, ended)
        ended_task = ctx.kind == c.KIND_TASK
        rows.heartbeat(
            ctx.execution_id, ctx.instance_id, ended, None if ended_task else ctx.task_id
        )
    return rows


# --------------------------------------------------------------------------
# spans from other instrumentations
# --------------------------------------------------------------------------


def foreign_kind(name: str | None, attrs: Mapping[str, Any]) -> str | None:
    """``tool`` or ``agent`` for a span of another instrumentation that is one, else None.

    The GenAI conventions say it with ``gen_ai.operation.name``, OpenInference
    with ``openinference.span.kind``; Claude Code's tool spans are also known
    by their name.
    """
    operation = attrs.get(c.GEN_AI_OPERATION_NAME)
    oi_kind = attrs.get(c.OI_SPAN_KIND)
    if operation == c.OP_EXECUTE_TOOL or oi_kind == c.OI_TOOL or name == c.CLAUDE_CODE_TOOL_SPAN:
        return c.KIND_TOOL
    if operation == c.OP_INVOKE_AGENT or oi_kind == c.OI_AGENT:
        return c.KIND_AGENT
    return None


def _first(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def _agent_identity(attrs: Mapping[str, Any]) -> tuple[Any, Any]:
    """(conversation id, agent id or name) a span of another instrumentation states."""
    return _first(attrs, c.FOREIGN_CONVERSATION_KEYS), _first(attrs, c.FOREIGN_AGENT_KEYS)


def _foreign_identity(span: SpanLike, attrs: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """(execution, conversation id, agent id or name) of a finished span of another
    instrumentation: the execution is ours if it has one, else its conversation,
    else its trace."""
    conversation, own_agent = _agent_identity(attrs)
    execution = attrs.get(c.EXECUTION_ID) or conversation or _hex_ids(span.context)[0]
    return execution, conversation, own_agent


def foreign_inheritance(
    name: str | None, attrs: Mapping[str, Any], parent_context: Any, span_context: Any
) -> tuple[dict[str, Any], Mapping[str, Any]]:
    """What a span takes from its parent when the parent is an agent or tool span that
    is not ours: (attributes to set on the parent, the attributes to inherit from).

    Mapping maps each span alone, so "the nearest agent ancestor" has to travel
    down the tree as spans start. It is decided when the parent's first child
    starts: by then every processor has done what it does at the parent's start,
    whatever order they were added in. The parent's execution, unless it has
    ours (baggage, an enclosing span of ours): the conversation or session id
    it states, or the conversation the GenAI utilities carry on the context
    (they put it on the agent span only when it ends); else the trace id. It is
    set on the parent too, so that the parent maps to the execution its
    descendants do (OpenInference learns ``session.id`` from the result
    message, after the tools ran: such a session is keyed by its trace). An
    agent parent is its descendants' instance: its agent id or name, else its
    execution.
    """
    kind = foreign_kind(name, attrs)
    if kind is None:
        return {}, attrs
    decided: dict[str, Any] = {}
    execution = attrs.get(c.EXECUTION_ID)
    if not execution:
        conversation = _first(attrs, c.FOREIGN_CONVERSATION_KEYS)
        if conversation is None and parent_context is not None and _ambient_conversation:
            conversation = _ambient_conversation(parent_context)
        execution = conversation or _hex_ids(span_context)[0]
        if execution:
            decided[c.EXECUTION_ID] = clean_text(str(execution))
    inherited = {**attrs, **decided}
    if kind == c.KIND_AGENT:
        instance = _first(attrs, c.FOREIGN_AGENT_KEYS) or execution
        if instance:
            inherited[c.INSTANCE_ID] = clean_text(str(instance))
    return decided, inherited


def subagent_instance(parent_name: str | None, parent_attrs: Mapping[str, Any]) -> str | None:
    """The instance of an agent span of another instrumentation that starts under a tool
    span of one (:data:`otel_obs.conventions.SUBAGENT_INSTANCE_ID`).

    ``parent_attrs`` are what the tool span passes on (:func:`foreign_inheritance`).
    None when the parent is not such a tool span or names no call.
    """
    if foreign_kind(parent_name, parent_attrs) != c.KIND_TOOL:
        return None
    call = _first(parent_attrs, c.FOREIGN_TOOL_ID_KEYS)
    caller = parent_attrs.get(c.INSTANCE_ID) or parent_attrs.get(c.EXECUTION_ID)
    if call is None or not caller:
        return None
    return clean_text(f"{caller}/{call}")


try:  # the GenAI utilities keep the conversation id of an agent run on the context
    from opentelemetry.util.genai._conversation_context import (
        get_ambient_conversation_id as _ambient_conversation,
    )
except ImportError:  # pragma: no cover - the utilities are optional
    _ambient_conversation = None


def _status_error(span: SpanLike, attrs: Mapping[str, Any]) -> tuple[bool, str | None]:
    """(failed, description) from the span's status, or from its status attributes."""
    if attrs.get(c.OTEL_STATUS_CODE) == "ERROR":
        return True, attrs.get(c.OTEL_STATUS_DESCRIPTION) or None
    status = getattr(span, "status", None)
    if status is not None and status.status_code is StatusCode.ERROR:
        return True, status.description or None
    return False, None


def status_attributes(span: SpanLike) -> dict[str, Any]:
    """A span's error status as attributes, for a path that carries attributes only."""
    failed, description = _status_error(span, {})
    if not failed:
        return {}
    return {c.OTEL_STATUS_CODE: "ERROR", c.OTEL_STATUS_DESCRIPTION: description or ""}


def _exception_message(span: SpanLike) -> str | None:
    for event in span.events or ():
        if event.name == c.EXCEPTION_EVENT:
            message = (event.attributes or {}).get(c.EXCEPTION_MESSAGE)
            if message:
                return str(message)
    return None


def _as_text(value: Any) -> str:
    """An attribute value as text: strings as they are, anything else (a sequence) as JSON."""
    if isinstance(value, str):
        return value
    return dumps(list(value) if isinstance(value, tuple) else value)


def _foreign_input(value: Any) -> str | None:
    """A foreign tool input as our JSON text: JSON as it is, other text as a JSON string."""
    if value is None:
        return None
    text = _as_text(value)
    try:
        json.loads(text)
    except ValueError:
        text = dumps(text)
    return redact_text(cap_text(text, INPUT_CAP))


def _foreign_output(value: Any) -> str | None:
    """A foreign tool output as text: a JSON string unwrapped, anything else as it came."""
    if value is None:
        return None
    text = _as_text(value)
    if text.startswith('"'):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, str):
            text = parsed
    return redact_text(cap_text(text, OUTPUT_CAP))


def foreign_attributes(span: SpanLike, attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    """A finished agent or tool span of another instrumentation, restated in our attributes.

    None for any other span: it stores nothing. The restated span goes through
    the same mapping as our own. Foreign spans are mapped once, when they end:
    the instrumentations set ids and outcomes late (the GenAI utilities set
    ``gen_ai.tool.call.id`` and ``gen_ai.conversation.id`` only when the span
    ends, OpenInference ``session.id`` from the session's result message).

    Execution: ours (baggage, an enclosing span of ours, or as decided when a
    child started: :func:`foreign_inheritance`); a span that arrives with none
    (a leaf span, an exporter, OTLP) is read alone: its conversation or session
    id, else its trace id. Instance: an agent span is its own (its agent id or
    name, else its execution); a tool is its nearest agent ancestor's (our
    context key), else the agent or conversation it names.
    """
    kind = foreign_kind(span.name, attrs)
    if kind is None or span.start_time is None or span.end_time is None:
        return None
    # Texts as the producers make theirs (NUL and lone surrogates as U+FFFD): SQLite
    # would cut an id at NUL, merging ids the JSONL keeps apart.
    attrs = clean_attributes(dict(attrs))
    get = attrs.get
    execution, conversation, own_agent = _foreign_identity(span, attrs)
    if not execution:
        return None
    out = attrs
    out[c.KIND] = kind
    out[c.EXECUTION_ID] = str(execution)
    failed, description = _status_error(span, attrs)
    error_type = get(c.ERROR_TYPE)
    if kind == c.KIND_AGENT:
        out[c.INSTANCE_ID] = str(own_agent or execution)
        if failed or error_type:
            out[c.AGENT_STATUS] = "failed"
            out[c.AGENT_ERROR] = clean_text(
                description or _exception_message(span) or str(error_type)
            )
        return out
    _tool_instance(out, attrs, own_agent or conversation)
    name = _first(attrs, c.FOREIGN_TOOL_NAME_KEYS) or span.name or "unknown"
    out[c.GEN_AI_TOOL_NAME] = clean_text(str(name))
    tool_id = _first(attrs, c.FOREIGN_TOOL_ID_KEYS)
    out[c.GEN_AI_TOOL_CALL_ID] = str(tool_id) if tool_id is not None else None
    out[c.TOOL_INPUT] = _foreign_input(_first(attrs, c.FOREIGN_INPUT_KEYS))
    output = _foreign_output(_first(attrs, c.FOREIGN_OUTPUT_KEYS))
    out[c.TOOL_OUTPUT] = output
    if failed or error_type:
        message = description or _exception_message(span) or output or str(error_type)
        out[c.TOOL_RESULT_STATUS] = "error"
        out[c.TOOL_ERROR_MESSAGE] = redact_text(str(message))[:ERROR_MESSAGE_CAP]
    else:
        out[c.TOOL_RESULT_STATUS] = "done"
    return out


def _tool_instance(out: dict[str, Any], attrs: Mapping[str, Any], named: Any) -> None:
    """A foreign tool's instance: its nearest agent ancestor's (our context key), else the
    agent or conversation it names."""
    instance = attrs.get(c.INSTANCE_ID) or named
    if instance:
        out[c.INSTANCE_ID] = str(instance)


def map_failed_step(span: SpanLike, attrs: Mapping[str, Any], rows: Rows) -> Rows:
    """A finished ``claude_code.tool.execution`` span that failed: its tool use failed.

    Claude Code says that a tool failed only on this child of its
    ``claude_code.tool`` span (``success`` false, ``error.type``, the message
    under ``error`` and in an ERROR status); the tool span ends with nothing of
    it, and mostly after the child is exported. The child names its tool use
    (``tool_use_id``) and its conversation, so it maps alone, like the tool span:
    to that tool use's row, at the start phase (it fills only what is still
    empty: until the tool span arrives, an ``unknown`` tool with the step's
    times, and no transcript entry, which is the tool span's), with a failure
    that the tool span's ``done`` does not undo (:data:`FAILURE_KEPT`). A step
    that succeeded, or names no tool use, maps to nothing.
    """
    if span.start_time is None or span.end_time is None:
        return rows
    get = attrs.get
    failed, description = _status_error(span, attrs)
    if not (failed or get(c.ERROR_TYPE) or get(c.CLAUDE_CODE_SUCCESS) is False):
        return rows
    attrs = clean_attributes(dict(attrs))  # as in foreign_attributes
    get = attrs.get
    tool_id = _first(attrs, c.FOREIGN_TOOL_ID_KEYS)
    execution, conversation, own_agent = _foreign_identity(span, attrs)
    if tool_id is None or not execution:
        return rows
    message = (
        description
        or get(c.CLAUDE_CODE_ERROR)
        or _exception_message(span)
        or get(c.ERROR_TYPE)
        or "failed"
    )
    out = {
        **attrs,
        c.KIND: c.KIND_TOOL,
        c.EXECUTION_ID: str(execution),
        c.GEN_AI_TOOL_CALL_ID: str(tool_id),
        c.TOOL_RESULT_STATUS: "error",
        c.TOOL_ERROR_MESSAGE: redact_text(str(message))[:ERROR_MESSAGE_CAP],
    }
    _tool_instance(out, attrs, own_agent or conversation)
    ctx = _Ctx(out, span.context)
    started = iso_from_ns(span.start_time)
    _ensure(rows, ctx, started, span)
    row = _tool_row(span, ctx, started, iso_from_ns(span.end_time))
    row["transcript_entry_id"] = None
    rows.add("tool_uses", row, START)
    return rows


def _end_entry(rows: Rows, ctx: _Ctx, attrs: Mapping[str, Any], span: SpanLike, end: str) -> None:
    if attrs.get(c.END_ENTRY_ID):
        entry_type = attrs.get(c.END_ENTRY_TYPE) or _END_ENTRY_BY_KIND.get(ctx.kind, "")
        if entry_type in _ENTRY_TYPE_SET:
            _entry(
                rows,
                ctx,
                attrs,
                _END_ENTRY_KEYS,
                entry_type,
                end,
                task_id=ctx.task_id,
                duration_ms=_ms(span.start_time, span.end_time),
            )


def map_event(
    span_or_context: SpanLike | Mapping[str, Any],
    name: str,
    attributes: Mapping[str, Any] | None,
    timestamp_ns: int,
    rows: Rows | None = None,
) -> Rows:
    """Rows of one span event: a transcript entry when it is ``obs.<entry_type>``.

    ``span_or_context`` is the span the event belongs to (its context
    attributes say which execution, agent, task and wave) or a mapping of
    those context attributes. An ``obs.assertion`` event also becomes an
    ``assertion_results`` row; other events (``exception`` …) map to nothing.
    """
    rows = Rows() if rows is None else rows
    if not name.startswith(c.EVENT_PREFIX):
        return rows
    attrs = attributes or {}
    entry_type = attrs.get(c.ENTRY_TYPE) or name[len(c.EVENT_PREFIX) :]
    if entry_type not in _ENTRY_TYPE_SET:
        return rows
    ctx = _context_of(span_or_context)
    if not ctx.execution_id:
        return rows
    ts = iso_from_ns(timestamp_ns)
    task_id = attrs.get(c.TASK_ID) or ctx.task_id
    if not attrs.get(c.ENTRY_ID):
        attrs = {**attrs, c.ENTRY_ID: f"ev-{ctx.span_id or 'none'}-{timestamp_ns}-{entry_type}"}
    _ensure(rows, ctx, ts)
    entry = _entry(
        rows,
        ctx,
        attrs,
        _START_ENTRY_KEYS,
        entry_type,
        ts,
        task_id=task_id,
        duration_ms=_float(attrs.get(c.ENTRY_DURATION_MS)),
    )
    if entry_type == "assertion" and attrs.get(c.ASSERTION_RESULT):
        rows.add(
            "assertion_results",
            {
                "id": str(attrs.get(c.ASSERTION_ID) or entry["id"]),
                "execution_id": ctx.execution_id,
                "task_id": task_id,
                "chain_id": attrs.get(c.CHAIN_ID),
                "instance_id": ctx.instance_id,
                "category": attrs.get(c.ASSERTION_CATEGORY) or "custom",
                "description": attrs.get(c.ASSERTION_DESCRIPTION) or "",
                "result": attrs.get(c.ASSERTION_RESULT),
                "evidence": json_object_text(attrs.get(c.ASSERTION_EVIDENCE)),
                "tool_use_id": attrs.get(c.ASSERTION_TOOL_USE_ID),
                "transcript_entry_id": entry["id"],
                "timestamp": ts,
                "duration_ms": _float(attrs.get(c.ASSERTION_DURATION_MS)),
            },
        )
    rows.heartbeat(ctx.execution_id, ctx.instance_id, ts, task_id)
    return rows


def map_events(span: SpanLike, rows: Rows | None = None) -> Rows:
    """Rows of every event recorded on ``span``."""
    rows = Rows() if rows is None else rows
    for event in span.events or ():
        map_event(span, event.name, event.attributes, event.timestamp, rows)
    return rows


def map_span_finished(span: SpanLike, rows: Rows | None = None) -> Rows:
    """What the live path maps when a span ends: its events (stored ones are skipped by id)
    and its end rows."""
    rows = Rows() if rows is None else rows
    if span.events:
        map_events(span, rows)
    return map_span_end(span, rows)


def map_span(span: SpanLike, rows: Rows | None = None) -> Rows:
    """Everything a finished span says: start rows, its events, end rows (batch/replay path)."""
    rows = map_span_start(span, rows)
    map_events(span, rows)
    return map_span_end(span, rows)


def _tool_file_impact(rows: Rows, ctx: _Ctx, tool: Row, ts: str) -> None:
    path = tool["file_path"]
    if not path:
        return
    operation = ctx.file_operation
    if operation not in c.FILE_OPERATIONS:
        return
    rows.add(
        "task_file_impacts",
        {
            "id": f"tool:{ctx.execution_id}:{tool['id']}",
            "execution_id": ctx.execution_id,
            "task_id": ctx.task_id,
            "file_path": path,
            "operation": operation,
            "tool_use_id": tool["id"],
            "instance_id": ctx.instance_id,
            "wave_number": ctx.wave,
            "timestamp": ts,
        },
    )


def _task_facts(rows: Rows, ctx: _Ctx, ts: str) -> None:
    """What a task declares when it starts: dependencies, its file, its wave."""
    get = ctx.attrs.get
    for target in _str_list(get(c.TASK_DEPENDS_ON)):
        rows.add(
            "task_relationships",
            {
                "execution_id": ctx.execution_id,
                "source_task_id": ctx.task_id,
                "target_task_id": target,
                "relationship_type": "depends_on",
            },
        )
    path, action = get(c.TASK_FILE), get(c.TASK_ACTION)
    if path and action in c.TASK_ACTIONS:
        rows.add(
            "task_file_impacts",
            {
                "id": f"task:{ctx.execution_id}:{ctx.task_id}",
                "execution_id": ctx.execution_id,
                "task_id": ctx.task_id,
                "file_path": path,
                "operation": action,
                "tool_use_id": None,
                "instance_id": ctx.instance_id,
                "wave_number": ctx.wave,
                "timestamp": ts,
            },
        )
    if ctx.wave is not None:
        rows.add(
            "wave_task_assignments",
            {
                "execution_id": ctx.execution_id,
                "wave_number": ctx.wave,
                "task_id": ctx.task_id,
                "instance_id": ctx.instance_id,
                "assigned_at": ts,
            },
        )
