"""Who a span of another instrumentation belongs to: decided from its ancestors, in the store.

A framework's tool span rarely says which agent run called it, or which
conversation it is part of: its ancestors do (an ADK tool span has no
conversation id, its ``invoke_agent`` parent has; an OpenAI Agents ``builder``
span learns its name when it ends, after its tools). Spans end, and so arrive,
children first, and over OTLP in any order and any request. So the store keeps
the lineage of these spans (:class:`Lineage`): a span whose parent has not
arrived waits for it; once its parent is known, its identity follows from the
parent's, and its own waiting children follow in turn.

The rules, for a span of another instrumentation (ours state their identity):

* execution: ours (``obs.execution_id``, from baggage or an enclosing span of
  ours), else the conversation or session id it states, else its parent's, else
  its trace id;
* agent instance: an agent span is one *run* (two concurrent runs of agent
  ``builder`` are two instances): ``<caller's instance>/<call id>`` when a tool
  call started it (a subagent), else its name and span id, ``builder@<span id>``;
  any other span takes its parent's, else ours, else the agent it names;
* task: ours, else its parent's.

A span waits while its parent may still come: it has a parent span id and is not
marked :data:`~otel_obs.conventions.LINK_TOP` (the context processor marks a span
whose parent is ours, remote or absent). It waits at most the link wait
(``OTEL_OBS_LINK_WAIT_MS``; 0: never) and is then stored with what is known
(counted in ``stored_without_parent``). Decided links are stored (``span_links``), so a child
arriving after a restart finds its parent; spans still waiting when the writer
closes are stored too (``pending_spans``) and wait on in the next writer of the
store. Every span that no source knows is counted by scope and name
(``unmapped_spans``, shown by ``otel-obs unmapped``): nothing is ignored in silence.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from otel_obs import conventions as c
from otel_obs.redaction import capped_name, clean_text

from .mapping.rows import Rows
from .mapping.sources import IGNORE, STEP, first, source_of
from .span_record import Recorder, SpanRecord, record_from_wire, to_wire

#: How many decided links are kept in memory (the rest are read back from the store).
MEMORY_LINKS = 100_000
#: How often waiting spans are checked for having waited too long, in seconds.
EXPIRY_CHECK_S = 1.0


@dataclass(frozen=True)
class Link:
    """A span's place in its trace, as decided: what its children inherit."""

    kind: str | None
    execution: str
    instance: str | None
    task: str | None
    call_id: str | None

    def row(self, trace: str, span: str, parent: str | None) -> tuple[Any, ...]:
        return (
            trace,
            span,
            parent,
            self.kind,
            self.execution,
            self.instance,
            self.task,
            self.call_id,
        )


def is_foreign(span: Any) -> bool:
    """True for a span otel-obs's producers did not make (no ``obs.kind``)."""
    attrs = span.attributes
    return not attrs or c.KIND not in attrs


def _ids(span: Any) -> tuple[str, str, str | None]:
    ctx = span.context
    parent = getattr(span, "parent", None)
    return (
        format(ctx.trace_id, "032x"),
        format(ctx.span_id, "016x"),
        None if parent is None or not parent.span_id else format(parent.span_id, "016x"),
    )


def _scope(span: Any) -> str:
    scope = getattr(span, "instrumentation_scope", None)
    return (getattr(scope, "name", None) or "") if scope is not None else ""


