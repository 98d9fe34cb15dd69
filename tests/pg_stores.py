"""PostgreSQL copies of SQLite stores for the tests: fresh databases, planted faults.

A :class:`Pair` is one store on both engines: the SQLite file and the
PostgreSQL database it was moved into (with ``otel-obs move``'s code).
:func:`pg_table_rows` reads a PostgreSQL store's rows as
:func:`ingest_support.table_rows` reads a SQLite one's, to compare the two.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest_support import Close

from otel_obs.cli.move import move_store
from otel_obs.exporters.schema import TABLES
from otel_obs.store_location import ServerStore, parse_server_url


def new_database(server_url: str) -> str:
    """A fresh, empty database (C collation) on the server: its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
        )
    return server_url.rsplit("/", 1)[0] + "/" + name


def drop_database(server_url: str, url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@dataclass(frozen=True)
class Pair:
    """One store on both engines: the SQLite file and the PostgreSQL database it was moved to."""

    name: str
    sqlite: Path
    url: str

    @property
    def server(self) -> ServerStore:
        return parse_server_url(self.url)


def pg_table_rows(url: str, exclude: dict[str, set[str]]) -> dict[str, list[tuple]]:
    """Every row of every table of a PostgreSQL store, sorted, without the excluded columns
    (as :func:`ingest_support.table_rows` reads a SQLite store)."""
    import psycopg

    out: dict[str, list[tuple]] = {}
    with psycopg.connect(url) as conn:
        for table in sorted(TABLES):
            columns = [
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
                    " ORDER BY ordinal_position",
                    (table,),
                )
                if r[0] not in exclude.get(table, set())
            ]
            rows = conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
            out[table] = sorted(
                (tuple(Close(v) if isinstance(v, float) else v for v in row) for row in rows),
                key=repr,
            )
    return out


def _db_of(built: object) -> Path:
    for name in ("db_path", "db"):
        if hasattr(built, name):
            return Path(getattr(built, name))
    store = getattr(built, "store", None)
    if store is not None:
        return Path(store.db_path)
    raise AssertionError(f"no store path in {built!r}")


def _break(db: Path, execution: str) -> None:
    """Invariants broken as the validation tools' tests break them."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "UPDATE transcript_entries SET sequence = sequence + 100"
            " WHERE execution_id = ? AND sequence > 5",
            (execution,),
        )
        first = conn.execute(
            "SELECT id FROM tool_uses WHERE execution_id = ? ORDER BY start_time, id", (execution,)
        ).fetchall()
        if len(first) >= 2:
            conn.execute(
                "UPDATE tool_uses SET transcript_entry_id = NULL WHERE id = ?", (first[0][0],)
            )
            conn.execute(
                "UPDATE tool_uses SET end_time = '2000-01-01T00:00:00.000000Z' WHERE id = ?",
                (first[1][0],),
            )
        conn.execute("UPDATE tasks SET duration_ms = -5 WHERE execution_id = ?", (execution,))
        conn.execute(
            "UPDATE assertion_results SET chain_id = 'no-such-chain' WHERE execution_id = ?",
            (execution,),
        )
        conn.execute(
            "UPDATE parallel_execution_waves SET task_count = task_count + 5"
            " WHERE execution_id = ?",
            (execution,),
        )
    conn.close()


def _plant(db: Path) -> None:
    """Values the engines could answer differently: model usage and costs (with NULLs), a
    tool input that is no JSON, decisions with lists, texts beyond ASCII, odd durations."""
    conn = sqlite3.connect(db)
    executions = [r[0] for r in conn.execute("SELECT id FROM task_list_execution_runs")]
    with conn:
        for n, execution in enumerate(executions):
            agents = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM build_agent_instances WHERE execution_id = ?", (execution,)
                )
            ] or [None]
            tasks = [
                r[0]
                for r in conn.execute("SELECT id FROM tasks WHERE execution_id = ?", (execution,))
            ] or [None]
            for k in range(7):
                cost = None if k % 3 == 0 else round(0.0001 * (k + 1) * (n + 1) / 3, 9)
                conn.execute(
                    "INSERT INTO llm_calls (execution_id, id, kind, instance_id, task_id, model,"
                    " provider, input_tokens, output_tokens, cache_read_tokens,"
                    " cache_creation_tokens, cost_usd, cost_source, source, start_time, end_time,"
                    " duration_ms) VALUES (?, ?, ?, ?, ?, ?, 'p', ?, ?, ?, ?, ?, ?, 'planted',"
                    " ?, ?, ?)",
                    (
                        execution,
                        f"llm-{k}",
                        "agent" if k == 6 else "call",
                        agents[k % len(agents)],
                        tasks[k % len(tasks)],
                        ["gpt-4o", "claude-x", None][k % 3],
                        1000 + 37 * k,
                        None if k == 4 else 17 * k + 1,
                        (k * 11) or None,
                        None,
                        cost,
                        None if cost is None else ("reported" if k % 2 else "computed"),
                        f"2026-01-0{1 + n % 9}T10:0{k}:00.{k:06d}Z",
                        f"2026-01-0{1 + n % 9}T10:0{k}:01.{k:06d}Z",
                        1000.0 / (k + 3),
                    ),
                )
        conn.execute(
            'UPDATE tool_uses SET input = \'{"command": "make te\' WHERE rowid IN'
            " (SELECT rowid FROM tool_uses WHERE result_status = 'error' LIMIT 2)"
        )
        conn.execute(
            "UPDATE tool_uses SET duration_ms = duration_ms / 3.0 + 0.1 WHERE rowid % 3 = 0"
        )
        conn.execute(
            "UPDATE transcript_entries SET summary = summary || ' — é ✓' WHERE rowid % 5 = 0"
        )
        # an activity spike: 40 entries in one minute of the first execution
        for k in range(40):
            conn.execute(
                "INSERT INTO transcript_entries (id, execution_id, sequence, timestamp,"
                " entry_type, category, summary) VALUES (?, ?, ?, ?, 'tool_use', 'tool', ?)",
                (f"spike-{k}", executions[0], 1000 + k, f"2026-01-01T09:59:{k:02d}.5Z", f"s{k}"),
            )
        for k in range(8):  # and quiet minutes around it
            conn.execute(
                "INSERT INTO transcript_entries (id, execution_id, sequence, timestamp,"
                " entry_type, category, summary) VALUES (?, ?, ?, ?, 'tool_use', 'tool', ?)",
                (f"quiet-{k}", executions[0], 1100 + k, f"2026-01-01T08:{k:02d}:00Z", f"q{k}"),
            )
    conn.close()


def _pair(name: str, sqlite: Path, server_url: str) -> Iterator[Pair]:
    url = new_database(server_url)
    try:
        move_store(sqlite, parse_server_url(url))
        yield Pair(name, sqlite, url)
    finally:
        drop_database(server_url, url)
