"""TranscriptWriter: the unified transcript of one worker, as OpenTelemetry spans.

One writer per worker process (or per agent instance). At construction it
starts the ``invoke_agent {instance_id}`` span; every transcript entry then
becomes either a span (``phase_start``/``phase_end``, ``task_start``/``task_end``
open and close ``phase …`` and ``task …`` spans) or an ``obs.<entry_type>``
event on the innermost open span. The transcript processor maps those spans
and events into SQLite and JSONL; the writer never touches the store itself.

Nesting. The writer keeps its open spans (phases, tasks, and the skill and
assertion-chain spans the other producers open through it) in a
:class:`~otel_obs.span_stack.SpanStack`. New spans are parented to the
innermost one open in the calling thread or asyncio task (or, in one that
opened none, to the one opened last), and that span is also made the
OpenTelemetry current span where it was opened, so spans of other
instrumentation nest under the task too.

``task_end`` without a ``task_id`` ends the innermost open task, and
``phase_end`` without ``details["phase"]`` the innermost open phase.

Unbalanced ends never raise into the agent:

- an end for something that is not open (``task_end`` of a task never started,
  ``trace_end`` of an unknown skill) is recorded as an ``error`` entry and
  logged, and nothing else happens;
- an end out of order (``task_end`` of a task while a phase or skill opened
  inside it is still open) is recorded as an ``error`` entry, the named span is
  ended anyway, and the spans opened inside it stay open and stay current
  (their later ends are then balanced).

``close()`` flushes and ends whatever is still open, innermost first, each
marked ``obs.closed_by="close"``: tasks end ``failed`` with the error
"closed by close() before task_end" (they did not complete, and ``failed`` is
the status the SQL tools look for), skills ``failed`` likewise, tool uses
``error``, chains with the verdict of the assertions they had. The agent span
then ends ``terminated`` if anything was still open, else ``completed``.
Writing after ``close()`` is logged and dropped rather than raised.

Context attributes (``conventions.CONTEXT_KEYS``) are set explicitly on every
span when it starts: execution, instance, wave and task list from the writer
(arguments, else W3C baggage), task and innermost skill from the stack. A
skill span's own ``obs.skill_trace_id`` is its own trace id, so its
``skill_invoke``/``skill_complete`` entries belong to it; its enclosing skill
is in ``obs.skill.parent_trace_id``.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry import baggage, propagate, trace
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from . import conventions as c
from ._internal_errors import internal_errors
from .checks import FileSnapshot, snapshot_file
from .models import TranscriptEntry
from .pipeline import Pipeline
from .redaction import DETAILS_CAP, clean_attributes, redact_text, safe_json
from .secret_rules import current_rules
from .span_stack import Frame, SpanStack, State

logger = logging.getLogger(__name__)

_PROPAGATION_ENV = ("TRACEPARENT", "TRACESTATE", "BAGGAGE")

CLOSED_TASK_ERROR = "closed by close() before task_end"
CLOSED_SKILL_ERROR = "closed by close() before trace_end"
CLOSED_TOOL_ERROR = "closed by close() before log_end"

Attributes = dict[str, AttributeValue]


#: A generator of our own: an agent (or a test framework) that seeds the global
#: ``random`` module for reproducibility must not make ids repeat across runs.
_rng = random.Random()
os.register_at_fork(after_in_child=_rng.seed)
_random_bits = _rng.getrandbits


def new_id() -> str:
    """A fresh random id of 32 hex characters.

    Drawn like the SDK draws span ids (``getrandbits`` of a Mersenne Twister,
    reseeded in a forked child), not from ``os.urandom``: a system call releases the GIL, and
    with the store's writer thread busy, getting it back can cost milliseconds.
    """
    return f"{_random_bits(128):032x}"


def entry_attributes(
    entry_id: str,
    entry_type: str,
    summary: str,
    details: Mapping[str, Any] | None = None,
    *,
    category: str | None = None,
    skill_ref_json: str | None = None,
    token_estimate: int | None = None,
    duration_ms: float | None = None,
    end: bool = False,
) -> Attributes:
    """The ``obs.entry.*`` (or, with ``end``, ``obs.end_entry.*``) attributes of an entry.

    Summaries and details are redacted and capped here, once, for every path.
    """
    keys = _END_KEYS if end else _START_KEYS
    attrs: Attributes = {
        keys[0]: entry_id,
        keys[1]: entry_type,
        keys[2]: category or c.DEFAULT_CATEGORY[entry_type],
        keys[3]: redact_text(summary) if summary else "",
    }
    if details:
        attrs[keys[4]] = safe_json(details, DETAILS_CAP)
    if skill_ref_json is not None:
        attrs[keys[5]] = skill_ref_json
    if token_estimate is not None:
        attrs[keys[6]] = token_estimate
    if duration_ms is not None and not end:
        attrs[c.ENTRY_DURATION_MS] = float(duration_ms)
    return attrs


_START_KEYS = c.START_ENTRY_KEYS
_END_KEYS = c.END_ENTRY_KEYS


class TranscriptWriter:
    """Writes the transcript of one agent instance as spans and span events."""

    def __init__(
        self,
        execution_id: str | None,
        instance_id: str,
        *,
        wave_number: int | None = None,
        task_list_id: str | None = None,
        db_path: str | os.PathLike[str] | None = None,
        transcripts_dir: str | os.PathLike[str] | None = None,
        pipeline: Pipeline | None = None,
    ) -> None:
        if not instance_id or not isinstance(instance_id, str):
            raise ValueError(f"instance_id must be a non-empty string, got {instance_id!r}")
        current_rules()  # a bad OTEL_OBS_REDACT_* expression fails here, not in a tool call
        if pipeline is None:
            from .config import get_pipeline

            pipeline = get_pipeline(
                db_path=Path(db_path) if db_path is not None else None,
                transcripts_dir=Path(transcripts_dir) if transcripts_dir is not None else None,
            )
        self.pipeline = pipeline
        self._tracer = pipeline.tracer
        self._root_context = _parent_context()

        execution_id = execution_id or _baggage_str(c.EXECUTION_ID, self._root_context)
        if not execution_id:
            raise ValueError(
                "execution_id must be given, or set as W3C baggage "
                f"{c.EXECUTION_ID!r} by the orchestrator; got {execution_id!r}"
            )
        if wave_number is None:
            wave_number = _baggage_int(c.WAVE_NUMBER, self._root_context)
        if task_list_id is None:
            task_list_id = _baggage_str(c.TASK_LIST_ID, self._root_context)

        self.execution_id: str = execution_id
        self.instance_id: str = instance_id
        self.wave_number: int | None = wave_number
        self.task_list_id: str | None = task_list_id

        self._lock = threading.RLock()
        #: Final status of every task this writer ended, by task id.
        self.task_outcomes: dict[str, str] = {}
        self._closed = False
        self.stats = {"storage_errors": 0, "unbalanced": 0, "dropped_after_close": 0}

        base: Attributes = {c.EXECUTION_ID: execution_id, c.INSTANCE_ID: instance_id}
        if wave_number is not None:
            base[c.WAVE_NUMBER] = wave_number
        if task_list_id is not None:
            base[c.TASK_LIST_ID] = task_list_id
        self._base_attrs = clean_attributes(base)  # every span carries them: fixed once

        agent_attrs: Attributes = dict(base)
        agent_attrs.update(
            {
                c.KIND: c.KIND_AGENT,
                c.GEN_AI_OPERATION_NAME: "invoke_agent",
                c.GEN_AI_AGENT_NAME: instance_id,
                c.GEN_AI_AGENT_ID: instance_id,
                c.AGENT_PID: os.getpid(),
                c.AGENT_HOSTNAME: socket.gethostname(),
            }
        )
        self._agent_span = self.start_span(
            c.span_name(c.KIND_AGENT, instance_id), self._root_context, agent_attrs
        )
        self._spans = SpanStack(self._state_under(self._agent_span, None, None))

    # ------------------------------------------------------------------
    # Public API (the spec's)
    # ------------------------------------------------------------------

    def write(self, entry: TranscriptEntry | Mapping[str, Any]) -> str:
        """Record ``entry``; return its id.

        Lifecycle entries open or close spans; every other type becomes an
        event on the innermost open span. A plain dict is validated like a
        ``TranscriptEntry`` (an unknown ``entry_type`` raises ``ValueError``).
        """
        entry = coerce_entry(entry)
        with self._lock:
            if self._closed:
                return self.drop_after_close(f"{entry.entry_type} entry")
            handler = self._LIFECYCLE.get(entry.entry_type)
            if handler is not None:
                return handler(self, entry)
            return self._write_event(entry)

    def flush(self) -> None:
        """Return once everything written so far is in SQLite and JSONL."""
        # Storage trouble never reaches the agent; neither does a bug (counted).
        with internal_errors("producer.flush") as caught:
            try:
                if not self.pipeline.flush():
                    logger.warning("transcript flush timed out for %s", self.instance_id)
            except OSError:
                self._storage_error("flush")
        if caught.error is not None:
            self.stats["storage_errors"] += 1

    def close(self) -> None:
        """Flush, end whatever is still open, end the agent span. Idempotent."""
        self._close(None, None)

    def __enter__(self) -> TranscriptWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any):
        if exc is not None:
            self._close("failed", f"{type(exc).__name__}: {exc}")
        else:
            self._close(None, None)

    # ------------------------------------------------------------------
    # Context managers
    # ------------------------------------------------------------------

    @contextmanager
    def task(self, task_id: str, title: str = "", **details: Any) -> Iterator[str]:
        """``task_start`` … ``task_end``; an exception ends the task failed and re-raises.

        ``details`` are the other task_start keys (``action``, ``file``,
        ``depends_on``). A body that ends the task itself (say, ``blocked``
        through :meth:`write`) is respected: no second end is written.
        """
        start = dict(details)
        if title:
            start["title"] = title

        def end(error: str | None) -> TranscriptEntry:
            if error is None:
                return TranscriptEntry(entry_type="task_end", task_id=task_id)
            return TranscriptEntry(
                entry_type="task_end",
                task_id=task_id,
                summary=f"Task {task_id} failed",
                details={"status": "failed", "error": error},
            )

        with self._scope(
            c.KIND_TASK,
            task_id,
            TranscriptEntry(entry_type="task_start", task_id=task_id, details=start),
            end,
        ):
            yield task_id

    @contextmanager
    def phase(self, name: str, **details: Any) -> Iterator[str]:
        """``phase_start`` … ``phase_end``; an exception is noted on the end and re-raised."""

        def end(error: str | None) -> TranscriptEntry:
            extra = {} if error is None else {"error": error}
            return TranscriptEntry(entry_type="phase_end", details={"phase": name, **extra})

        with self._scope(
            c.KIND_PHASE,
            name,
            TranscriptEntry(entry_type="phase_start", details={**details, "phase": name}),
            end,
        ):
            yield name

    @contextmanager
    def _scope(
        self,
        kind: str,
        key: str,
        start: TranscriptEntry,
        end: Callable[[str | None], TranscriptEntry],
    ) -> Iterator[None]:
        """Write ``start``, run the body, write ``end(error)`` unless the body ended it."""
        self.write(start)
        try:
            yield
        except BaseException as exc:
            if self.find_frame(kind, key) is not None:
                self.write(end(f"{type(exc).__name__}: {exc}"))
            raise
        if self.find_frame(kind, key) is not None:
            self.write(end(None))

    # ------------------------------------------------------------------
    # What the other producers build on
    # ------------------------------------------------------------------

    @property
    def active_skill(self) -> str | None:
        """The innermost open skill trace id of this thread / asyncio task, if any."""
        return self._spans.state().skill_id

    @property
    def current_task_id(self) -> str | None:
        """The task new spans and events of this thread / asyncio task belong to, if any."""
        return self._spans.state().task_id

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def open_tools(self) -> dict[str, Frame]:
        """A copy of the open tool uses by id (for inspection; changing it changes nothing)."""
        return self._spans.tools()

    def state(self) -> State:
        """Parent context and context attributes for a new span (lock-free read)."""
        return self._spans.state()

    def open_tool(self, frame: Frame) -> bool:
        """Track an open tool use; False when a tool use with its id is already open."""
        return self._spans.add_tool(frame)

    def tool_is_open(self, tool_use_id: str) -> bool:
        return self._spans.has_tool(tool_use_id)

    def pop_tool(self, tool_use_id: str) -> Frame | None:
        """Stop tracking the tool use ``tool_use_id`` and return it (None when not open)."""
        return self._spans.pop_tool(tool_use_id)

    def open_frame(
        self,
        kind: str,
        label: str,
        attributes: Attributes,
        *,
        key: str,
        task_id: str | None = None,
        skill_id: str | None = None,
        on_close: Callable[[Frame], None] | None = None,
    ) -> Frame:
        """Start a span of ``kind`` under the innermost open one and make it current.

        ``task_id`` / ``skill_id`` override the context the span (and its
        children) get; by default they inherit the enclosing ones.
        """
        with self._lock:
            st = self._spans.state()
            task = task_id if task_id is not None else st.task_id
            skill = skill_id if skill_id is not None else st.skill_id
            attrs: Attributes = dict(self._base_attrs)
            if task is not None:
                attrs[c.TASK_ID] = task
            if skill is not None:
                attrs[c.SKILL_TRACE_ID] = skill
            attrs[c.KIND] = kind
            attrs.update(attributes)
            span = self.start_span(c.span_name(kind, label), st.context, attrs)
            frame = Frame(
                kind=kind,
                key=key,
                span=span,
                task_id=task,
                skill_id=skill,
                start_ns=time.time_ns(),
                on_close=on_close,
                state=self._state_under(span, task, skill),
            )
            self._spans.push(frame)
            return frame

    def close_frame(
        self,
        frame: Frame,
        end_attributes: Attributes,
        *,
        error: str | None = None,
    ) -> None:
        """End ``frame``'s span with ``end_attributes``; an out-of-order end is recorded.

        The spans opened inside ``frame`` and still open stay open and current.
        """
        with self._lock:
            inside = self._spans.pop(frame)
            if inside is None:
                return
            if inside:
                names = ", ".join(f"{f.kind} {f.key}" for f in inside)
                self.record_unbalanced(
                    f"{frame.kind} {frame.key} ended while {names} still open; "
                    f"{frame.kind} {frame.key} closed, the others stay open",
                    "out_of_order_end",
                )
        self.end_span(frame.span, end_attributes, error)

    def find_frame(self, kind: str, key: str | None = None) -> Frame | None:
        """The innermost open frame of ``kind`` (with ``key``, when given).

        Without ``key``, this thread's or asyncio task's own frames come first.
        """
        return self._spans.find(kind, key)

    def add_event(self, span: Span, name: str, attributes: Attributes) -> None:
        """Add an event through the pipeline; storage trouble is logged, never raised."""
        if self._closed:
            self.drop_after_close(name)
            return
        with internal_errors("producer.event") as caught:
            try:
                self.pipeline.add_event(span, name, clean_attributes(attributes))
            except OSError:
                self._storage_error("event")
        if caught.error is not None:
            self.stats["storage_errors"] += 1

    def record_error(
        self, message: str, error_type: str, *, task_id: str | None = None, **details: Any
    ) -> str:
        """Write an ``error`` entry on the current span; return its id."""
        if not isinstance(message, str) or not isinstance(error_type, str):
            raise ValueError(
                "record_error needs a message and an error type as strings, got "
                f"{type(message).__name__} and {type(error_type).__name__}"
            )
        if self._closed:
            return self.drop_after_close("error entry")
        entry_id = new_id()
        attrs = entry_attributes(
            entry_id,
            "error",
            redact_text(message)[:200],
            {"message": message, "error_type": error_type, **details},
        )
        st = self._spans.state()
        task = task_id if task_id is not None else st.task_id
        if task is not None:
            attrs[c.TASK_ID] = task
        self.add_event(st.span, c.EVENT_PREFIX + "error", attrs)
        return entry_id

    def record_unbalanced(self, message: str, error_type: str, **details: Any) -> str:
        """An API misuse the agent should not crash on: log it and record an error entry."""
        self.stats["unbalanced"] += 1
        message = _capped(message, MESSAGE_MAX)  # it quotes the caller's value, maybe huge
        logger.warning("%s (instance %s)", message, _capped(self.instance_id, 200))
        return self.record_error(message, error_type, **details)

    def task_snapshot(self, task_id: str, path: str) -> FileSnapshot | None:
        """The snapshot of ``path`` taken when task ``task_id`` started, if it was declared."""
        frame = self.find_frame(c.KIND_TASK, task_id)
        if frame is None:
            return None
        snap = frame.extra.get("file_snapshot")
        if snap is not None and os.path.abspath(snap.path) == os.path.abspath(path):
            return snap
        return None

    def task_start_ns(self, task_id: str) -> int | None:
        frame = self.find_frame(c.KIND_TASK, task_id)
        return frame.start_ns if frame is not None else None

    # ------------------------------------------------------------------
    # Lifecycle entries
    # ------------------------------------------------------------------

    def _phase_start(self, entry: TranscriptEntry) -> str:
        name = _phase_name(entry)
        if not name:
            raise ValueError("phase_start needs details['phase'] (e.g. prime, iterate, validate)")
        entry_id = new_id()
        details = {**entry.details, "phase": name}
        attrs = _entry_attrs(
            entry,
            entry_id,
            "phase_start",
            entry.summary or f"Phase {name} started",
            details,
        )
        attrs[c.PHASE_NAME] = redact_text(name)
        self.open_frame(
            c.KIND_PHASE,
            name,
            attrs,
            key=name,
            task_id=entry.task_id,
            on_close=self._abandon_phase,
        )
        return entry_id

    def _phase_end(self, entry: TranscriptEntry) -> str:
        name = _phase_name(entry)
        frame = self.find_frame(c.KIND_PHASE, name or None)
        if frame is None:
            return self.record_unbalanced(
                f"phase_end for phase {name!r} which is not open", "unbalanced_end"
            )
        entry_id = new_id()
        error = entry.details.get("error")
        attrs = _entry_attrs(
            entry,
            entry_id,
            "phase_end",
            entry.summary or f"Phase {frame.key} ended",
            {**entry.details, "phase": frame.key},
            end=True,
        )
        self.close_frame(frame, attrs, error=str(error) if error else None)
        return entry_id

    def _task_start(self, entry: TranscriptEntry) -> str:
        task_id = entry.task_id
        if not task_id:
            raise ValueError("task_start needs a task_id")
        if self.find_frame(c.KIND_TASK, task_id) is not None:
            return self.record_unbalanced(
                f"task_start for task {task_id!r} which is already open", "duplicate_start"
            )
        details = dict(entry.details)
        title = details.get("title") or ""
        attrs = _entry_attrs(
            entry,
            new_id(),
            "task_start",
            entry.summary or f"Starting task: {title or task_id}",
            details,
        )
        entry_id = str(attrs[c.ENTRY_ID])
        if title:
            attrs[c.TASK_TITLE] = redact_text(str(title))
        action = details.get("action")
        if action is not None:
            if str(action).upper() not in c.TASK_ACTIONS:
                raise ValueError(
                    f"unknown task action {action!r}; valid actions: {', '.join(c.TASK_ACTIONS)}"
                )
            attrs[c.TASK_ACTION] = str(action).upper()
        file = details.get("file")
        if file:
            attrs[c.TASK_FILE] = str(file)
        depends_on = details.get("depends_on")
        if depends_on:
            if isinstance(depends_on, str):
                depends_on = [depends_on]
            attrs[c.TASK_DEPENDS_ON] = [str(d) for d in depends_on]
        frame = self.open_frame(
            c.KIND_TASK,
            task_id,
            attrs,
            key=task_id,
            task_id=task_id,
            on_close=self._abandon_task,
        )
        if file:
            frame.extra["file_snapshot"] = snapshot_file(str(file))
        return entry_id

    def _task_end(self, entry: TranscriptEntry) -> str:
        status = entry.details.get("status", "completed")
        if status not in c.TASK_END_STATUSES:
            raise ValueError(
                f"unknown task status {status!r}; valid statuses: {', '.join(c.TASK_END_STATUSES)}"
            )
        task_id = entry.task_id
        frame = self.find_frame(c.KIND_TASK, task_id)
        if frame is None:
            return self.record_unbalanced(
                f"task_end for task {task_id!r} which is not open", "unbalanced_end"
            )
        error = entry.details.get("error")
        return self._end_task(frame, status, str(error) if error else None, entry)

    def _end_task(
        self,
        frame: Frame,
        status: str,
        error: str | None,
        entry: TranscriptEntry | None = None,
        extra: Attributes | None = None,
    ) -> str:
        entry_id = new_id()
        details: dict[str, Any] = dict(entry.details) if entry is not None else {}
        details["status"] = status
        if error:
            details["error"] = error
        attrs = _entry_attrs(
            entry,
            entry_id,
            "task_end",
            (entry.summary if entry is not None else "") or f"Task {frame.key} {status}",
            details,
            end=True,
        )
        attrs[c.TASK_STATUS] = status
        if error:
            attrs[c.TASK_ERROR] = redact_text(error)
        if extra:
            attrs.update(extra)
        self.task_outcomes[frame.key] = status
        self.close_frame(frame, attrs, error=error if status == "failed" else None)
        return entry_id

    _LIFECYCLE: dict[str, Callable[[TranscriptWriter, TranscriptEntry], str]] = {
        "phase_start": _phase_start,
        "phase_end": _phase_end,
        "task_start": _task_start,
        "task_end": _task_end,
    }

    def _write_event(self, entry: TranscriptEntry) -> str:
        entry_id = new_id()
        attrs = _entry_attrs(
            entry,
            entry_id,
            entry.entry_type,
            entry.summary,
            entry.details,
        )
        st = self._spans.state()
        task = entry.task_id or st.task_id
        if task is not None:
            attrs[c.TASK_ID] = task
        correlation = entry.details.get("correlation_id")
        if correlation is not None:
            attrs[c.CORRELATION_ID] = str(correlation)
        self.add_event(st.span, c.EVENT_PREFIX + entry.entry_type, attrs)
        return entry_id

    # ------------------------------------------------------------------
    # close()
    # ------------------------------------------------------------------

    def _abandon_task(self, frame: Frame) -> None:
        self._end_task(frame, "failed", CLOSED_TASK_ERROR, extra={c.CLOSED_BY: "close"})

    def _abandon_phase(self, frame: Frame) -> None:
        attrs = entry_attributes(
            new_id(),
            "phase_end",
            f"Phase {frame.key} closed by close()",
            {"phase": frame.key, "closed_by": "close"},
            end=True,
        )
        attrs[c.CLOSED_BY] = "close"
        self.close_frame(frame, attrs)

    def _close(self, status: str | None, error: str | None) -> None:
        with self._lock:
            if self._closed:
                return
            open_work = bool(self._spans)
            for tool in self._spans.take_tools():
                if tool.on_close is not None:
                    _guarded(tool.on_close, tool)
                else:
                    self.end_span(tool.span, {c.CLOSED_BY: "close"})
            while (frame := self._spans.innermost()) is not None:
                if frame.on_close is not None:
                    _guarded(frame.on_close, frame)
                if frame.is_open:  # on_close did not end it
                    self.close_frame(frame, {c.CLOSED_BY: "close"})
            self._closed = True
            final = status or ("terminated" if open_work else "completed")
            attrs: Attributes = {c.AGENT_STATUS: final}
            if error:
                attrs[c.AGENT_ERROR] = redact_text(error)
            elif open_work:
                attrs[c.AGENT_ERROR] = "closed with work still open"
            self.end_span(self._agent_span, attrs, error if final == "failed" else None)
        self.flush()

    def drop_after_close(self, what: str) -> str:
        """Count a producer call made after close() (logged the first time); return a fresh id.

        Every producer treats a call after close() alike: nothing is written,
        nothing raises, ``stats["dropped_after_close"]`` counts it.
        """
        with self._lock:
            self.stats["dropped_after_close"] += 1
            first = self.stats["dropped_after_close"] == 1
        if first:
            logger.warning(
                "%s after close() of instance %s: dropped (further drops are counted only)",
                what,
                self.instance_id,
            )
        return new_id()

    # ------------------------------------------------------------------
    # Internals
    # ------------------------------------------------------------------

    def _state_under(self, span: Span, task_id: str | None, skill_id: str | None) -> State:
        """What spans opened under ``span`` inherit: it as parent, and the context attributes."""
        attrs = dict(self._base_attrs)
        if task_id is not None:
            attrs[c.TASK_ID] = task_id
        if skill_id is not None:
            attrs[c.SKILL_TRACE_ID] = skill_id
        ctx = trace.set_span_in_context(span, self._root_context)
        # Clean once here: tool spans copy these attributes without cleaning them again.
        return State(ctx, span, clean_attributes(attrs), task_id, skill_id)

    def start_span(self, name: str, ctx: Context, attrs: Attributes, *, clean: bool = True) -> Span:
        """Start a span; ``clean=False`` when the caller made ``attrs`` storable already."""
        with internal_errors("producer.span_start"):
            try:
                return self._tracer.start_span(
                    _span_name(name),
                    context=ctx,
                    attributes=clean_attributes(attrs) if clean else attrs,
                )
            except OSError:
                self._storage_error("span start")
                return trace.INVALID_SPAN
        self.stats["storage_errors"] += 1
        return trace.INVALID_SPAN

    def end_span(
        self, span: Span, attrs: Attributes, error: str | None = None, *, clean: bool = True
    ) -> None:
        """End a span; ``clean=False`` when the caller made ``attrs`` storable already."""
        with internal_errors("producer.span_end") as caught:
            try:
                if attrs:
                    span.set_attributes(clean_attributes(attrs) if clean else attrs)
                if error:
                    span.set_status(Status(StatusCode.ERROR, redact_text(error)[:200]))
                span.end()
            except OSError:
                self._storage_error("span end")
        if caught.error is not None:
            self.stats["storage_errors"] += 1

    def _storage_error(self, what: str) -> None:
        """Storage trouble (an ``OSError``) on the way to the store: counted, logged, not raised.

        Any other exception there is an internal error (:mod:`otel_obs._internal_errors`),
        counted in ``storage_errors`` too."""
        self.stats["storage_errors"] += 1
        logger.warning("observability %s failed; continuing", what, exc_info=True)


# ----------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------


#: The longest message an unbalanced call writes (it quotes the caller's values).
MESSAGE_MAX = 500


def _capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@functools.lru_cache(maxsize=1024)
def _span_name(name: str) -> str:
    """``name`` redacted; cached, since tool span names repeat on every tool use."""
    return redact_text(name)


def coerce_entry(entry: TranscriptEntry | Mapping[str, Any]) -> TranscriptEntry:
    """A validated ``TranscriptEntry`` from an entry or a plain mapping."""
    if isinstance(entry, TranscriptEntry):
        return entry
    if isinstance(entry, Mapping):
        return TranscriptEntry.model_validate(dict(entry))
    raise ValueError(
        "entry must be a TranscriptEntry or a mapping, "
        f"got {type(entry).__name__}: {_capped(repr(entry), 200)}"
    )


def _phase_name(entry: TranscriptEntry) -> str:
    return str(entry.details.get("phase") or "")


def _skill_ref_json(entry: TranscriptEntry) -> str | None:
    if entry.skill_ref is None:
        return None
    return entry.skill_ref.model_dump_json()


def _entry_attrs(
    entry: TranscriptEntry | None,
    entry_id: str,
    entry_type: str,
    summary: str,
    details: Mapping[str, Any] | None,
    *,
    end: bool = False,
) -> Attributes:
    """:func:`entry_attributes` with the category, skill reference, token estimate and
    duration the written ``entry`` carries (none without one)."""
    if entry is None:
        return entry_attributes(entry_id, entry_type, summary, details, end=end)
    return entry_attributes(
        entry_id,
        entry_type,
        summary,
        details,
        category=entry.category,
        skill_ref_json=_skill_ref_json(entry),
        token_estimate=entry.token_estimate,
        duration_ms=entry.duration_ms,
        end=end,
    )


def _guarded(fn: Callable[[Frame], None], frame: Frame) -> None:
    with internal_errors(f"producer.close_{frame.kind}"):
        fn(frame)


def _parent_context() -> Context:
    """The current context, joined to the trace in ``TRACEPARENT``/``BAGGAGE`` when set."""
    carrier = {k.lower(): os.environ[k] for k in _PROPAGATION_ENV if os.environ.get(k)}
    current = otel_context.get_current()
    if not carrier:
        return current
    return propagate.extract(carrier, context=current)


def _baggage_str(key: str, ctx: Context) -> str | None:
    value = baggage.get_baggage(key, ctx)
    return str(value) if value not in (None, "") else None


def _baggage_int(key: str, ctx: Context) -> int | None:
    value = _baggage_str(key, ctx)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        logger.warning("ignoring baggage %s=%r: not an integer", key, value)
        return None
