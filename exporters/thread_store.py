"""A store written by a background thread of the agent's own process.

No second process, at a cost: the store's Python work (mapping, JSONL) holds
the GIL the agent's threads need. Agent threads only append to the queue
(:class:`.queue_front.QueueFront`); the one consumer thread takes batches off
it and hands them to a :class:`.writer.StoreWriter`.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from typing import Any

from otel_obs._internal_errors import internal_errors
from otel_obs.store_location import StoreArg

from .items import FlushMarker, Op
from .queue_front import QueueFront, Replacement
from .writer import StoreWriter

logger = logging.getLogger(__name__)


class ThreadStore(QueueFront):
    """A SQLite + JSONL store fed through a queue and written by one background thread.

    ``put`` is all an agent thread ever does; it never blocks (unless asked to)
    and never raises for storage reasons. ``flush`` waits until everything put
    before it is committed to SQLite and appended to JSONL. ``settings``: the
    store settings of :data:`otel_obs.settings.STORE_SETTINGS` by name (None or
    absent: the variable, else the default).
    """

    def __init__(
        self,
        db_path: StoreArg,
        transcripts_dir: str | os.PathLike[str],
        *,
        replacement: Replacement | None = None,
        **settings: int | None,
    ) -> None:
        self._init_queue(
            db_path,
            transcripts_dir,
            settings,
            wake_items=None,
            replacement=replacement,
        )
        self.writer = StoreWriter(
            self.db_path,
            self.transcripts_dir,
            busy_timeout_ms=self.settings["busy_timeout_ms"],
            retry_window_ms=self.settings["retry_window_ms"],
        )
        self._stats: dict[str, Any] = self._queue_stats()
        self._thread = threading.Thread(
            target=self._run, name=f"otel-obs-store:{self.db_path.name}", daemon=True
        )
        self._thread.start()
        atexit.register(self.close)

    def _drop_inherited(self) -> None:
        # SQLite is not used in a forked child again: the library's state came
        # over from the parent (its record of which locks this process holds),
        # so a connection opened here can misjudge its locks. The replacement
        # (a writer process, see store_choice.py) starts clean.
        self.writer.abandon()

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything queued before this call is stored; False on timeout."""
        if self._delegate is not None:
            return self._delegate.flush(timeout_s)
        if not self._thread.is_alive():
            return not self._queue
        marker = FlushMarker()
        self._queue.append((Op.FLUSH, marker))
        self._wake.set()
        return marker.wait(timeout_s)

    def _close(self, timeout_s: float) -> bool:
        """Flush, stop the writer thread and close the database."""
        if self._delegate is not None:
            return self._delegate.close(timeout_s)
        deadline = time.monotonic() + timeout_s
        done = self.flush(timeout_s)
        self._stopping = True
        self._wake.set()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            # The writer is stuck (a hung disk): shutting down waits no longer;
            # what it still holds is lost, and counted.
            self._stats["lost_items"] += len(self._queue)
            logger.warning("otel-obs store: the writer did not finish in time; shutting down")
        return done

    def stats(self) -> dict[str, Any]:
        """Counters: what was written, what failed (by kind) and what was dropped."""
        if self._delegate is not None:
            return self._delegate.stats()
        out = self.writer.stats()
        out.update(self._stats)
        out["queue_depth"] = len(self._queue)
        out["writer"] = "thread"
        return out

    def _run(self) -> None:
        writer = self.writer
        writer.open()
        while True:
            # While a batch waits to be tried again, nothing new is taken: the
            # queue absorbs the outage (see writer.py).
            self._wake.wait(writer.retry_in() if writer.pending else self._interval_s)
            self._wake.clear()
            with internal_errors("store.writer"):  # a bug must not stop the writer
                if self._stopping:
                    writer.give_up()  # one last try; shutting down waits no longer
                writer.retry()
                while self._queue and not writer.pending:
                    writer.write_items(self._take(self._batch_items))
            if self._stopping and not self._queue and not writer.pending:
                break
        writer.close()


__all__ = ["ThreadStore"]
