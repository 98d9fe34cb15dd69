"""The store queue's items: what each operation is, and the one place that maps it into rows.

An item is a tuple whose first element is an :class:`Op` and whose rest are
that operation's arguments:

=================  ============================================  ==========================
op                 arguments                                     mapped by
=================  ============================================  ==========================
``START``          span                                          ``map_span_start``
``END``            span (its events too)                         ``map_span_finished``
``START_END``      snapshot of a tool span that ended while its  ``map_tool_start_end``
                   start still waited in the queue
``EVENT``          span, name, attributes, timestamp (ns)        ``map_event``
``SPAN``           finished span, mapped whole (exporter path)   ``map_span``
``ROWS``           :class:`.mapping.Rows` mapped elsewhere       merged as they are
``FLUSH``          :class:`FlushMarker`                          set once all before it is written
=================  ============================================  ==========================

One item is mutable: a tool span's start, queued as an :class:`OpenStart`,
which the tool's end turns into ``START_END`` while the start still waits (see
:meth:`.queue_front.QueueFront.put_end`); the consumer makes it a tuple when it
takes it (:func:`claim`). On the pipe to a writer process an item travels with
its op as a plain int (``int(op)``, see :mod:`.wire`), and :data:`OPS` turns
the int back into the op.
"""

from __future__ import annotations

import threading
from enum import IntEnum
from typing import Any

from otel_obs import conventions as c

from ._sdk_access import events_of, own_attributes
from .mapping import (
    Rows,
    map_event,
    map_span,
    map_span_finished,
    map_span_start,
    map_tool_start_end,
)
from .payloads import has_raw, settled_span

#: A queued item: ``(op, *arguments)``.
Item = tuple[Any, ...]


class Op(IntEnum):
    """What a queued item asks the writer to do (the table in the module docstring)."""

    START = 0
    END = 1
    START_END = 2
    EVENT = 3
    SPAN = 4
    ROWS = 5
    FLUSH = 6


#: An op by its int (what the wire carries).
OPS: tuple[Op, ...] = tuple(Op)


def _merge_rows(rows: Rows, into: Rows) -> None:
    into.merge(rows)


#: The mapping of each op but FLUSH, indexed by the op.
_MAPPERS: tuple[Any, ...] = (
    map_span_start,
    map_span_finished,
    map_tool_start_end,
    map_event,
    map_span,
    _merge_rows,
)


#: The ops whose second element is a span.
_SPAN_OPS = frozenset({Op.START, Op.END, Op.START_END, Op.EVENT, Op.SPAN})


def apply(item: Item, rows: Rows) -> None:
    """Map ``item`` (not a FLUSH) into ``rows``; raises what the mapping raises.

    A tool span whose payloads were left raw by the agent's thread has them
    redacted and capped here first (:mod:`otel_obs.deferred_payloads`): every
    item any store writes passes here, in the writer process or on the
    store's thread, so no row and no transcript line holds a raw payload.
    """
    op = item[0]
    if op in _SPAN_OPS and has_raw(own_attributes(item[1])):
        item = (op, settled_span(item[1]), *item[2:])
    _MAPPERS[op](*item[1:], rows)


class OpenStart:
    """A tool span's start waiting in the queue, which its end may still join.

    ``op`` is ``START`` until the end joins it (``START_END``, and ``payload``
    becomes the ended span's snapshot); ``span_id`` lists it among the starts
    an end looks for.
    """

    __slots__ = ("op", "payload", "span_id")

    def __init__(self, payload: Any, span_id: int) -> None:
        self.op = Op.START
        self.payload = payload
        self.span_id = span_id

    def item(self) -> Item:
        """The item as it stands now: ``(op, payload)``."""
        return (self.op, self.payload)


class FlushMarker:
    """A flush waiting in the queue: set once everything queued before it is written.

    ``token`` names it to a writer process, which answers each flush it reads.
    """

    __slots__ = ("event", "token")

    def __init__(self, token: int = 0) -> None:
        self.token = token
        self.event = threading.Event()

    def set(self) -> None:
        self.event.set()

    def wait(self, timeout_s: float) -> bool:
        return self.event.wait(timeout_s)


def claim(items: list[Any], open_starts: dict[int, OpenStart]) -> list[Item]:
    """``items`` just taken off the queue, as tuples no tool end can change any more.

    The caller holds the lock that :meth:`.queue_front.QueueFront.put_end` takes
    to join a start.
    """
    out: list[Item] = []
    forget = open_starts.pop
    for item in items:
        if type(item) is OpenStart:
            forget(item.span_id, None)
            item = item.item()
        out.append(item)
    return out


def coalesce(items: list[Item]) -> list[Item]:
    """``items`` with each tool span whose START and END are both here as one START_END.

    Same rows for about half the work, at the start's place: only tool spans
    without events qualify, whose end adds no transcript entry, so no sequence
    number moves. The live path mostly joins them earlier, in the queue itself
    (:meth:`.queue_front.QueueFront.put_end`); this pairs what still comes as
    two items (a start taken by a consumer that then met its end in the same
    batch, spans put directly, batches a writer process reads together).
    """
    out: list[Item] = []
    starts: dict[int, int] = {}  # span id -> the start's place in out
    for item in items:
        op = item[0]
        if op is Op.START and len(item) == 2:
            context = item[1].context
            if context is not None:
                starts[context.span_id] = len(out)
        elif op is Op.END and starts:
            context = item[1].context
            at = None if context is None else starts.pop(context.span_id, None)
            if at is not None and is_plain_tool(item[1]):
                out[at] = (Op.START_END, item[1])
                continue
        out.append(item)
    return out


def is_plain_tool(span: Any) -> bool:
    """A tool span without events: all its rows can be mapped at its start's place."""
    return not events_of(span) and own_attributes(span).get(c.KIND) == c.KIND_TOOL


__all__ = [
    "FlushMarker",
    "Item",
    "OPS",
    "Op",
    "OpenStart",
    "apply",
    "claim",
    "coalesce",
    "is_plain_tool",
]
