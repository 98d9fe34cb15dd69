"""The spans a writer holds open, and which of them new spans go under.

Kept apart from :class:`~otel_obs.transcript_writer.TranscriptWriter` so the
producers share one object with a small set of operations (open, close, find,
current) instead of reaching into the writer's fields.

Current span per thread and per asyncio task. Each thread and each asyncio
task has its own innermost open span, kept in a context variable: four
threads of one agent each inside ``with writer.task(...)`` put their tool uses
and events in their own task, and an asyncio task inherits the span that was
current where it was created, then keeps its own. A thread or asyncio task
that has opened nothing of its own (a worker pool running the agent's tool
calls, say) follows the span opened most recently by any of them.

Spans form a tree: each frame knows the frame it was opened under. A frame
ended from another thread is marked closed; the thread that opened it then
finds its nearest still-open ancestor, so an end from anywhere never leaves a
thread pointing at a finished span.

The span of a lifecycle frame is also made the OpenTelemetry current span in
the context that opened it (so other instrumentation nests under the task),
and that attachment is undone when the frame ends in the same context.
"""

from __future__ import annotations

import contextvars
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

Attributes = dict[str, AttributeValue]


@dataclass(frozen=True)
class State:
    """What a new span needs: its parent context and the context attributes it inherits."""

    context: Context
    span: Span
    attrs: Attributes
    task_id: str | None
    skill_id: str | None
    #: Whether every value of ``attrs`` is a ``str``, ``bool``, ``int`` or ``float``: the
    #: SDK would store them as they are, so a tool span may skip its check of them
    #: (see :mod:`otel_obs.otel.prepared_attributes`).
    plain: bool = False


