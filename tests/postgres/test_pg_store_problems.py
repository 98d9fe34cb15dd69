"""A PostgreSQL store the writing commands cannot use is one line and exit 2, never the password.

And a store an older otel-obs created is brought forward in place.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pg_cluster
import psycopg
import pytest

from otel_obs.exporters import schema
from otel_obs.exporters.engines.postgres import POSTGRES, PgConnection, migration_statements
from otel_obs.store_location import parse_server_url

SECRET = "Sup3r-secret-pw"


def otel_obs(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "otel_obs", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def with_password(url: str, password: str) -> str:
    head, rest = url.split("://", 1)
    user_part, host_part = rest.split("@", 1)
    return f"{head}://{user_part.split(':', 1)[0]}:{password}@{host_part}"


def _cases(pg_url: str) -> list[tuple[str, str, list[str]]]:
    """(case, URL, words the message must hold)."""
    location = parse_server_url(pg_url)
    dead_port = pg_cluster._free_port()
    return [
        ("wrong password", with_password(pg_url, SECRET), [location.dbname, "127.0.0.1"]),
        (
            "unreachable",
            f"postgresql://someone:{SECRET}@127.0.0.1:{dead_port}/nothere",
            ["nothere", f"127.0.0.1:{dead_port}"],
        ),
        (
            "missing database",
            with_password(pg_url, pg_cluster.PASSWORD).rsplit("/", 1)[0] + "/no_such_db",
            ["no_such_db"],
        ),
        ("malformed", f"postgresql://u:{SECRET}@127.0.0.1:99999/db", ["malformed"]),
        ("no database", f"postgresql://u:{SECRET}@127.0.0.1:5432/", ["names no database"]),
    ]


@pytest.mark.parametrize("command", ["serve", "demo", "import"])
def test_a_store_the_command_cannot_write_is_one_line_and_exit_2(
    pg_url: str, tmp_path: Path, command: str
) -> None:
    extra = {
        "serve": ["--grpc-port", "0", "--http-port", "0"],
        "demo": ["--workers", "1"],
        "import": [str(tmp_path)],
    }[command]
    for case, url, words in _cases(pg_url):
        done = otel_obs(command, *extra, "--db", url, "--transcripts-dir", str(tmp_path / "t"))
        assert done.returncode == 2, (case, done.returncode, done.stderr[-2000:])
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, (case, done.stderr)
        assert SECRET not in done.stderr + done.stdout, case
        for word in words:
            assert word in lines[0], (case, word, lines[0])


def test_a_role_that_may_not_write_is_refused_by_name(pg_url: str, tmp_path: Path) -> None:
    POSTGRES.open_writer(parse_server_url(pg_url), busy_timeout_ms=10_000, dedicated=False).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS obs_reader_only")
        conn.execute(f"CREATE ROLE obs_reader_only LOGIN PASSWORD '{SECRET}'")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO obs_reader_only")
    try:
        location = parse_server_url(pg_url)
        url = f"postgresql://obs_reader_only:{SECRET}@{location.host}:{location.port}/{location.dbname}"
        done = otel_obs("serve", "--grpc-port", "0", "--http-port", "0", "--db", url)
        assert done.returncode == 2, done.stderr
        assert "obs_reader_only" in done.stderr and "may not write" in done.stderr
        assert SECRET not in done.stderr
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM obs_reader_only")
            conn.execute("DROP ROLE obs_reader_only")


def test_a_store_of_an_older_version_is_migrated_in_place(pg_url: str) -> None:
    """A database at schema 3 with rows in it: the writer brings it to the current
    version, the rows kept (migration 5 rebuilds the tables they are in)."""
    location = parse_server_url(pg_url)
    raw = POSTGRES.connect(location, application="test")
    conn = PgConnection(raw)
    conn.execute(
        "CREATE TABLE otel_obs_schema (version BIGINT NOT NULL, functions TEXT NOT NULL DEFAULT '')"
    )
    conn.execute("INSERT INTO otel_obs_schema (version) VALUES (3)")
    for script in schema.MIGRATIONS[:3]:
        for statement in migration_statements(script):
            conn.execute(statement)
    conn.execute(
        "INSERT INTO transcript_entries (id, execution_id, sequence, timestamp, entry_type,"
        " category, summary) VALUES ('e1', 'exec-old', 1, '2026-01-01T00:00:00.000000Z',"
        " 'decision', 'decision', 'kept')"
    )
    raw.close()
    writer = POSTGRES.open_writer(location, busy_timeout_ms=10_000, dedicated=False)
    writer.close()
    with psycopg.connect(pg_url) as check:
        assert check.execute("SELECT version FROM otel_obs_schema").fetchone() == (
            schema.SCHEMA_VERSION,
        )
        assert check.execute(
            "SELECT execution_id, id, sequence, summary FROM transcript_entries"
        ).fetchall() == [("exec-old", "e1", 1, "kept")]
        # Migration 5's key: the same id in another execution is another row.
        check.execute(
            "INSERT INTO transcript_entries (id, execution_id, sequence, timestamp, entry_type,"
            " category, summary) VALUES ('e1', 'exec-new', 1, '2026-01-01T00:00:00.000000Z',"
            " 'decision', 'decision', 'also')"
        )


def test_a_store_serve_cannot_read_at_its_exit_still_ends_it_cleanly(pg_url: str, tmp_path: Path):
    """serve's exit statistics read what spans made no row; a store that fails that read
    (here a table dropped under it) leaves them out: storage trouble never turns a clean
    stop into a traceback."""
    import requests
    from ingest_support import Served, producer_spans, protobuf_body

    served = Served(pg_url, "--transcripts-dir", str(tmp_path / "t"))
    try:
        body = protobuf_body(producer_spans("exec-blind", tools=2))
        answer = requests.post(
            served.http, data=body, headers={"Content-Type": "application/x-protobuf"}, timeout=30
        )
        assert answer.status_code == 200
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("DROP TABLE pending_spans")
        counts = served.stop()
    finally:
        served.kill()
    assert counts["spans_accepted"] > 0 and "spans_waiting_for_parent" not in counts