class Lineage:
    """The lineage of foreign spans one writer has met (see the module docstring).

    :meth:`admit` takes a finished foreign span and returns the spans now ready to be
    mapped (it, and those that waited for it), each a record carrying its decided
    identity. The writer writes the links and waiting spans it adds to ``rows`` in the
    batch's transaction.
    """

    def __init__(
        self, wait_ms: int, statements: Any, errors: tuple[type[BaseException], ...]
    ) -> None:
        #: The store engine's statements and the errors its reads may raise.
        self._sql = statements
        self._errors = errors
        self._wait_s = wait_ms / 1000
        self._links: dict[tuple[str, str], Link] = {}
        #: (trace, parent span) -> {span id: (arrived at, record)}
        self._waiting: dict[tuple[str, str], dict[str, tuple[float, SpanRecord]]] = {}
        self._waiting_count = 0
        self._loaded = False
        self._next_expiry = 0.0
        self._recorder = Recorder()
        self.stats = {"spans_waiting": 0, "stored_without_parent": 0, "unmapped_spans": 0}

    # ------------------------------------------------------------------

    def admit(self, span: Any, rows: Rows, conn: Any) -> list[SpanRecord]:
        """Take a finished foreign span; the records ready to map now (maybe none)."""
        self._load(conn)
        record = span if type(span) is SpanRecord else self._recorder.snapshot(span)
        trace, span_id, parent = _ids(record)
        known = self._link(trace, span_id, conn)
        if known is not None:  # delivered again: mapped as it was the first time
            return [_with_identity(record, known)]
        if source_of(record.name, record.attributes) is None:
            key = (clean_text(_scope(record)), clean_text(record.name))
            rows.unmapped[key] = rows.unmapped.get(key, 0) + 1
            self.stats["unmapped_spans"] += 1
        parent_link = None
        if parent is not None and not record.attributes.get(c.LINK_TOP):
            parent_link = self._link(trace, parent, conn)
            if parent_link is None and self._wait_s > 0:
                self._wait(trace, span_id, parent, time.monotonic(), record, rows)
                return []
        ready: list[SpanRecord] = []
        self._decide(trace, span_id, parent, record, parent_link, rows, ready)
        return _in_start_order(ready)

    def expired(self, rows: Rows, conn: Any, *, all_: bool = False):
        """Spans that waited longer than the link wait (``all_``: every waiting span),
        decided with what is known, and what waited for them: the records to map."""
        now = time.monotonic()
        if not all_ and (now < self._next_expiry or not self._waiting):
            return []
        self._next_expiry = now + EXPIRY_CHECK_S
        ready: list[SpanRecord] = []
        for (trace, parent), children in list(self._waiting.items()):
            for span_id, (arrived, record) in list(children.items()):
                if not all_ and now - arrived < self._wait_s:
                    continue
                if (trace, parent) not in self._waiting or span_id not in children:
                    continue  # released meanwhile, as a descendant of an expired span
                self._unwait(trace, parent, span_id, rows)
                self.stats["stored_without_parent"] += 1
                self._decide(trace, span_id, parent, record, None, rows, ready)
        return _in_start_order(ready)

    def close(self, rows: Rows) -> None:
        """Keep the spans still waiting in the store, to wait on in its next writer."""
        for (trace, parent), children in self._waiting.items():
            for span_id, (_, record) in children.items():
                rows.waiting[(trace, span_id)] = (parent, _record_text(record))

    # ------------------------------------------------------------------

    def _decide(
        self,
        trace: str,
        span_id: str,
        parent: str | None,
        record: SpanRecord,
        parent_link: Link | None,
        rows: Rows,
        ready: list[SpanRecord],
    ) -> None:
        """Decide ``record``'s link, queue it for mapping, then release its waiting children."""
        stack = [(trace, span_id, parent, record, parent_link)]
        while stack:
            trace, span_id, parent, record, parent_link = stack.pop()
            link = decide(record, trace, span_id, parent_link)
            self._remember(trace, span_id, link)
            rows.links[(trace, span_id)] = link.row(trace, span_id, parent)
            ready.append(_with_identity(record, link))
            children = self._waiting.get((trace, span_id))
            if children:
                for child_id, (_, child) in list(children.items()):
                    self._unwait(trace, span_id, child_id, rows)
                    stack.append((trace, child_id, span_id, child, link))

    def _link(self, trace: str, span_id: str, conn: Any) -> Link | None:
        link = self._links.get((trace, span_id))
        if link is not None or conn is None:
            return link
        try:
            row = conn.execute(self._sql.link_lookup, (trace, span_id)).fetchone()
        except self._errors:
            return None
        if row is None:
            return None
        link = Link(*row)
        self._remember(trace, span_id, link)
        return link

    def _remember(self, trace: str, span_id: str, link: Link) -> None:
        if len(self._links) >= MEMORY_LINKS:
            self._links.clear()  # the store keeps them all; memory only the recent
        self._links[(trace, span_id)] = link

    def _wait(
        self,
        trace: str,
        span_id: str,
        parent: str,
        arrived: float,
        record: SpanRecord,
        rows: Rows,
    ) -> None:
        children = self._waiting.setdefault((trace, parent), {})
        if span_id not in children:
            self._waiting_count += 1
        children[span_id] = (arrived, record)
        self.stats["spans_waiting"] = self._waiting_count

    def _unwait(self, trace: str, parent: str, span_id: str, rows: Rows) -> None:
        children = self._waiting.get((trace, parent))
        if children is None or children.pop(span_id, None) is None:
            return
        if not children:
            del self._waiting[(trace, parent)]
        self._waiting_count -= 1
        self.stats["spans_waiting"] = self._waiting_count
        rows.released.add((trace, span_id))

    def _load(self, conn: Any) -> None:
        """Once: take over the spans an earlier writer of this store left waiting."""
        if self._loaded or conn is None:
            return
        self._loaded = True
        try:
            stored = conn.execute(self._sql.pending).fetchall()
        except self._errors:
            return
        now = time.monotonic()
        for trace, span_id, parent, text in stored:
            try:
                record = record_from_wire(tuple(json.loads(text)))
            except (ValueError, TypeError):
                continue
            children = self._waiting.setdefault((trace, parent), {})
            if span_id not in children:
                self._waiting_count += 1
            children[span_id] = (now, record)
        self.stats["spans_waiting"] = self._waiting_count


