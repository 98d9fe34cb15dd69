"""Reading a PostgreSQL store: read-only, time-bound, the CLI, the report and MCP as on SQLite,
and bad URLs, passwords, databases and roles said in one line (exit 2), never the password."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
from demo_store import clean_env, run_cli
from pg_stores import Pair, new_database

from otel_obs.queries.readonly import (
    ReadTimeoutError,
    ServerReader,
    StoreUnavailableError,
    bounded,
    connect_read_only,
)
from otel_obs.queries.runner import ObservabilitySkills
from otel_obs.store_location import parse_server_url

PASSWORD = "test-only-password"


# --- read-only and time-bound ------------------------------------------------


def test_a_write_through_the_reader_fails_and_changes_nothing(demo_pair: Pair):
    with ObservabilitySkills(demo_pair.url) as skills:
        conn = skills._connection()
        assert isinstance(conn, ServerReader)
        before = conn.execute("SELECT count(*) FROM tool_uses").fetchone()[0]
        for statement in (
            "DELETE FROM tool_uses",
            "INSERT INTO tasks (id, execution_id) VALUES ('x', 'y')",
            "CREATE TABLE intruder (a integer)",
        ):
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.raw.execute(statement)
        assert conn.execute("SELECT count(*) FROM tool_uses").fetchone()[0] == before
        # and the tools still answer on the same connection
        assert skills.run("A001", execution_id=_first_execution(demo_pair))


def test_a_read_past_the_limit_is_stopped_with_the_read_timeout(demo_pair: Pair):
    conn = connect_read_only(demo_pair.url)
    try:
        with pytest.raises(ReadTimeoutError, match="ran longer than the limit of 50 ms"):
            with bounded(conn, "the slow read", 50):
                conn.execute("SELECT pg_sleep(2)").fetchall()
        # the connection is usable afterwards, without the limit
        assert conn.execute("SELECT 1 AS one").fetchone()["one"] == 1
    finally:
        conn.close()


def test_a_lost_server_connection_is_opened_again(demo_pair: Pair, pg_server):
    # A long-lived reader (the MCP server) outlives a server restart or failover.
    execution = _first_execution(demo_pair)
    with ObservabilitySkills(demo_pair.url) as skills:
        expected = skills.run("T001", execution_id=execution)
        pid = skills._connection().raw.info.backend_pid
        with psycopg.connect(pg_server[0], autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
        assert skills.run("T001", execution_id=execution) == expected
        assert skills._connection().raw.info.backend_pid != pid


def test_rows_read_by_name_and_position_as_sqlite_rows(demo_pair: Pair):
    conn = connect_read_only(demo_pair.url)
    try:
        row = conn.execute(
            "SELECT id, started_at FROM task_list_execution_runs WHERE id = :id",
            {"id": _first_execution(demo_pair)},
        ).fetchone()
        assert row["id"] == row[0] and dict(row) == {"id": row[0], "started_at": row[1]}
    finally:
        conn.close()


def _first_execution(pair: Pair) -> str:
    conn = connect_read_only(pair.sqlite)
    try:
        return str(
            conn.execute("SELECT id FROM task_list_execution_runs ORDER BY id").fetchone()[0]
        )
    finally:
        conn.close()


# --- the CLI, the report, MCP ----------------------------------------------------


def _cli(pair: Pair, tmp_path: Path, *args: str) -> tuple[Any, Any]:
    on_server = run_cli(*args, "--db", pair.url, cwd=tmp_path)
    on_file = run_cli(*args, "--db", str(pair.sqlite), cwd=tmp_path)
    return on_server, on_file


@pytest.mark.parametrize(
    "command",
    [
        ["executions", "--json"],
        ["executions", "--latest"],
        ["summary", "{e}", "--json"],
        ["errors", "{e}", "--json"],
        ["validate", "{e}", "--json"],
        ["blocked", "{e}", "--json"],
        ["incomplete", "{e}", "--json"],
        ["health", "{e}", "--json"],
        ["anomalies", "{e}", "--json"],
        ["cost", "{e}", "--json"],
        ["unmapped", "--json"],
        ["tool", "T003", "-p", "execution_id={e}", "--json"],
        ["trace-task", "{t}", "--json"],
        ["diff", "{e}", "{e}", "--json"],
        ["summary", "{e}"],
    ],
)
def test_reading_commands_answer_the_same_from_postgresql(
    pair: Pair, tmp_path: Path, command: list[str]
):
    execution = _first_execution(pair)
    with ObservabilitySkills(pair.sqlite) as skills:
        task = (skills.run("A002", execution_id=execution) or [{"task_ids": "none"}])[0]
    args = [a.format(e=execution, t=str(task["task_ids"] or "none").split(",")[0]) for a in command]
    on_server, on_file = _cli(pair, tmp_path, *args)
    assert on_server.returncode == on_file.returncode, on_server.stderr
    assert on_server.returncode in (0, 1), on_server.stderr
    assert on_server.stdout == on_file.stdout
    if "--json" in args:
        json.loads(on_server.stdout)


def test_the_report_is_the_same_from_postgresql(demo_pair: Pair, tmp_path: Path):
    execution = _first_execution(demo_pair)
    for db, name in ((demo_pair.url, "pg.html"), (str(demo_pair.sqlite), "lite.html")):
        proc = run_cli("report", execution, "--db", db, "-o", name, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "pg.html").read_text()
    assert len(html) > 10_000 and html == (tmp_path / "lite.html").read_text()


def test_unknown_execution_on_postgresql_is_a_usage_error(demo_pair: Pair, tmp_path: Path):
    proc = run_cli("summary", "no-such-run", "--db", demo_pair.url, cwd=tmp_path)
    assert proc.returncode == 2 and "no execution 'no-such-run'" in proc.stderr
    assert PASSWORD not in proc.stderr


def test_mcp_answers_from_postgresql_as_the_python_api(demo_pair: Pair):
    pytest.importorskip("mcp", reason="the mcp extra is not installed")
    from mcp import Client, StdioServerParameters

    from otel_obs.queries.jsonable import to_jsonable

    execution = _first_execution(demo_pair)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "otel_obs", "mcp", "--db", demo_pair.url],
        env=clean_env(),
    )

    async def main() -> Any:
        with anyio.fail_after(60):
            async with Client(params) as client:
                return (
                    await client.call_tool("validate", {"execution_id": execution}),
                    await client.call_tool("T003", {"execution_id": execution, "window": 3}),
                    await client.call_tool("T003", {"execution_id": execution, "window": "x"}),
                )

    validate, t003, bad = anyio.run(main)
    with ObservabilitySkills(demo_pair.sqlite) as skills:
        assert validate.structured_content == {"result": to_jsonable(skills.validate(execution))}
        assert t003.structured_content == {
            "result": skills.first_error_context(execution, window=3)
        }
    assert bad.is_error and "'window'" in bad.content[0].text


# --- bad input -------------------------------------------------------------------


def _urls(pg_url: str, empty: str) -> dict[str, tuple[str, list[str]]]:
    """Bad store URLs by case: (URL, what the one line must say)."""
    server = parse_server_url(pg_url)
    where = f"{server.host}:{server.port}"
    return {
        "wrong password": (
            f"postgresql://otel_obs_admin:not-the-password@{where}/{server.dbname}",
            [f'"{server.dbname}"', where, "password authentication failed"],
        ),
        "unreachable host": (
            f"postgresql://otel_obs_admin:{PASSWORD}@127.0.0.1:1/{server.dbname}",
            [f'"{server.dbname}"', "127.0.0.1:1"],
        ),
        "missing database": (
            f"postgresql://otel_obs_admin:{PASSWORD}@{where}/no_such_db",
            ['"no_such_db"', where, "does not exist"],
        ),
        "no schema": (
            empty,
            [f'"{parse_server_url(empty).dbname}"', where, "not an otel-obs store"],
        ),
        "malformed URL": (
            f"postgresql://otel_obs_admin:{PASSWORD}@{server.host}:port/x",
            ["malformed PostgreSQL URL"],
        ),
        "no database": (f"postgresql://otel_obs_admin:{PASSWORD}@{where}", ["names no database"]),
    }


@pytest.fixture(scope="module")
def empty_database(pg_server) -> str:
    return new_database(pg_server[0])


@pytest.mark.parametrize(
    "case",
    [
        "wrong password",
        "unreachable host",
        "missing database",
        "no schema",
        "malformed URL",
        "no database",
    ],
)
def test_a_bad_store_url_is_one_line_naming_host_and_database_exit_2(
    demo_pair: Pair, empty_database: str, tmp_path: Path, case: str
):
    url, said = _urls(demo_pair.url, empty_database)[case]
    for command in (["executions"], ["summary", "x", "--json"], ["mcp"], ["report", "x"]):
        proc = run_cli(*command, "--db", url, cwd=tmp_path, timeout=30)
        assert proc.returncode == 2, (command, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        for text in said:
            assert text in lines[0], (text, lines[0])
        assert PASSWORD not in proc.stderr and "not-the-password" not in proc.stderr
    # the variable is read the same way
    proc = run_cli("executions", cwd=tmp_path, env=clean_env(OTEL_OBS_DB=url))
    assert proc.returncode == 2 and PASSWORD not in proc.stderr


def test_the_api_says_the_same_as_a_value_error(demo_pair: Pair, empty_database: str):
    for url, said in _urls(demo_pair.url, empty_database).values():
        with pytest.raises(ValueError) as caught:
            ObservabilitySkills(url)
        assert said[0] in str(caught.value) and PASSWORD not in str(caught.value)
    with pytest.raises(StoreUnavailableError):
        ObservabilitySkills(_urls(demo_pair.url, empty_database)["wrong password"][0])


def test_a_role_that_may_not_read_the_tables_is_told_the_grant(
    demo_pair: Pair, pg_server, tmp_path: Path
):
    server = parse_server_url(demo_pair.url)
    with psycopg.connect(demo_pair.url, autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS otel_obs_nobody")
        admin.execute("CREATE ROLE otel_obs_nobody LOGIN PASSWORD 'nobody-secret'")
    try:
        url = f"postgresql://otel_obs_nobody:nobody-secret@{server.host}:{server.port}/{server.dbname}"
        proc = run_cli("executions", "--db", url, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert "may not read" in proc.stderr and "GRANT SELECT" in proc.stderr
        assert "nobody-secret" not in proc.stderr
        # granted the read-only role's rights, it reads (and still cannot write)
        with psycopg.connect(demo_pair.url, autocommit=True) as admin:
            admin.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO otel_obs_nobody")
        proc = run_cli("executions", "--db", url, "--json", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)
    finally:
        with psycopg.connect(demo_pair.url, autocommit=True) as admin:
            admin.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM otel_obs_nobody")
            admin.execute("DROP ROLE otel_obs_nobody")
