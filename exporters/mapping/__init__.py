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

The package's modules: :mod:`.rows` (the merge rules), :mod:`.spans` (our
producers' spans and events, and the dispatch), :mod:`.foreign` (what spans of
other instrumentations share) and :mod:`.sources` (one module per instrumentation).
"""

from __future__ import annotations

from .foreign import (
    foreign_inheritance,
    foreign_kind,
    restate,
    status_attributes,
    subagent_instance,
)
from .rows import (
    ATTEMPT_END_COLUMNS,
    ATTEMPT_TABLES,
    EARLIEST_COLUMNS,
    END,
    ENTITY_TABLES,
    FAILURE_KEPT,
    KEY_OF,
    KEYS,
    START,
    Key,
    Row,
    Rows,
)
from .spans import (
    BUS_ENTRY_TYPES,
    TOOL_SUMMARY_MAX,
    map_event,
    map_events,
    map_span,
    map_span_end,
    map_span_finished,
    map_span_start,
    map_span_start_end,
    map_tool_start_end,
    tool_entry_id,
)
from .values import SpanLike, iso_from_ns, json_object_text

__all__ = [
    "ATTEMPT_END_COLUMNS",
    "ATTEMPT_TABLES",
    "BUS_ENTRY_TYPES",
    "EARLIEST_COLUMNS",
    "END",
    "ENTITY_TABLES",
    "FAILURE_KEPT",
    "KEYS",
    "KEY_OF",
    "START",
    "TOOL_SUMMARY_MAX",
    "Key",
    "Row",
    "Rows",
    "SpanLike",
    "foreign_inheritance",
    "foreign_kind",
    "iso_from_ns",
    "json_object_text",
    "map_event",
    "map_events",
    "map_span",
    "map_span_end",
    "map_span_finished",
    "map_span_start",
    "map_span_start_end",
    "map_tool_start_end",
    "restate",
    "status_attributes",
    "subagent_instance",
    "tool_entry_id",
]