def decide(record: SpanRecord, trace: str, span_id: str, parent: Link | None) -> Link:
    """A span's link from what it states and its parent's link (None: it has none known)."""
    attrs = record.attributes
    found = source_of(record.name, attrs)
    source = found[0] if found is not None else None
    kind = found[1] if found is not None else None
    if kind in (STEP, IGNORE):
        kind = None
    conversation = (
        source.conversation(attrs) if source else first(attrs, c.FOREIGN_CONVERSATION_KEYS)
    )
    ours = attrs.get(c.EXECUTION_ID)
    execution = ours or conversation or (parent.execution if parent else None) or trace
    task = attrs.get(c.TASK_ID) or (parent.task if parent else None)
    call_id = source.call_id(attrs) if source is not None and kind == c.KIND_TOOL else None
    instance: str | None
    if kind == c.KIND_AGENT:
        if parent is not None and parent.kind == c.KIND_TOOL and parent.call_id:
            instance = f"{parent.instance or parent.execution}/{parent.call_id}"
        else:
            name = source.agent(attrs, record.name) if source is not None else None
            instance = f"{capped_name(name or 'agent')}@{span_id}"
    elif parent is not None and parent.instance:
        instance = parent.instance
    else:
        named = source.agent(attrs, record.name) if source is not None else None
        instance = attrs.get(c.INSTANCE_ID) or named or (conversation if kind else None)
    return Link(
        kind,
        clean_text(str(execution)),
        None if instance is None else clean_text(str(instance)),
        None if task is None else str(task),
        None if call_id is None else clean_text(str(call_id)),
    )


def _in_start_order(records: list[SpanRecord]) -> list[SpanRecord]:
    """Spans released together, in the order they started: their entries are numbered in
    the order things happened, not in the order they ended."""
    if len(records) > 1:
        records.sort(key=lambda r: r.start_time or 0)
    return records


def _with_identity(record: SpanRecord, link: Link) -> SpanRecord:
    """``record`` with its decided identity among its attributes (a copy)."""
    attrs = dict(record.attributes)
    attrs[c.EXECUTION_ID] = link.execution
    if link.task is not None:
        attrs[c.TASK_ID] = link.task
    if link.kind == c.KIND_AGENT:
        attrs[c.RUN_INSTANCE_ID] = link.instance
    elif link.instance is not None:
        attrs[c.INSTANCE_ID] = link.instance
    return SpanRecord(
        record.name,
        attrs,
        record.context,
        record.start_time,
        record.end_time,
        record.events,
        record.resource,
        record.parent,
        record.status,
        record.instrumentation_scope,
    )


def _record_text(record: SpanRecord) -> str:
    return json.dumps(to_wire(record), default=str)


__all__ = ["Link", "Lineage", "decide", "is_foreign"]
