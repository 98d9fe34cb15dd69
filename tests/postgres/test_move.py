"""``otel-obs move``: SQLite → PostgreSQL → SQLite gives the same tables; twice changes nothing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest
from demo_store import clean_env, run_cli
from pg_stores import Pair

from otel_obs.cli.move import MoveProblem, move_store
from otel_obs.exporters import schema
from otel_obs.store_location import parse_server_url


def sqlite_tables(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted (NULLs first, as a key that compares across types)."""
    conn = sqlite3.connect(db)
    try:
        return {
            t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
            for t in schema.TABLES
        }
    finally:
        conn.close()


def server_tables(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        out = {}
        for table in schema.TABLES:
            out[table] = sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
        return out


def test_a_store_moved_to_postgresql_and_back_is_the_same(fault_pair: Pair, tmp_path: Path):
    back = tmp_path / "back.db"
    result = move_store(fault_pair.server, back)
    assert sum(result.added.values()) == sum(result.read.values()) > 400
    original, returned = sqlite_tables(fault_pair.sqlite), sqlite_tables(back)
    for table in schema.TABLES:
        assert returned[table] == original[table], table
    # the same values, of the same types, on the server too
    on_server = server_tables(fault_pair.url)
    for table in schema.TABLES:
        assert on_server[table] == original[table], table


def test_moving_twice_changes_nothing(demo_pair: Pair, pg_url: str, tmp_path: Path):
    dest = parse_server_url(pg_url)
    first = move_store(demo_pair.sqlite, dest)
    before = server_tables(pg_url)
    second = move_store(demo_pair.sqlite, dest)
    assert second.read == first.read
    assert sum(first.added.values()) == sum(first.read.values()) > 0
    assert set(second.added.values()) == {0}
    assert server_tables(pg_url) == before
    # and back into SQLite, twice
    back = tmp_path / "back.db"
    move_store(dest, back)
    again = move_store(dest, back)
    assert set(again.added.values()) == {0}
    assert sqlite_tables(back) == sqlite_tables(demo_pair.sqlite)


def test_a_move_cut_short_is_finished_by_running_it_again(demo_pair: Pair, pg_url: str):
    dest = parse_server_url(pg_url)
    with pytest.raises(RuntimeError):

        def stop(table: str, done: int, total: int) -> None:
            if table == "tool_uses":
                raise RuntimeError("cut")

        move_store(demo_pair.sqlite, dest, batch_rows=50, progress=stop)
    partial = server_tables(pg_url)
    assert partial["transcript_entries"] and len(partial["tool_uses"]) == 50
    move_store(demo_pair.sqlite, dest, batch_rows=50)
    assert server_tables(pg_url) == sqlite_tables(demo_pair.sqlite)


def test_the_writer_numbers_on_after_a_moved_execution(demo_pair: Pair, pg_url: str):
    # A counter a writer set up before the move is raised past the moved entries.
    dest = parse_server_url(pg_url)
    move_store(demo_pair.sqlite, dest)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        execution, top = conn.execute(
            "SELECT execution_id, max(sequence) FROM transcript_entries GROUP BY 1 LIMIT 1"
        ).fetchone()
        conn.execute(
            "UPDATE entry_counters SET last_sequence = 1 WHERE execution_id = %s", (execution,)
        )
    move_store(demo_pair.sqlite, dest)
    with psycopg.connect(pg_url) as conn:
        (last,) = conn.execute(
            "SELECT last_sequence FROM entry_counters WHERE execution_id = %s", (execution,)
        ).fetchone()
    assert last == top


def test_the_command_shows_progress_and_a_summary(demo_pair: Pair, pg_url: str, tmp_path: Path):
    proc = run_cli("move", str(demo_pair.sqlite), pg_url, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["rows_read"] == summary["rows_added"] > 0
    assert "transcript_entries:" in proc.stderr and "rows" in proc.stderr
    assert "test-only-password" not in proc.stdout + proc.stderr
    again = run_cli("move", str(demo_pair.sqlite), pg_url, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 added" in again.stdout


@pytest.mark.parametrize(
    ("source", "dest", "said"),
    [
        ("{missing}", "{url}", "no store at"),
        ("{demo}", "{demo}", "the same store"),
        ("{demo}", "postgresql://otel_obs_admin:wrong-password@{host}/{db}", "password"),
        ("{demo}", "postgresql://{host}", "names no database"),
        ("{notstore}", "{url}", "not an otel-obs store"),
    ],
)
def test_bad_sources_and_destinations_are_one_line_and_exit_2(
    demo_pair: Pair, pg_url: str, tmp_path: Path, source: str, dest: str, said: str
):
    server = parse_server_url(pg_url)
    (tmp_path / "other.db").write_bytes(b"not sqlite at all" * 100)
    values = {
        "missing": str(tmp_path / "missing.db"),
        "url": pg_url,
        "demo": str(demo_pair.sqlite),
        "host": f"{server.host}:{server.port}",
        "db": server.dbname,
        "notstore": str(tmp_path / "other.db"),
    }
    proc = run_cli(
        "move", source.format(**values), dest.format(**values), cwd=tmp_path, env=clean_env()
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0], proc.stderr
    assert "test-only-password" not in proc.stderr and "wrong-password" not in proc.stderr


def test_move_problem_is_a_value_error():
    assert issubclass(MoveProblem, ValueError)


def test_a_destination_role_that_may_not_write_is_refused_before_anything_moves(
    demo_pair: Pair, pg_url: str, tmp_path: Path
):
    """The destination is checked as every writing command checks its store: a role
    without the writer's grants is named up front, not met at the first batch."""
    from otel_obs.exporters.engines.postgres import POSTGRES

    POSTGRES.open_writer(parse_server_url(pg_url), busy_timeout_ms=10_000, dedicated=False).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS obs_move_reader")
        conn.execute("CREATE ROLE obs_move_reader LOGIN PASSWORD 'reader-only-pw'")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO obs_move_reader")
    try:
        server = parse_server_url(pg_url)
        url = f"postgresql://obs_move_reader:reader-only-pw@{server.host}:{server.port}/{server.dbname}"
        proc = run_cli("move", str(demo_pair.sqlite), url, cwd=tmp_path, env=clean_env())
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM obs_move_reader")
            conn.execute("DROP ROLE obs_move_reader")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "DEST" in lines[0] and "may not write" in lines[0], proc.stderr
    assert "reader-only-pw" not in proc.stderr
    assert "rows" not in proc.stderr  # refused before any table's progress