@dataclass(eq=False, slots=True)  # slots: one is made per tool use, on the agent's thread
class Frame:
    """One open span: a phase, task, skill, chain, or tool use."""

    kind: str
    key: str  # phase name, task id, skill trace id, chain id, tool use id
    span: Span
    task_id: str | None  # the task its children belong to
    skill_id: str | None  # the innermost skill its children run in
    start_ns: int
    #: Called by close() on a frame still open: sets the kind's end attributes.
    on_close: Callable[[Frame], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: What spans opened under this one inherit (None for tool uses: nothing nests in them).
    state: State | None = None
    parent: Frame | None = None
    is_open: bool = True
    token: object | None = None
    #: A tool use started where nothing but otel-obs reads its span live: its
    #: payloads may stay raw (see :mod:`otel_obs.deferred_payloads`).
    raw: bool = False


#: Per context (thread / asyncio task): the innermost frame each stack opened there.
#: One module-level variable holding a small immutable mapping, because context
#: variables created per object are never freed while a context refers to them.
_OWN: contextvars.ContextVar[Mapping[int, Frame]] = contextvars.ContextVar(
    "otel_obs_own_frames", default=MappingProxyType({})
)
_stack_ids = itertools.count(1)


class SpanStack:
    """The open frames of one writer, with the current one per thread and asyncio task."""

    def __init__(self, root: State) -> None:
        self._id = next(_stack_ids)
        self._root = root
        self._lock = threading.RLock()
        self._open: list[Frame] = []  # in opening order, across all contexts
        self._tools: dict[str, Frame] = {}

    # ------------------------------------------------------------------
    # Reads (lock-free: the hot path asks for the state on every tool use)
    # ------------------------------------------------------------------

    def current(self) -> Frame | None:
        """The innermost open frame of this thread / asyncio task, else the latest opened."""
        frame = _OWN.get().get(self._id)
        while frame is not None and not frame.is_open:
            frame = frame.parent
        if frame is not None:
            return frame
        try:
            return self._open[-1]
        except IndexError:
            return None

    def state(self) -> State:
        """Parent context and context attributes for a new span opened here."""
        frame = self.current()
        if frame is None or frame.state is None:
            return self._root
        return frame.state

    def find(self, kind: str, key: str | None = None) -> Frame | None:
        """The innermost open frame of ``kind`` (with ``key``, when given).

        Without a key, this context's own frames are searched first, so a
        ``task_end`` without a task id ends this thread's task.
        """
        if key is None:
            frame = _OWN.get().get(self._id)
            while frame is not None:
                if frame.is_open and frame.kind == kind:
                    return frame
                frame = frame.parent
        with self._lock:
            for frame in reversed(self._open):
                if frame.kind == kind and (key is None or frame.key == key):
                    return frame
        return None

    def innermost(self) -> Frame | None:
        """The frame opened last, in any context (close() ends frames in this order)."""
        with self._lock:
            return self._open[-1] if self._open else None

    def __bool__(self) -> bool:
        return bool(self._open or self._tools)

    # ------------------------------------------------------------------
    # Lifecycle frames
    # ------------------------------------------------------------------

    def push(self, frame: Frame) -> None:
        """Open ``frame`` under this context's current one and make its span current here."""
        with self._lock:
            frame.parent = self.current()
            self._open.append(frame)
        _set_own(self._id, frame)
        if frame.state is not None:
            frame.token = otel_context.attach(frame.state.context)

    def pop(self, frame: Frame) -> list[Frame] | None:
        """Close ``frame``; return the frames opened inside it that stay open (None: not open).

        When ``frame`` was opened in this context, its OpenTelemetry current-span
        attachment is undone; frames opened inside it here are re-attached, so
        they stay current.
        """
        with self._lock:
            if not frame.is_open:
                return None
            frame.is_open = False
            self._open.remove(frame)
            inside = [f for f in self._open if _descends_from(f, frame)]
        own = _OWN.get().get(self._id)
        above: list[Frame] = []
        walk = own
        while walk is not None and walk is not frame:
            above.append(walk)
            walk = walk.parent
        if walk is frame:  # opened in this context (or inherited by it)
            still_open = [f for f in above if f.is_open]
            for f in still_open:
                _detach(f)
            _detach(frame)
            for f in reversed(still_open):
                if f.state is not None:
                    f.token = otel_context.attach(f.state.context)
            _set_own(self._id, still_open[0] if still_open else _open_ancestor(frame))
        return inside

    # ------------------------------------------------------------------
    # Tool uses (several open at once; never current). No lock: each dict
    # operation below is atomic, and these run on every tool use.
    # ------------------------------------------------------------------

    def add_tool(self, frame: Frame) -> bool:
        """Record an open tool use; False when its id is already open."""
        return self._tools.setdefault(frame.key, frame) is frame

    def has_tool(self, tool_use_id: str) -> bool:
        return tool_use_id in self._tools

    def pop_tool(self, tool_use_id: str) -> Frame | None:
        """Remove and return the open tool use ``tool_use_id`` (None when not open)."""
        frame = self._tools.pop(tool_use_id, None)
        if frame is not None:
            frame.is_open = False
        return frame

    def take_tools(self) -> Iterator[Frame]:
        """Remove and yield every open tool use (close() ends them)."""
        while True:
            try:
                _, frame = self._tools.popitem()
            except KeyError:
                return
            frame.is_open = False
            yield frame

    def tools(self) -> dict[str, Frame]:
        """A copy of the open tool uses by id."""
        return self._tools.copy()


def _descends_from(frame: Frame, ancestor: Frame) -> bool:
    walk = frame.parent
    while walk is not None:
        if walk is ancestor:
            return True
        walk = walk.parent
    return False


def _open_ancestor(frame: Frame) -> Frame | None:
    walk = frame.parent
    while walk is not None and not walk.is_open:
        walk = walk.parent
    return walk


def _set_own(stack_id: int, frame: Frame | None) -> None:
    own = dict(_OWN.get())
    if frame is None:
        own.pop(stack_id, None)
    else:
        own[stack_id] = frame
    _OWN.set(own)


def _detach(frame: Frame) -> None:
    """Undo ``frame``'s current-span attachment if it was made in this context."""
    token, frame.token = frame.token, None
    if token is None:
        return
    if isinstance(token, contextvars.Token):
        # Reset directly: a token from another context (an asyncio task that
        # inherited the frame) raises ValueError, which otel_context.detach
        # would log as an error although nothing is wrong.
        try:
            token.var.reset(token)
        except (ValueError, RuntimeError):
            pass
    else:
        otel_context.detach(token)  # type: ignore[arg-type]
