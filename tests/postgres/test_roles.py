"""The writer and read-only roles of docs/postgresql.md, run as written: the writer moves a
store in (creating the schema), the reader reads it and can write nothing."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import psycopg
import pytest
from demo_store import run_cli
from pg_stores import Pair

DOCS = Path(__file__).resolve().parents[2] / "docs" / "postgresql.md"


def role_statements() -> list[str]:
    """The SQL block of the roles section, statement by statement (``\\connect`` kept)."""
    text = DOCS.read_text(encoding="utf-8")
    block = re.search(r"## Roles.*?```sql\n(.*?)```", text, re.S)
    assert block, "the roles section has a SQL block"
    statements = []
    for part in re.split(r";\s*\n|\n(?=\\connect)", block.group(1)):
        part = part.strip().rstrip(";")
        if part:
            statements.append(part)
    return statements


def test_the_documented_roles_write_and_only_read(demo_pair: Pair, pg_server, tmp_path: Path):
    admin_url = pg_server[0]
    base = admin_url.rsplit("/", 1)[0].split("@", 1)[1]
    suffix = uuid.uuid4().hex[:8]
    names = {
        "otel_obs_writer": f"w_{suffix}",
        "otel_obs_reader": f"r_{suffix}",
        "writer-password": f"wp-{suffix}",
        "reader-password": f"rp-{suffix}",
    }
    database = f"d_{suffix}"
    statements = []
    for statement in role_statements():
        for old, new in names.items():
            statement = statement.replace(old, new)
        statements.append(re.sub(r"\botel_obs\b", database, statement))
    conn = psycopg.connect(admin_url, autocommit=True)
    try:
        for statement in statements:
            if statement.startswith("\\connect"):
                conn.close()
                conn = psycopg.connect(
                    admin_url.rsplit("/", 1)[0] + "/" + database, autocommit=True
                )
            else:
                conn.execute(statement)
        writer = (
            f"postgresql://{names['otel_obs_writer']}:{names['writer-password']}@{base}/{database}"
        )
        reader = (
            f"postgresql://{names['otel_obs_reader']}:{names['reader-password']}@{base}/{database}"
        )
        moved = run_cli("move", str(demo_pair.sqlite), writer, "--json", cwd=tmp_path)
        assert moved.returncode == 0, moved.stderr
        assert json.loads(moved.stdout)["rows_added"] > 0
        on_server = run_cli("executions", "--json", "--db", reader, cwd=tmp_path)
        on_file = run_cli("executions", "--json", "--db", str(demo_pair.sqlite), cwd=tmp_path)
        assert on_server.returncode == 0, on_server.stderr
        assert on_server.stdout == on_file.stdout
        with psycopg.connect(reader, autocommit=True) as as_reader:
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                as_reader.execute("DELETE FROM tool_uses")
            as_reader.execute("SET default_transaction_read_only = off")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                as_reader.execute("DELETE FROM tool_uses")
        # a table the writer creates later (a new schema version) is readable too
        with psycopg.connect(writer, autocommit=True) as as_writer:
            as_writer.execute("CREATE TABLE later_table (a integer)")
        with psycopg.connect(reader, autocommit=True) as as_reader:
            assert as_reader.execute("SELECT count(*) FROM later_table").fetchone() == (0,)
    finally:
        conn.close()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            for role in (names["otel_obs_reader"], names["otel_obs_writer"]):
                admin.execute(f"DROP ROLE IF EXISTS {role}")
