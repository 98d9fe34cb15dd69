"""The agent side every store shares: a bounded queue in front of one consumer thread.

:class:`.store.Store` (its consumer maps and writes) and
:class:`.writer_process.ProcessStore` (its consumer ships to a writer process)
differ only behind the queue. What an agent thread does — validate the
settings once, append, wake the consumer, wait a bounded time for room in a
full queue, count what it had to drop, let a tool's end join its start while
the start still waits, start over in a forked child — is this one class, so
the two cannot drift apart.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from .mapping import Rows, map_span_finished, map_span_start, map_span_start_end
from .span_record import Recorder, events_of

logger = logging.getLogger(__name__)

#: A queued item: a mapping function and its leading arguments; the writer
#: calls ``item[0](*item[1:], rows)``.
Item = tuple[Any, ...]

_POSITIVE_SETTINGS = ("flush_interval_ms", "queue_capacity", "batch_items", "busy_timeout_ms")


def check_settings(settings: dict[str, Any]) -> None:
    """Raise ValueError for a setting that is not a positive integer.

    ``block_timeout_ms`` may also be 0 (drop at once when the queue is full).
    """
    for name in _POSITIVE_SETTINGS:
        value = settings[name]
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    block = settings["block_timeout_ms"]
    if not isinstance(block, int) or isinstance(block, bool) or block < 0:
        raise ValueError(f"block_timeout_ms must be a non-negative integer, got {block!r}")


class QueueFront:
    """A bounded queue, the events that wake its consumer and its waiters, and ``put``.

    A subclass calls :meth:`_init_queue` first and starts ``self._thread``
    (the consumer), which takes items off ``self._queue``, sets
    ``self._room`` each time it does, and runs while ``self._stopping`` is
    false or items remain.

    A process that forks keeps its stores, but not their consumer threads: in
    the child, a store starts over (its own consumer, its own writer process)
    the first time something is put into it, and lets go of what belongs to
    the parent (see :meth:`_forked`). A subclass implements
    :meth:`_drop_inherited` and :meth:`_restart`.
    """

    _thread: threading.Thread

    def _init_queue(
        self,
        db_path: str | os.PathLike[str],
        transcripts_dir: str | os.PathLike[str],
        *,
        flush_interval_ms: int,
        queue_capacity: int,
        batch_items: int,
        busy_timeout_ms: int,
        block_timeout_ms: int,
        wake_items: int,
    ) -> None:
        """Check the settings and set up the queue; the consumer wakes at ``wake_items``.

        The paths and settings are kept (``db_path``, ``transcripts_dir``,
        ``_settings``): a store that takes over, or starts over after a fork,
        is made with the same ones.
        """
        self._settings: dict[str, int] = {
            "flush_interval_ms": flush_interval_ms,
            "queue_capacity": queue_capacity,
            "batch_items": batch_items,
            "busy_timeout_ms": busy_timeout_ms,
            "block_timeout_ms": block_timeout_ms,
        }
        check_settings(self._settings)
        self.db_path = Path(db_path)
        self.transcripts_dir = Path(transcripts_dir)
        self._interval_s = flush_interval_ms / 1000
        self._capacity = queue_capacity
        self._batch_items = batch_items
        self._wake_items = min(wake_items, batch_items)
        self._block_timeout_s = block_timeout_ms / 1000
        self._queue: collections.deque[Any] = collections.deque()
        self._wake = threading.Event()
        #: Set by the consumer each time it takes items off the queue (room for waiters).
        self._room = threading.Event()
        self._stopping = False
        self._closed = False
        self._close_lock = threading.Lock()
        self._warned: set[str] = set()
        #: Tool spans whose start item is still queued, by span id (see put_start).
        self._open_starts: dict[int, list[Any]] = {}
        self._recorder = Recorder()
        self._open_lock = threading.Lock()
        self._fork_pending = False
        #: The store that takes this one's items from now on: a writer process's
        #: fallback, or the store made after a fork (see _restart).
        self._delegate: QueueFront | None = None
        _LIVE.add(self)

    @staticmethod
    def _queue_stats() -> dict[str, Any]:
        """The counters ``put`` keeps, at zero (part of each store's ``stats``)."""
        return {"queue_overflow": 0, "queue_waits": 0, "queue_wait_s": 0.0, "after_close": 0}

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

    def put_start(self, span: Any) -> bool:
        """Queue a tool span's start, which its end takes over while it waits here.

        Nearly every tool use ends before the consumer takes its start off the
        queue. Its end then turns the waiting start into one start-and-end
        item (:meth:`put_end`), instead of queueing a second item and leaving
        the live span in the queue until the consumer pairs them: the agent's
        finished spans are freed at once, which spares the cyclic collector
        (and the consumer) half the items. Same rows, same order: the item
        keeps the start's place, as :func:`.store.coalesce` does.
        """
        if self._stopping or self._delegate is not None:
            target = self._taker()
            if target is not self:
                return self._refused() if target is None else target.put_start(span)
        span_id = span.context.span_id
        item = [map_span_start, span, span_id]
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
        return self._append((map_span_finished, span))

    def _join_start(self, span: Any) -> bool:
        """Turn the span's start, still queued, into its start and end; False if it is not."""
        if not self._open_starts:
            return False
        context = span.context
        if context is None or events_of(span):
            return False  # events: its end adds entries, which belong at the end's place
        with self._open_lock:
            item = self._open_starts.pop(context.span_id, None)
            if item is None:
                return False
            item[0] = map_span_start_end
            item[1] = self._joined(span)
            return True

    def _joined(self, span: Any) -> Any:
        """What a joined item holds of its ended span: a snapshot, taken now.

        Taken on the agent's thread when the tool ends, not by the consumer
        later: the same work, but the ended span and the SDK objects it holds
        (some ten the cyclic collector tracks) are freed at once instead of
        waiting in the queue, where each collection would walk them and
        promote them to the oldest generation. ``Store`` keeps a
        :class:`.span_record.SpanRecord` (what its mapping reads);
        ``ProcessStore`` the wire tuple it sends.
        """
        return self._recorder.snapshot(span)

    def _claim(self, items: list[Any]) -> list[Any]:
        """``items``, just taken off the queue, as plain items no end can change any more."""
        out = []
        with self._open_lock:
            forget = self._open_starts.pop
            for item in items:
                if type(item) is list:
                    forget(item[2], None)
                    item = (item[0], item[1])
                out.append(item)
        return out

    # ------------------------------------------------------------------
    # fork
    # ------------------------------------------------------------------

    def _forked(self) -> None:
        """In a forked child: drop the parent's items and resources; start over on the next put.

        Only the forking thread survives a fork, so the consumer is gone and
        any lock it held stays held: nothing inherited is waited on. A store
        closed before the fork stays closed.
        """
        if self._closed:
            return
        self._queue = collections.deque()  # the parent writes these
        self._open_starts = {}
        self._fork_lock = threading.Lock()
        self._fork_pending = True
        self._stopping = True  # put() takes its slow path, where the store restarts
        self._drop_inherited()

    def _taker(self) -> QueueFront | None:
        """Who takes what is put into this store: the store it hands items to (a
        writer process's fallback, or one made after a fork, see ``_restart``);
        itself, running or restarted after a fork; or nobody (closed)."""
        if self._delegate is not None:
            return self._delegate
        if self._fork_pending:
            with self._fork_lock:
                if self._fork_pending:
                    self._fork_pending = False
                    try:
                        self._restart()
                        _close_at_child_exit(self)
                    except Exception:  # pragma: no cover - storage trouble never reaches the agent
                        logger.exception("otel-obs store: could not start over after a fork")
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

    def _restart(self) -> None:
        """Set this store up afresh in this process, or set ``_delegate`` to one that is."""
        raise NotImplementedError

    def put_rows(self, rows: Rows) -> bool:
        """Queue rows already mapped elsewhere (OTLP ingest, tests)."""
        return self.put((merge_rows, rows))

    def _handed_over(self) -> bool:
        """True once another store has taken over this one's items (``put`` goes there)."""
        return self._delegate is not None

    # The rest of a store's interface, which each kind implements.

    def flush(self, timeout_s: float = 30.0) -> bool:
        raise NotImplementedError

    def close(self, timeout_s: float = 30.0) -> bool:
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        raise NotImplementedError

    def _wait_for_room(self, forever: bool) -> bool:
        """Wait until the queue has room; False when the wait ran out (or cannot succeed)."""
        if self._closed and not forever:
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
                if self._handed_over():
                    return True  # put() goes on into the store that took over
                if not self._thread.is_alive() or self._stopping:
                    return False
                room.clear()
                self._wake.set()
                if len(queue) < capacity:
                    break
                left = deadline - time.monotonic()
                if not forever and left <= 0:
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

    _stats: dict[str, Any]


#: Every store of this process, so that a forked child can start each over.
_LIVE: weakref.WeakSet[QueueFront] = weakref.WeakSet()
#: What a forked child holds of its parent's and must never close: an SQLite
#: connection closed in a child can checkpoint and remove the WAL its parent
#: is still writing (https://www.sqlite.org/howtocorrupt.html, section 2.6).
FORK_ORPHANS: list[Any] = []


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


def merge_rows(rows: Rows, into: Rows) -> None:
    """The mapping function of a :meth:`QueueFront.put_rows` item."""
    into.merge(rows)


__all__ = ["FORK_ORPHANS", "Item", "QueueFront", "check_settings", "merge_rows"]
