"""The runtime the four producers share: open spans, frames, tool uses, storage trouble.

Private. :class:`~otel_obs.transcript_writer.TranscriptWriter` is the spec's
API (``write``, ``flush``, ``close``, and the ``task``/``phase`` context
managers); underneath, each writer owns one :class:`ProducerRuntime`, and the
other producers (:class:`~otel_obs.tool_use_logger.ToolUseLogger`,
:class:`~otel_obs.skill_tracer.SkillTracer`,
:class:`~otel_obs.assertion_recorder.AssertionRecorder`, the instrumentation)
drive it through the writer's ``_runtime``, bound once when they are made.

The runtime holds the agent span, the :class:`~otel_obs.span_stack.SpanStack`
of open spans (phases, tasks, skills, assertion chains) and open tool uses,
starts and ends spans (storage trouble counted and logged, never raised),
records unbalanced calls as ``error`` entries, drops calls after ``close()``,
and at ``close()`` ends whatever is still open, innermost first.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from . import conventions as c
from ._internal_errors import internal_errors, swallowed
from .checks import FileSnapshot
from .otel.prepared_attributes import set_prepared, start_prepared
from .pipeline import Pipeline
from .redaction import DETAILS_CAP, clean_attributes, redact_text, safe_json
from .span_stack import Frame, SpanStack, State

#: The writer's logger: what the runtime logs, it logs for the writer.
logger = logging.getLogger("otel_obs.transcript_writer")

Attributes = dict[str, AttributeValue]

#: The value types the SDK stores as they are (see State.plain).
_PLAIN = frozenset({str, bool, int, float})


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


class ProducerRuntime:
    """The spans of one agent instance and the operations the producers perform on them.

    It starts the ``invoke_agent {instance_id}`` span at construction;
    ``base_attrs`` (execution, instance, wave, task list) go on every span.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        root_context: Context,
        instance_id: str,
        base_attrs: Attributes,
    ) -> None:
        self.pipeline = pipeline
        self.instance_id = instance_id
        self._tracer = pipeline.tracer
        self._root_context = root_context
        self.lock = threading.RLock()
        #: Final status of every task this writer ended, by task id.
        self.task_outcomes: dict[str, str] = {}
        self.closed = False
        self.stats = {"storage_errors": 0, "unbalanced": 0, "dropped_after_close": 0}
        self._base_attrs = clean_attributes(base_attrs)  # every span carries them: fixed once
        attrs: Attributes = dict(base_attrs)
        attrs.update(
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
            c.span_name(c.KIND_AGENT, instance_id), root_context, attrs
        )
        self._spans = SpanStack(self._state_under(self._agent_span, None, None))

    # ------------------------------------------------------------------
    # Where new spans go
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
    def open_tools(self) -> dict[str, Frame]:
        """A copy of the open tool uses by id (for inspection; changing it changes nothing)."""
        return self._spans.tools()

    def state(self) -> State:
        """Parent context and context attributes for a new span (lock-free read)."""
        return self._spans.state()

    # ------------------------------------------------------------------
    # Tool uses
    # ------------------------------------------------------------------

    def open_tool(self, frame: Frame) -> bool:
        """Track an open tool use; False when a tool use with its id is already open."""
        return self._spans.add_tool(frame)

    def tool_is_open(self, tool_use_id: str) -> bool:
        return self._spans.has_tool(tool_use_id)

    def pop_tool(self, tool_use_id: str) -> Frame | None:
        """Stop tracking the tool use ``tool_use_id`` and return it (None when not open)."""
        return self._spans.pop_tool(tool_use_id)

    # ------------------------------------------------------------------
    # Frames: phases, tasks, skills, assertion chains
    # ------------------------------------------------------------------

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
        with self.lock:
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
        with self.lock:
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
    # Events and error entries
    # ------------------------------------------------------------------

    def add_event(self, span: Span, name: str, attributes: Attributes) -> None:
        """Add an event through the pipeline; storage trouble is logged, never raised."""
        if self.closed:
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
        if self.closed:
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

    def drop_after_close(self, what: str) -> str:
        """Count a producer call made after close() (logged the first time); return a fresh id.

        Every producer treats a call after close() alike: nothing is written,
        nothing raises, ``stats["dropped_after_close"]`` counts it.
        """
        with self.lock:
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
    # flush() and close()
    # ------------------------------------------------------------------

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

    def close(self, status: str | None, error: str | None) -> None:
        """End the open tool uses and frames (each by its ``on_close``), then the agent span
        (``status``, else ``terminated`` if anything was open, else ``completed``); flush."""
        with self.lock:
            if self.closed:
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
            self.closed = True
            final = status or ("terminated" if open_work else "completed")
            attrs: Attributes = {c.AGENT_STATUS: final}
            if error:
                attrs[c.AGENT_ERROR] = redact_text(error)
            elif open_work:
                attrs[c.AGENT_ERROR] = "closed with work still open"
            self.end_span(self._agent_span, attrs, error if final == "failed" else None)
        self.flush()

    # ------------------------------------------------------------------
    # Spans
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
        clean_attributes(attrs)
        plain = all(type(value) in _PLAIN for value in attrs.values())
        return State(ctx, span, attrs, task_id, skill_id, plain)

    def start_span(
        self,
        name: str,
        ctx: Context,
        attrs: Attributes,
        *,
        clean: bool = True,
        plain: bool = False,
    ) -> Span:
        """Start a span; ``clean=False`` when the caller made ``attrs`` storable already.

        ``plain``: besides, every value is a ``str``, ``bool``, ``int`` or ``float``, and
        the SDK need not check them again (:mod:`otel_obs.otel.prepared_attributes`).
        """
        # A try, not ``with internal_errors``: free when nothing goes wrong (every tool use).
        try:
            if plain:
                return start_prepared(self._tracer, _span_name(name), ctx, attrs)
            return self._tracer.start_span(
                _span_name(name),
                context=ctx,
                attributes=clean_attributes(attrs) if clean else attrs,
            )
        except OSError:
            self._storage_error("span start")
            return trace.INVALID_SPAN
        except Exception as exc:
            if not swallowed("producer.span_start", exc):
                raise
        self.stats["storage_errors"] += 1
        return trace.INVALID_SPAN

    def end_span(
        self,
        span: Span,
        attrs: Attributes,
        error: str | None = None,
        *,
        clean: bool = True,
        plain: bool = False,
    ) -> None:
        """End a span; ``clean=False`` when the caller made ``attrs`` storable already,
        ``plain`` when besides every value is a ``str``, ``bool``, ``int`` or ``float``."""
        try:  # not ``with internal_errors``, as in start_span
            if plain:
                set_prepared(span, attrs)
            elif attrs:
                span.set_attributes(clean_attributes(attrs) if clean else attrs)
            if error:
                span.set_status(Status(StatusCode.ERROR, redact_text(error)[:200]))
            span.end()
        except OSError:
            self._storage_error("span end")
        except Exception as exc:
            if not swallowed("producer.span_end", exc):
                raise
            self.stats["storage_errors"] += 1

    def _storage_error(self, what: str) -> None:
        """Storage trouble (an ``OSError``) on the way to the store: counted, logged, not raised.

        Any other exception there is an internal error (:mod:`otel_obs._internal_errors`),
        counted in ``storage_errors`` too."""
        self.stats["storage_errors"] += 1
        logger.warning("observability %s failed; continuing", what, exc_info=True)


#: The longest message an unbalanced call writes (it quotes the caller's values).
MESSAGE_MAX = 500


def _capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@functools.lru_cache(maxsize=1024)
def _span_name(name: str) -> str:
    """``name`` redacted; cached, since tool span names repeat on every tool use."""
    return redact_text(name)


def _guarded(fn: Callable[[Frame], None], frame: Frame) -> None:
    with internal_errors(f"producer.close_{frame.kind}"):
        fn(frame)
