"""``otel-obs move SOURCE DEST``: copy a store from one engine to the other (or the same).

Either side is a SQLite path or a ``postgresql://`` URL. The destination's
schema is created or brought forward the way the writer does it; every table
of the schema is copied in batches, each batch one transaction of
``INSERT … ON CONFLICT DO NOTHING`` (the same text on both engines), so a row
already there (by its primary key, or an entry by its sequence number) is left
as it is: running the move twice adds nothing the second time, and a move cut
short is finished by running it again. The source is read read-only.

Moving into PostgreSQL needs no entry counters: the writer starts a missing one
from the execution's largest sequence number; one that is there already (a
store that was written to before) is raised to it, so a writer never hands out
a number a moved entry holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exporters import schema
from ..exporters.engines import engine_for
from ..exporters.engines.base import transaction
from ..queries.readonly import ServerReader, StoreUnavailableError, connect_read_only
from ..store_location import ServerStore, StoreLocation

#: Rows per batch (one transaction each on the destination).
BATCH_ROWS = 5000
#: How long the destination waits for another writer's lock, in milliseconds.
BUSY_TIMEOUT_MS = 30_000


class MoveProblem(ValueError):
    """A source or destination that cannot be moved from or to: one line, no password."""


@dataclass
class MoveResult:
    """Per table: rows read from the source, rows added to the destination."""

    source: str
    dest: str
    read: dict[str, int] = field(default_factory=dict)
    added: dict[str, int] = field(default_factory=dict)
    #: Values the destination cannot hold, made safe (a NUL in a text, an integer too large).
    made_safe: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dest": self.dest,
            "tables": [
                {"table": t, "read": self.read[t], "added": self.added.get(t, 0)} for t in self.read
            ],
            "rows_read": sum(self.read.values()),
            "rows_added": sum(self.added.values()),
            "values_made_safe": self.made_safe,
        }


def _describe(location: StoreLocation) -> str:
    return location.where if isinstance(location, ServerStore) else str(location)


def _same_store(source: StoreLocation, dest: StoreLocation) -> bool:
    if isinstance(source, ServerStore) or isinstance(dest, ServerStore):
        if not (isinstance(source, ServerStore) and isinstance(dest, ServerStore)):
            return False
        return (source.host, source.port, source.dbname) == (dest.host, dest.port, dest.dbname)
    try:
        return Path(source).resolve() == Path(dest).resolve()
    except OSError:
        return False


def _open_source(source: StoreLocation) -> Any:
    """A read-only connection to the source (plain tuples); MoveProblem when it has no store."""
    if not isinstance(source, ServerStore):
        from .store_reads import store_problem

        if not Path(source).is_file():
            raise MoveProblem(f"SOURCE: no store at {source}")
        problem = store_problem(Path(source))
        if problem:
            raise MoveProblem(f"SOURCE: {source} is not an otel-obs store ({problem})")
    try:
        return connect_read_only(source, rows=False)
    except StoreUnavailableError as exc:
        raise MoveProblem(f"SOURCE: {exc}") from None


def _open_dest(dest: StoreLocation) -> Any:
    """A writing connection to the destination, its schema created or brought forward."""
    engine = engine_for(dest)
    problem = engine.writable_problem(dest)
    if problem:
        raise MoveProblem(f"DEST: cannot move into {dest}: {problem}")
    try:
        return engine, engine.open_writer(dest, busy_timeout_ms=BUSY_TIMEOUT_MS, dedicated=True)
    except schema.SchemaTooNewError as exc:
        raise MoveProblem(f"DEST: {_describe(dest)}: {exc}") from None
    except engine.errors as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise MoveProblem(f"DEST: cannot write {_describe(dest)}: {text}") from None


def _columns(conn: Any, table: str) -> list[str]:
    """The columns of ``table`` as the connection's store has them (none: no such table)."""
    if isinstance(conn, ServerReader) or hasattr(conn, "raw"):
        raw = conn.raw
        rows = raw.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
            (table,),
        ).fetchall()
        return [r[0] for r in rows]
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})").fetchall()]


