"""TranscriptWriter: the unified transcript of one worker, as OpenTelemetry spans.

One writer per worker process (or per agent instance). At construction it
starts the ``invoke_agent {instance_id}`` span; every transcript entry then
becomes either a span (``phase_start``/``phase_end``, ``task_start``/``task_end``
open and close ``phase …`` and ``task …`` spans) or an ``obs.<entry_type>``
event on the innermost open span. The transcript processor maps those spans
and events into SQLite and JSONL; the writer never touches the store itself.

Nesting. The writer keeps its open spans (phases, tasks, and the skill and
assertion-chain spans the other producers open through it) in a
:class:`~otel_obs.span_stack.SpanStack`, in the runtime the producers share
(:mod:`otel_obs._producer_runtime`, private). New spans are parented to the
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

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry import baggage, propagate
from opentelemetry import context as otel_context
from opentelemetry.context import Context

from . import conventions as c
from ._producer_runtime import Attributes, ProducerRuntime, _capped, entry_attributes, new_id
from .checks import snapshot_file
from .models import TranscriptEntry
from .pipeline import Pipeline
from .redaction import redact_text
from .secret_rules import current_rules
from .span_stack import Frame

logger = logging.getLogger(__name__)

_PROPAGATION_ENV = ("TRACEPARENT", "TRACESTATE", "BAGGAGE")

CLOSED_TASK_ERROR = "closed by close() before task_end"
CLOSED_SKILL_ERROR = "closed by close() before trace_end"
CLOSED_TOOL_ERROR = "closed by close() before log_end"


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
                db_path=db_path,
                transcripts_dir=Path(transcripts_dir) if transcripts_dir is not None else None,
            )
        root_context = _parent_context()

        execution_id = execution_id or _baggage_str(c.EXECUTION_ID, root_context)
        if not execution_id:
            raise ValueError(
                "execution_id must be given, or set as W3C baggage "
                f"{c.EXECUTION_ID!r} by the orchestrator; got {execution_id!r}"
            )
        if wave_number is None:
            wave_number = _baggage_int(c.WAVE_NUMBER, root_context)
        if task_list_id is None:
            task_list_id = _baggage_str(c.TASK_LIST_ID, root_context)

        self.execution_id: str = execution_id
        self.instance_id: str = instance_id
        self.wave_number: int | None = wave_number
        self.task_list_id: str | None = task_list_id
        #: Where the spans go.
        self.pipeline = pipeline

        base: Attributes = {c.EXECUTION_ID: execution_id, c.INSTANCE_ID: instance_id}
        if wave_number is not None:
            base[c.WAVE_NUMBER] = wave_number
        if task_list_id is not None:
            base[c.TASK_LIST_ID] = task_list_id
        #: The runtime the producers share (private): open spans, tool uses, span start/end.
        self._runtime = ProducerRuntime(pipeline, root_context, instance_id, base)
        #: Counts of what never reached the agent: ``storage_errors``, ``unbalanced``
        #: calls, calls ``dropped_after_close``.
        self.stats: dict[str, int] = self._runtime.stats

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
        rt = self._runtime
        with rt.lock:
            if rt.closed:
                return rt.drop_after_close(f"{entry.entry_type} entry")
            handler = self._LIFECYCLE.get(entry.entry_type)
            if handler is not None:
                return handler(self, entry)
            return self._write_event(entry)

    def flush(self) -> None:
        """Return once everything written so far is in SQLite and JSONL."""
        self._runtime.flush()

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
            if self._runtime.find_frame(kind, key) is not None:
                self.write(end(f"{type(exc).__name__}: {exc}"))
            raise
        if self._runtime.find_frame(kind, key) is not None:
            self.write(end(None))

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
        self._runtime.open_frame(
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
        frame = self._runtime.find_frame(c.KIND_PHASE, name or None)
        if frame is None:
            return self._runtime.record_unbalanced(
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
        self._runtime.close_frame(frame, attrs, error=str(error) if error else None)
        return entry_id

    def _task_start(self, entry: TranscriptEntry) -> str:
        task_id = entry.task_id
        if not task_id:
            raise ValueError("task_start needs a task_id")
        if self._runtime.find_frame(c.KIND_TASK, task_id) is not None:
            return self._runtime.record_unbalanced(
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
        frame = self._runtime.open_frame(
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
        frame = self._runtime.find_frame(c.KIND_TASK, task_id)
        if frame is None:
            return self._runtime.record_unbalanced(
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
        self._runtime.task_outcomes[frame.key] = status
        self._runtime.close_frame(frame, attrs, error=error if status == "failed" else None)
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
        st = self._runtime.state()
        task = entry.task_id or st.task_id
        if task is not None:
            attrs[c.TASK_ID] = task
        correlation = entry.details.get("correlation_id")
        if correlation is not None:
            attrs[c.CORRELATION_ID] = str(correlation)
        self._runtime.add_event(st.span, c.EVENT_PREFIX + entry.entry_type, attrs)
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
        self._runtime.close_frame(frame, attrs)

    def _close(self, status: str | None, error: str | None) -> None:
        self._runtime.close(status, error)


# ----------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------


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
