"""Read-only connections to a store, and the time bound on every read.

A diagnosis must never change the store it diagnoses (and must add no load to
the writers): ``mode=ro`` opens the file without write access and never
creates a missing one.

A store in WAL mode on read-only media (a read-only mount, a folder the reader
may not write) cannot be opened that way when its ``-wal`` and ``-shm`` files
are not there already: SQLite would have to create them. Such a store has no
write-ahead log to read, so it is opened ``immutable=1`` instead (SQLite then
reads the main file only and takes no locks).

Every SQL tool, and every other read of the store, runs under a time bound
(:data:`~otel_obs.settings.TOOL_TIMEOUT_MS`): SQLite's progress handler stops a
read that runs past it, and :class:`ReadTimeoutError` names what was stopped and
the limit, so no query on any data can keep a command or the MCP server busy
for good.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from otel_obs import settings

#: SQLite virtual-machine steps between two looks at the clock (about a millisecond).
_PROGRESS_STEPS = 10_000


class ReadTimeoutError(TimeoutError):
    """A read of the store ran past its time limit and was stopped."""


def connect_read_only(db_path: Path | str, *, rows: bool = True) -> sqlite3.Connection:
    """A read-only connection (``mode=ro``), ``immutable=1`` on read-only media.

    Its rows are :class:`sqlite3.Row` unless ``rows`` is false (plain tuples).
    """
    path = Path(db_path).resolve()
    uri = path.as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as error:
        conn.close()
        name = getattr(error, "sqlite_errorname", "")
        if not name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY")) or not _no_log_to_read(path):
            raise
        # The -wal/-shm could not be created: read-only media. Without a log
        # there is nothing but the main file to read.
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    if rows:
        conn.row_factory = sqlite3.Row
    return conn


def _no_log_to_read(path: Path) -> bool:
    """Whether ``path`` has no write-ahead log holding anything (a missing or empty ``-wal``)."""
    wal = path.with_name(path.name + "-wal")
    try:
        return wal.stat().st_size == 0
    except FileNotFoundError:
        return True
    except OSError:
        return False


@contextmanager
def bounded(conn: sqlite3.Connection, what: str, timeout_ms: int | None = None) -> Iterator[None]:
    """Run the reads inside on ``conn`` for at most ``timeout_ms`` (the setting when None).

    Past the limit SQLite stops the statement and :class:`ReadTimeoutError`
    says which read (``what``) was stopped and what the limit is.
    """
    limit = settings.TOOL_TIMEOUT_MS.resolve(timeout_ms)
    deadline = time.monotonic() + limit / 1000
    conn.set_progress_handler(lambda: time.monotonic() > deadline, _PROGRESS_STEPS)
    try:
        yield
    except sqlite3.OperationalError as error:
        if "interrupted" in str(error) and time.monotonic() > deadline:
            raise ReadTimeoutError(
                f"{what} was stopped: it ran longer than the limit of {limit} ms "
                f"({settings.TOOL_TIMEOUT_MS.env}; raise it for a very large store)"
            ) from None
        raise
    finally:
        conn.set_progress_handler(None, 0)
