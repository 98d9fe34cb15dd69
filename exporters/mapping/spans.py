"""Our producers' spans and events into rows, and the one dispatch every span goes through.

A span with ``obs.kind`` is ours and states its context; any other is handed to
:mod:`.foreign`, which restates it in our attributes when a source knows it, and
it then maps here like ours.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from otel_obs import conventions as c
from otel_obs.redaction import shorten
from otel_obs.tool_facts import OUTPUT_SUMMARY_MAX, tool_span_facts

from .._sdk_access import attributes_copy
from . import pricing
from .foreign import restate
from .rows import END, KEY_OF, START, Row, Rows
from .sources import STEP
from .values import (
    SpanLike,
    as_float,
    as_int,
    hex_ids,
    iso_from_ns,
    json_object_text,
    ms_between,
    resource_attr,
    span_label,
    str_list,
)

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

# Keyed by a span's kind, which is None for a span that is not ours.
_START_ENTRY_BY_KIND: dict[str | None, str] = {
    c.KIND_PHASE: "phase_start",
    c.KIND_TASK: "task_start",
    c.KIND_SKILL: "skill_invoke",
    c.KIND_TOOL: "tool_use",
}
_END_ENTRY_BY_KIND: dict[str | None, str] = {
    c.KIND_PHASE: "phase_end",
    c.KIND_TASK: "task_end",
    c.KIND_SKILL: "skill_complete",
}
#: How long a tool_use entry's summary may be ("<tool>: <input summary>", shortened).
TOOL_SUMMARY_MAX = 200
_ENTRY_TYPE_SET = frozenset(c.ENTRY_TYPES)

_START_ENTRY_KEYS = c.START_ENTRY_KEYS
_END_ENTRY_KEYS = c.END_ENTRY_KEYS


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
        self.wave: int | None = wave if type(wave) is int else as_int(wave)
        self.task_list_id: str | None = get(c.TASK_LIST_ID) or None
        self.kind: str | None = get(c.KIND)
        #: A tool's file operation, once its row has read or derived it.
        self.file_operation: str | None = None
        skill = get(c.SKILL_ID) if self.kind == c.KIND_SKILL else None
        self.skill_trace_id: str | None = skill or get(c.SKILL_TRACE_ID) or None
        self.trace_id, self.span_id = hex_ids(span_context)


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
            "service_name": None if span is None else resource_attr(span, "service.name"),
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
        "token_estimate": as_int(get(keys[6])),
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
    # Made only for a span of an execution (its callers return early for the others).
    assert ctx.execution_id is not None
    get = ctx.attrs.get
    tool = get(c.GEN_AI_TOOL_NAME) or span_label(span, "execute_tool ") or "unknown"
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
        row["duration_ms"] = ms_between(span.start_time, span.end_time)
    return row


def _skill_row(span: SpanLike, ctx: _Ctx, start: str, end: str | None) -> Row:
    get = ctx.attrs.get
    row: Row = {
        "id": str(get(c.SKILL_ID) or ctx.span_id),
        "execution_id": ctx.execution_id,
        "instance_id": ctx.instance_id,
        "task_id": ctx.task_id,
        "skill_name": get(c.SKILL_NAME) or span_label(span, "skill ") or "unknown",
        "skill_file": get(c.SKILL_FILE),
        "line_number": as_int(get(c.SKILL_LINE)),
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
            duration_ms=ms_between(span.start_time, span.end_time),
        )
    return row


def _chain_row(span: SpanLike, ctx: _Ctx, start: str, end: str | None) -> Row:
    get = ctx.attrs.get
    row: Row = {
        "id": str(get(c.CHAIN_ID) or ctx.span_id),
        "execution_id": ctx.execution_id,
        "task_id": ctx.task_id,
        "instance_id": ctx.instance_id,
        "description": get(c.CHAIN_DESCRIPTION) or span_label(span, "assertion_chain ") or "",
        "start_time": start,
        "trace_id": ctx.trace_id,
        "span_id": ctx.span_id,
    }
    if end is not None:
        row.update(_chain_verdict(span, get))
        row.update(end_time=end, duration_ms=ms_between(span.start_time, span.end_time))
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
    passed = as_int(get(c.CHAIN_PASS_COUNT))
    failed = as_int(get(c.CHAIN_FAIL_COUNT))
    skipped = as_int(get(c.CHAIN_SKIP_COUNT))
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
            duration_ms=ms_between(span.start_time, span.end_time),
            error=get(c.TASK_ERROR),
        )
    return row


def _agent_row(span: SpanLike, ctx: _Ctx, start: str, end: str | None) -> Row:
    get = ctx.attrs.get
    row: Row = {
        "id": ctx.instance_id,
        "execution_id": ctx.execution_id,
        "wave_number": ctx.wave,
        "pid": as_int(get(c.AGENT_PID) or resource_attr(span, "process.pid")),
        "hostname": get(c.AGENT_HOSTNAME) or resource_attr(span, "host.name"),
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
        "service_name": resource_attr(span, "service.name"),
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
        rows.touched_skills.add((ctx.execution_id, row["id"]))  # type: ignore[arg-type]
    elif ctx.kind == c.KIND_TOOL and row["within_skill"]:
        rows.touched_skills.add((ctx.execution_id, row["within_skill"]))  # type: ignore[arg-type]
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
            duration_ms=as_float(attrs.get(c.ENTRY_DURATION_MS)),
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
        rows.touched_skills.add((ctx.execution_id, within))
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
            as_float(get(c.ENTRY_DURATION_MS)),
            tool_id,
            get(c.ENTRY_ID) if entry_id is None else entry_id,
            get(c.ENTRY_SUMMARY) if summary is None else summary,
        )
        rows.add_keyed("transcript_entries", (ctx.execution_id, entry["id"]), entry)
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
            restated = restate(span, attrs)
            if restated is not None:
                kind, foreign = restated
                if kind == STEP:
                    return _failed_step(span, foreign, rows)
                return _lifecycle(
                    span, rows, foreign, _Ctx(foreign, span.context), start=True, end=True
                )
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
        if ctx.kind in _USAGE_KINDS:
            _usage_row(rows, span, ctx, started, ended)
        _end_entry(rows, ctx, attrs, span, ended)
        ended_task = ctx.kind == c.KIND_TASK
        rows.heartbeat(
            ctx.execution_id, ctx.instance_id, ended, None if ended_task else ctx.task_id
        )
    return rows


_USAGE_KINDS = frozenset({c.KIND_LLM, c.KIND_AGENT})
#: Our agent spans' usage (the Claude Agent SDK's session totals), as Anthropic counts it:
#: the input tokens without the cached ones.
_OWN_USAGE_KEYS = (
    ("input_tokens", c.GEN_AI_USAGE_INPUT_TOKENS),
    ("output_tokens", c.GEN_AI_USAGE_OUTPUT_TOKENS),
    ("cache_read_tokens", c.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
    ("cache_creation_tokens", c.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
)


def _own_usage(get: Any) -> dict[str, Any] | None:
    """The usage our agent span states (``gen_ai.usage.*``, ``obs.agent.cost_usd``), else None."""
    usage: dict[str, Any] = {}
    for name, key in _OWN_USAGE_KEYS:
        value = get(key)
        usage[name] = value if type(value) is int and value >= 0 else None
    cost = get(c.AGENT_COST_USD)
    usage["cost_usd"] = float(cost) if type(cost) in (int, float) and cost >= 0 else None
    if all(value is None for value in usage.values()):
        return None
    if usage["input_tokens"] is not None:
        usage["input_tokens"] += (usage["cache_read_tokens"] or 0) + (
            usage["cache_creation_tokens"] or 0
        )
    model, provider = get(c.GEN_AI_REQUEST_MODEL), get(c.GEN_AI_PROVIDER_NAME)
    usage["model"] = None if model is None else str(model)
    usage["provider"] = None if provider is None else str(provider)
    return usage


def _usage_row(rows: Rows, span: SpanLike, ctx: _Ctx, start: str, end: str) -> None:
    """An ``llm_calls`` row: a model call's usage, or an agent run's as a whole (``agent``).

    A foreign span's usage was read by its source when it was restated (``obs.usage``);
    our agent spans state theirs in GenAI names. A cost the span reports is kept
    (``reported``), else the tokens are priced (``computed``, :mod:`.pricing`).
    """
    get = ctx.attrs.get
    usage = get(c.USAGE)
    source = get(c.USAGE_SOURCE) or "otel-obs"
    if usage is None and ctx.kind == c.KIND_AGENT:
        usage = _own_usage(get)
    if usage is None and ctx.kind == c.KIND_LLM:
        usage = dict.fromkeys(("input_tokens", "output_tokens", "cost_usd"))
        model = get(c.GEN_AI_RESPONSE_MODEL) or get(c.GEN_AI_REQUEST_MODEL)
        usage["model"] = None if model is None else str(model)
    if usage is None or not ctx.span_id:
        return
    cost, cost_source = pricing.cost(
        usage.get("model"), usage.get("provider"), usage, span.start_time
    )
    rows.add(
        "llm_calls",
        {
            "execution_id": ctx.execution_id,
            "id": ctx.span_id,
            "kind": "call" if ctx.kind == c.KIND_LLM else "agent",
            "instance_id": ctx.instance_id,
            "task_id": ctx.task_id,
            "model": usage.get("model"),
            "provider": usage.get("provider"),
            "input_tokens": usage.get("input_tokens"),
            "output_tokens": usage.get("output_tokens"),
            "cache_read_tokens": usage.get("cache_read_tokens"),
            "cache_creation_tokens": usage.get("cache_creation_tokens"),
            "cost_usd": cost,
            "cost_source": cost_source,
            "source": source,
            "start_time": start,
            "end_time": end,
            "duration_ms": ms_between(span.start_time, span.end_time),
            "trace_id": ctx.trace_id,
            "span_id": ctx.span_id,
        },
    )


def _failed_step(span: SpanLike, attrs: Mapping[str, Any], rows: Rows) -> Rows:
    """A failed step of a tool call (:data:`.sources.STEP`, Claude Code's
    ``claude_code.tool.execution``): its tool use failed.

    Mapped alone to that tool use's row, at the start phase: it fills only what is
    still empty (until the tool span arrives, an ``unknown`` tool with the step's
    times, and no transcript entry, which is the tool span's), with a failure that
    the tool span's ``done`` does not undo (:data:`.rows.FAILURE_KEPT`).
    """
    ctx = _Ctx(attrs, span.context)
    started = iso_from_ns(span.start_time)  # type: ignore[arg-type]
    _ensure(rows, ctx, started, span)
    row = _tool_row(span, ctx, started, iso_from_ns(span.end_time))  # type: ignore[arg-type]
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
                duration_ms=ms_between(span.start_time, span.end_time),
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
        duration_ms=as_float(attrs.get(c.ENTRY_DURATION_MS)),
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
                "duration_ms": as_float(attrs.get(c.ASSERTION_DURATION_MS)),
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
    for target in str_list(get(c.TASK_DEPENDS_ON)):
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
