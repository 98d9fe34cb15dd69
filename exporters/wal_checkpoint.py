"""WAL checkpoints on a thread of their own, off the path of a store's writes.

SQLite's automatic checkpoint runs inside the ``COMMIT`` that takes the WAL
past its threshold: the writing thread then waits while pages are copied into
the database file and the file is synced, with nothing else to do. A store
whose whole process is writing (a writer process) turns the automatic
checkpoint off and asks a :class:`Checkpointer` instead, which runs a
``PASSIVE`` checkpoint from a connection of its own (never blocking writers or
readers, in this process or another) while the writer maps and writes the next
batch; Python's sqlite3 releases the GIL while SQLite works, so the two overlap.

A passive checkpoint leaves the frames committed while it ran for the next one,
and the WAL only starts over once all of it has been copied, so under a writer
that never pauses it could grow without end: :meth:`Checkpointer.behind` tells
the writer when the WAL has grown past :data:`WAL_LIMIT_FRAMES`, and the writer
then checkpoints it itself, as SQLite would have.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

#: Rows written after which the writer asks for a checkpoint (roughly SQLite's
#: automatic threshold of 1,000 pages for the store's rows and indexes).
CHECKPOINT_ROWS = 4_000
#: WAL frames (pages) beyond which the writer checkpoints in line instead.
WAL_LIMIT_FRAMES = 20_000


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on ``db_path`` each time it is asked."""

    def __init__(self, db_path: Path, busy_timeout_ms: int) -> None:
        self._db_path = db_path
        self._busy_timeout_ms = busy_timeout_ms
        self._wake = threading.Event()
        self._stopping = False
        self._rows = 0
        #: Frames in the WAL, as of the last checkpoint.
        self._frames = 0
        self._warned = False
        self._thread = threading.Thread(
            target=self._run, name=f"otel-obs-checkpoint:{db_path.name}", daemon=True
        )
        self._thread.start()

    def wrote(self, rows: int) -> None:
        """Count rows just committed; wake the checkpoint thread once enough have been."""
        self._rows += rows
        if self._rows >= CHECKPOINT_ROWS:
            self._rows = 0
            self._wake.set()

    def behind(self) -> bool:
        """Whether the WAL has outgrown what the checkpoint thread keeps up with."""
        return self._frames > WAL_LIMIT_FRAMES

    def caught_up(self) -> None:
        """The writer has checkpointed the WAL itself: it starts over at the next write."""
        self._frames = 0

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop the thread after the checkpoint under way, and close its connection."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping:
                break
            try:
                if conn is None:
                    conn = sqlite3.connect(
                        self._db_path,
                        isolation_level=None,
                        check_same_thread=False,
                        timeout=self._busy_timeout_ms / 1000,
                    )
                row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if row is not None:
                    self._frames = row[1]
            except (OSError, sqlite3.Error) as exc:
                # The writer checkpoints in line when this falls behind; nothing is lost.
                if not self._warned:
                    self._warned = True
                    logger.warning(
                        "otel-obs store: checkpoint of %s failed: %s", self._db_path, exc
                    )
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()