def _batches(conn: Any, table: str, columns: list[str], size: int) -> Iterator[list[tuple]]:
    """The source's rows of ``table``, ``size`` at a time (a server-side cursor on PostgreSQL)."""
    names = ", ".join(columns)
    if isinstance(conn, ServerReader):
        raw = conn.raw
        with raw.transaction(), raw.cursor(name=f"move_{table}") as cursor:
            cursor.itersize = size
            cursor.execute(f"SELECT {names} FROM {table}")
            while rows := cursor.fetchmany(size):
                yield rows
        return
    cursor = conn.execute(f"SELECT {names} FROM {table}")
    while rows := cursor.fetchmany(size):
        yield rows


def _count(conn: Any, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def move_store(
    source: StoreLocation,
    dest: StoreLocation,
    *,
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[str, int, int], None] | None = None,
) -> MoveResult:
    """Copy every table of ``source`` into ``dest`` (see the module docstring).

    ``progress(table, rows_read_so_far, rows_in_table)`` after each batch.
    """
    if _same_store(source, dest):
        raise MoveProblem(f"SOURCE and DEST are the same store ({_describe(source)})")
    reader = _open_source(source)
    try:
        engine, writer = _open_dest(dest)
        try:
            return _copy(reader, engine, writer, source, dest, batch_rows, progress)
        finally:
            writer.close()
    finally:
        reader.close()


def _copy(
    reader: Any,
    engine: Any,
    writer: Any,
    source: StoreLocation,
    dest: StoreLocation,
    batch_rows: int,
    progress: Callable[[str, int, int], None] | None,
) -> MoveResult:
    result = MoveResult(source=str(source), dest=str(dest))
    for table in schema.TABLES:
        have = _columns(reader, table)
        if not have:
            continue  # a store older than this table holds none of its rows
        wanted = set(_columns(writer, table))
        columns = [c for c in have if c in wanted]
        total = _count(reader, table)
        before = _count(writer, table)
        insert = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            " ON CONFLICT DO NOTHING"
        )
        done = 0
        for rows in _batches(reader, table, columns, batch_rows):
            values = [list(row) for row in rows]
            for row in values:
                result.made_safe += engine.safe_row(table, row)
            with transaction(writer, engine):
                writer.executemany(insert, values)
            done += len(rows)
            if progress is not None:
                progress(table, done, total)
        result.read[table] = done
        result.added[table] = _count(writer, table) - before
        if progress is not None and not done:
            progress(table, 0, total)
    _raise_counters(engine, writer)
    if isinstance(dest, ServerStore):
        # A server plans from statistics that a bulk load leaves stale until autovacuum
        # comes round: gather them now, so the tools are fast from the first query.
        for table, added in result.added.items():
            if added:
                writer.execute(f"ANALYZE {table}")
    return result


def _raise_counters(engine: Any, writer: Any) -> None:
    """Entry counters that exist already raised to the largest sequence moved in."""
    executions = [
        r[0]
        for r in writer.execute("SELECT DISTINCT execution_id FROM transcript_entries").fetchall()
    ]
    if not executions:
        return
    with transaction(writer, engine):
        last = engine.claim_sequences(writer, executions)
        largest = dict(
            writer.execute(
                "SELECT execution_id, MAX(sequence) FROM transcript_entries GROUP BY execution_id"
            ).fetchall()
        )
        raised = {e: int(largest[e]) for e, n in last.items() if int(largest.get(e) or 0) > n}
        engine.save_sequences(writer, raised)


def store_of(text: str, which: str) -> StoreLocation:
    """``text`` (a path or a URL) as a store location; MoveProblem naming ``which`` side."""
    from ..store_location import store_location

    try:
        return store_location(text, which)
    except ValueError as exc:
        raise MoveProblem(str(exc)) from None


__all__ = ["BATCH_ROWS", "MoveProblem", "MoveResult", "move_store", "store_of"]
