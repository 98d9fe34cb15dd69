"""The SQLite → PostgreSQL translation of the tools' SQL (no server needed: the text only).

What each rewrite must produce is checked on small texts; every shipped tool
must translate, with its parameters bound as psycopg's. The answers themselves
are compared on a real server in tests/postgres/.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("sqlglot", reason="the postgres extra is not installed")

from otel_obs.queries.dialects import DialectError, postgres_sql  # noqa: E402
from otel_obs.queries.registry import load_tools  # noqa: E402


@pytest.mark.parametrize("tool_id", sorted(load_tools()))
def test_every_tool_translates_with_psycopg_parameters(tool_id: str):
    tool = load_tools()[tool_id]
    sql = postgres_sql(tool.sql, tool.param_types)
    for name in tool.param_names:
        assert f"%({name})s" in sql, name
    assert not re.search(r"(?<![\w:]):[A-Za-z_]", re.sub(r"'(?:[^']|'')*'", "", sql))
    assert "group_concat" not in sql.lower() and "strftime" not in sql.lower()


def test_a_comparison_used_as_a_value_is_an_integer():
    sql = postgres_sql("SELECT SUM(status = 'failed') AS n, a = b AS same FROM t WHERE a = b")
    assert "SUM(CAST((status = 'failed') AS INT))" in sql
    assert "CAST((a = b) AS INT) AS same" in sql
    assert "WHERE a = b" in sql


def test_a_number_used_as_a_condition_is_compared_with_zero():
    sql = postgres_sql("SELECT CASE WHEN json_valid(x) THEN 1 END AS v FROM t WHERE flag")
    assert "WHEN (JSON_VALID(x)) <> 0" in sql and "WHERE (flag) <> 0" in sql


def test_numbers_are_doubles_and_round_as_sqlite():
    sql = postgres_sql("SELECT ROUND(100.0 * a / b, 1) AS p, AVG(d) AS m, MAX(a, b) AS g FROM t")
    assert "CAST(100.0 AS DOUBLE PRECISION)" in sql
    assert "CAST(ROUND(CAST(" in sql and "AS DECIMAL), 1) AS DOUBLE PRECISION)" in sql
    assert "CAST(AVG(d) AS DOUBLE PRECISION)" in sql
    assert "CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE GREATEST(a, b) END" in sql


def test_strftime_becomes_to_char_with_its_literals_quoted():
    sql = postgres_sql("SELECT strftime('%Y-%m-%dT%H:00:00Z', ts) AS hour FROM t")
    assert 'TO_CHAR(CAST(ts AS TIMESTAMP), \'YYYY"-"MM"-"DD"T"HH24":00:00Z"\')' in sql
    with pytest.raises(DialectError, match="%w"):
        postgres_sql("SELECT strftime('%w', ts) AS d FROM t")


def test_a_list_orders_inside_the_aggregate_as_its_rows_are_ordered():
    sql = postgres_sql(
        "SELECT g, group_concat(v, ';') AS vs"
        " FROM (SELECT g, v FROM t ORDER BY g, v DESC) GROUP BY g"
    )
    assert "STRING_AGG(CAST(v AS TEXT), ';' ORDER BY v DESC NULLS LAST)" in sql
    distinct = postgres_sql("SELECT group_concat(DISTINCT v) AS vs FROM t")
    assert "STRING_AGG(DISTINCT CAST(v AS TEXT), ',' ORDER BY CAST(v AS TEXT)" in distinct
    with pytest.raises(DialectError, match="ordered rows"):
        postgres_sql("SELECT group_concat(v) AS vs FROM t")


def test_shapes_postgresql_needs():
    recursive = postgres_sql(
        "WITH r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT n FROM r"
    )
    assert recursive.startswith("WITH RECURSIVE")
    aliased = postgres_sql("SELECT COUNT(*) AS n FROM (SELECT 1 AS x)")
    assert re.search(r"\) AS _sq1", aliased)
    renamed = postgres_sql("WITH overlaps AS (SELECT 1 AS a) SELECT a FROM overlaps")
    assert "overlaps_ AS" in renamed and "FROM overlaps_" in renamed
    null_safe = postgres_sql("SELECT 1 AS one FROM t WHERE a IS b AND c IS NULL")
    assert "a IS NOT DISTINCT FROM b" in null_safe and "c IS NULL" in null_safe


def test_an_order_on_a_column_without_nulls_is_left_to_the_index():
    # transcript_entries.sequence is NOT NULL: the index order serves it.
    sql = postgres_sql(
        "SELECT p.sequence FROM transcript_entries AS p ORDER BY p.sequence DESC LIMIT 1"
    )
    assert "ORDER BY p.sequence DESC LIMIT 1" in sql
    # a column that may hold NULLs keeps SQLite's place for them
    sql = postgres_sql("SELECT task_id FROM transcript_entries ORDER BY task_id DESC")
    assert "ORDER BY task_id DESC NULLS LAST" in sql


def test_parameters_percent_signs_and_positional_marks():
    sql = postgres_sql(
        "SELECT a % 2 AS m FROM t WHERE b LIKE '50%' AND c = :c AND d = ?", (("c", "int"),)
    )
    assert "a %% NULLIF(2, 0)" in sql and "'50%%'" in sql  # x % 0 is NULL, as in SQLite
    assert "CAST(%(c)s AS BIGINT)" in sql and "d = %s" in sql
    assert "ILIKE" in sql  # SQLite's LIKE ignores the case of ASCII letters
