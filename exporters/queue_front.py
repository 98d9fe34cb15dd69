"""The agent side every store shares: a bounded queue of items in front of one consumer.

:class:`.thread_store.ThreadStore` (its consumer thread writes through a
:class:`.writer.StoreWriter`) and :class:`.process_store.ProcessStore` (its
consumer ships to a writer process) differ only behind the queue. What an
agent thread does — append an item (:mod:`.items`), wake the consumer, wait a
bounded time for room in a full queue, count what it had to drop, let a tool's
end join its start while the start still waits — is this one class, so the two
cannot drift apart.

A store can hand its items to another: a writer process that failed hands
them to a store in this process, and a store in a forked child to a store of
the child's own. Which store takes over is not this module's choice (nor the
stores'): the code that wires stores up passes a ``replacement`` factory
(see :mod:`.store_choice`), so no store module imports another.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from otel_obs import settings
from otel_obs._internal_errors import internal_errors
from otel_obs.store_location import StoreArg, store_location

from ._sdk_access import events_of
from .items import Item, Op, OpenStart, claim
from .mapping import Rows
from .span_record import Recorder

logger = logging.getLogger(__name__)

#: Why a store is replaced: its writer process failed, or the process forked.
Reason = Literal["failed", "fork"]
#: Makes the store that takes over from another (see the module docstring).
Replacement = Callable[[Reason], "QueueFront"]


class QueueFront:
    """A bounded queue, the events that wake its consumer and its waiters, and the puts.

    A subclass calls :meth:`_init_queue` first and starts ``self._thread``
    (the consumer), which takes items off ``self._queue`` (through
    :meth:`_take`), and runs while ``self._stopping`` is false or items remain.

    A process that forks keeps its stores, but not their consumer threads: in
    the child, a store lets go of what belongs to the parent
    (:meth:`_drop_inherited`) and, the first time something is put into it,
    hands over to a replacement made for the child.
    """

    _thread: threading.Thread
    _stats: dict[str, Any]

    def _init_queue(
        self,
        db_path: StoreArg,
        transcripts_dir: str | os.PathLike[str],
        given: Mapping[str, Any],
        *,
        wake_items: int | None,
        replacement: Replacement | None,
    ) -> None:
        """Check the settings and set up the queue.

        The consumer is woken once ``wake_items`` wait (None: a full batch), else
        every flush interval.

        ``given``: the store settings passed in (None for the variable or the
        default, see :func:`otel_obs.settings.store_settings`); resolved, they
        are kept in ``settings`` with the paths, for a replacement to reuse.
        """
        self.settings: dict[str, int] = settings.store_settings(**given)  # raises naming a bad one
        self.db_path = store_location(db_path, "db_path")
        self.transcripts_dir = Path(transcripts_dir)
        self._interval_s = self.settings["flush_interval_ms"] / 1000
        self._capacity = self.settings["queue_capacity"]
        self._batch_items = self.settings["batch_items"]
        self._wake_items = min(wake_items or self._batch_items, self._batch_items)
        self._block_timeout_s = self.settings["block_timeout_ms"] / 1000
        self._replacement = replacement
        self._queue: collections.deque[Any] = collections.deque()
        self._wake = threading.Event()
        #: Set by the consumer each time it takes items off the queue (room for waiters).
        self._room = threading.Event()
        self._stopping = False
        self._closed = False
        self._close_lock = threading.Lock()
        self._warned: set[str] = set()
        #: Tool spans whose start item is still queued, by span id (see put_start).
        self._open_starts: dict[int, OpenStart] = {}
        self._recorder = Recorder()
        self._open_lock = threading.Lock()
        self._fork_pending = False
        #: Set when a wait for room ran out: until the consumer takes items again,
        #: a full queue drops at once instead of making every put wait its time.
        self._starved = False
        #: The store that takes this one's items from now on (see the module docstring).
        self._delegate: QueueFront | None = None
        _LIVE.add(self)

    @staticmethod
    def _queue_stats() -> dict[str, Any]:
        """The counters the puts keep, at zero (part of each store's ``stats``)."""
        return {
            "queue_overflow": 0,
            "queue_waits": 0,
            "queue_wait_s": 0.0,
            "after_close": 0,
            "lost_items": 0,
        }

    # ------------------------------------------------------------------
    # puts
    # ------------------------------------------------------------------

    def put(self, item: Item, block: bool = False) -> bool:
        """Queue ``item`` for the consumer; False when it was dropped (counted).

        A full queue makes the caller wait for room — up to ``block_timeout_ms``,
        or for as long as the consumer lives with ``block`` (the batch/replay
        path) — and only then drops the item. Waiting slows a producer that
        outruns the disk instead of losing its work; the bound keeps a stuck
        disk from hanging the agent.
        """
        if self._stopping or self._delegate is not None:
            target = self._taker()
            if target is not self:
                return self._refused() if target is None else target.put(item, block)
        return self._append(item, block)

    def put_rows(self, rows: Rows) -> bool:
        """Queue rows already mapped elsewhere (ingest, tests)."""
        return self.put((Op.ROWS, rows))

    def put_start(self, span: Any) -> bool:
        """Queue a tool span's start, which its end takes over while it waits here.

        Nearly every tool use ends before the consumer takes its start off the
        queue. Its end then turns the waiting start into one START_END item
        (:meth:`put_end`), instead of queueing a second item and leaving the
        live span in the queue until the consumer pairs them: the agent's
        finished spans are freed at once, which spares the cyclic collector
        (and the consumer) half the items. Same rows, same order: the item
        keeps the start's place.
        """
        if self._stopping or self._delegate is not None:
            target = self._taker()
            if target is not self:
                return self._refused() if target is None else target.put_start(span)
        span_id = span.context.span_id
        item = OpenStart(span, span_id)
        # Listed before it is queued: the consumer may take it at once. Queued
        # here even if another store takes over meanwhile: only this queue's
        # consumer claims what this list holds (and hands it over).
        self._open_starts[span_id] = item
        if self._append(item):
            return True
        self._open_starts.pop(span_id, None)
        return False

    def put_end(self, span: Any) -> bool:
        """Queue a span's end; a tool span whose start still waits takes its place instead.

        The start is looked for here first, even when another store has taken
        over: this queue's consumer hands the joined item over with the rest.
        """
        if self._join_start(span):
            return True
        if self._stopping or self._delegate is not None:
            target = self._taker()
            if target is not self:
                return self._refused() if target is None else target.put_end(span)
        return self._append((Op.END, span))

    def _append(self, item: Any, block: bool = False) -> bool:
        """Append ``item`` to this store's own queue (waiting for room, see :meth:`put`)."""
        queue = self._queue
        if len(queue) >= self._capacity and not self._wait_for_room(block):
            self._stats["queue_overflow"] += 1
            self._warn_once(
                "queue_overflow", "store queue full (%d items); dropping", self._capacity
            )
            return False
        queue.append(item)
        if len(queue) >= self._wake_items and not self._wake.is_set():
            self._wake.set()
        return True

    def _join_start(self, span: Any) -> bool:
        """Turn the span's start, still queued, into START_END; False if it is not queued."""
        if not self._open_starts:
            return False
        context = span.context
        if context is None or events_of(span):
            return False  # events: its end adds entries, which belong at the end's place
        with self._open_lock:
            item = self._open_starts.pop(context.span_id, None)
            if item is None:
                return False
            item.op = Op.START_END
            item.payload = self._joined(span)
            return True

    def _joined(self, span: Any) -> Any:
        """What a START_END item holds of its ended span: a snapshot, taken now.

        Taken on the agent's thread when the tool ends, not by the consumer
        later: the same work, but the ended span and the SDK objects it holds
        (some ten the cyclic collector tracks) are freed at once instead of
        waiting in the queue, where each collection would walk them and
        promote them to the oldest generation. A thread store keeps a
        :class:`.span_record.SpanRecord` (what its mapping reads); a process
        store the wire tuple it sends.
        """
        return self._recorder.snapshot(span)

    def _take(self, limit: int) -> list[Item]:
        """Up to ``limit`` items off the queue, claimed: no tool end can change them any more."""
        queue = self._queue
        popleft = queue.popleft
        items: list[Any] = []
        while queue and len(items) < limit:
            items.append(popleft())
        self._starved = False
        self._room.set()
        with self._open_lock:
            return claim(items, self._open_starts)

    # ------------------------------------------------------------------
    # hand-over: a replacement takes this store's items
    # ------------------------------------------------------------------

    def _make_replacement(self, reason: Reason) -> QueueFront | None:
        """The store that takes over for ``reason``, made by the replacement factory.

        Not yet in use: the caller hands it what it must write first, then
        sets it as ``_delegate``, so no later put can overtake those items.
        Without a factory, or when it fails, nothing takes over (logged).
        """
        if self._replacement is None:
            logger.warning("otel-obs store: nothing takes over (%s); items are dropped", reason)
            return None
        with internal_errors("store.replacement"):  # storage trouble never reaches the agent
            return self._replacement(reason)
        return None

    def _forked(self) -> None:
        """In a forked child: drop the parent's items and resources; hand over on the next put.

        Only the forking thread survives a fork, so the consumer is gone and
        any lock it held stays held: nothing inherited is waited on. A store
        closed before the fork stays closed.
        """
        if self._closed:
            return
        self._queue = collections.deque()  # the parent writes these
        self._open_starts = {}
        self._open_lock = threading.Lock()
        self._fork_lock = threading.Lock()
        self._fork_pending = True
        self._stopping = True  # the puts take their slow path, where the hand-over happens
        self._drop_inherited()

    def _taker(self) -> QueueFront | None:
        """Who takes what is put into this store: its replacement, itself, or nobody (closed)."""
        if self._delegate is not None:
            return self._delegate
        if self._fork_pending:
            with self._fork_lock:
                if self._fork_pending:
                    self._fork_pending = False
                    self._delegate = self._make_replacement("fork")
                    if self._delegate is not None:
                        _close_at_child_exit(self)
        if self._delegate is not None:
            return self._delegate
        return None if self._stopping else self

    def _refused(self) -> bool:
        """Count an item put after close (it is dropped)."""
        self._stats["after_close"] += 1
        return False

    def _drop_inherited(self) -> None:
        """Let go of the parent's resources without closing what the parent still uses."""
        raise NotImplementedError

    # The rest of a store's interface, which each kind implements.

    def flush(self, timeout_s: float = 30.0) -> bool:
        raise NotImplementedError

    def close(self, timeout_s: float | None = None) -> bool:
        """Flush and stop, waiting ``timeout_s`` in all (default: ``shutdown_timeout_ms``).

        Safe to call twice; False when what was queued could not all be written in time.
        """
        with self._close_lock:
            if self._closed:
                return True
            self._closed = True
        atexit.unregister(self.close)
        if timeout_s is None:
            timeout_s = self.settings["shutdown_timeout_ms"] / 1000
        return self._close(timeout_s)

    def _close(self, timeout_s: float) -> bool:
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        raise NotImplementedError

    def _wait_for_room(self, forever: bool) -> bool:
        """Wait until the queue has room; False when the wait ran out (or cannot succeed).

        Only one wait runs out while the consumer makes no progress (a hung
        disk): after it, a full queue drops at once until the consumer takes
        items again, so a stuck store costs the agent one timeout, not one per call.
        """
        if (self._closed or self._starved) and not forever:
            return False
        timeout = self._block_timeout_s
        if timeout <= 0 and not forever:
            return False
        started = time.monotonic()
        deadline = started + timeout
        queue, room, capacity = self._queue, self._room, self._capacity
        self._stats["queue_waits"] += 1
        try:
            while len(queue) >= capacity:
                if self._delegate is not None:
                    return True  # put() goes on into the store that took over
                if not self._thread.is_alive() or self._stopping:
                    return False
                room.clear()
                self._wake.set()
                if len(queue) < capacity:
                    break
                left = deadline - time.monotonic()
                if not forever and left <= 0:
                    self._starved = True
                    return False
                room.wait(0.05 if forever else min(left, 0.05))
            return True
        finally:
            self._stats["queue_wait_s"] += time.monotonic() - started

    @property
    def closed(self) -> bool:
        return self._closed

    def _warn_once(self, kind: str, message: str, *args: Any) -> None:
        if kind in self._warned:
            return
        self._warned.add(kind)
        logger.warning(message, *args)


#: Every store of this process, so that a forked child can start each over.
_LIVE: weakref.WeakSet[QueueFront] = weakref.WeakSet()


def _close_at_child_exit(store: QueueFront) -> None:
    """Close ``store`` when this forked child exits, multiprocessing's way included.

    A multiprocessing child started by fork leaves through ``os._exit``, which
    runs no ``atexit`` handler (the store registers one); multiprocessing's own
    finalizers do run, so the store registers there too (closing is idempotent).
    """
    from multiprocessing import util

    util.Finalize(None, store.close, exitpriority=0)


def _after_fork_in_child() -> None:
    for store in list(_LIVE):
        store._forked()  # noqa: SLF001 - the stores' own fork hook


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


__all__ = ["QueueFront", "Reason", "Replacement"]
