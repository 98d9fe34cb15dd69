"""Every per-execution tool starts from its execution's rows through an index.

``EXPLAIN QUERY PLAN`` on a store without statistics (what a real store is,
nobody runs ANALYZE on it) must show no full scan of the big tables — no
``SCAN`` of transcript_entries, tool_uses or assertion_results, with or
without a covering index, and no automatic index built over one (which is a
scan too). Aliases are resolved from the SQL so ``SCAN e`` counts as well.
"""

from __future__ import annotations

import re
import sqlite3

import pytest

from otel_obs.exporters import schema
from otel_obs.queries.registry import Tool, load_tools

BIG_TABLES = ("transcript_entries", "tool_uses", "assertion_results")
_KEYWORDS = {"WHERE", "ON", "JOIN", "LEFT", "INNER", "CROSS", "GROUP", "ORDER", "LIMIT", "UNION"}
_FROM_RE = re.compile(r"\b(?:FROM|JOIN)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?", re.IGNORECASE)
_PLAN_RE = re.compile(r"^(SCAN|SEARCH) (\w+)")

#: Identifiers a test binds: each names one execution / task / list / correlation.
IDS = {"execution_id", "task_id", "task_list_id", "correlation_id", "event_id"}


@pytest.fixture(scope="module")
def empty_store():
    conn = sqlite3.connect(":memory:")
    schema.migrate(conn)
    yield conn
    conn.close()


def big_table_names(sql: str) -> set[str]:
    """The big tables and every alias the SQL gives them."""
    names = set(BIG_TABLES)
    for table, alias in _FROM_RE.findall(sql):
        if table in BIG_TABLES and alias and alias.upper() not in _KEYWORDS:
            names.add(alias)
    return names


def full_scans(conn: sqlite3.Connection, sql: str, params: dict) -> list[str]:
    names = big_table_names(sql)
    bad = []
    for *_, detail in conn.execute("EXPLAIN QUERY PLAN " + sql, params):
        match = _PLAN_RE.match(detail)
        if match and match.group(2) in names:
            if match.group(1) == "SCAN" or "AUTOMATIC" in detail:
                bad.append(detail)
    return bad


def bound(tool: Tool) -> dict:
    params = {p.name: p.default_value() for p in tool.params}
    for name in params:
        if name in IDS:
            params[name] = "some-id"
    return params


def test_the_check_itself_sees_a_full_scan(empty_store):
    sql = "SELECT e.id FROM transcript_entries AS e WHERE e.summary = :x"
    assert full_scans(empty_store, sql, {"x": "y"}) == ["SCAN e"]


@pytest.mark.parametrize("tool_id", sorted(load_tools()))
def test_no_tool_scans_a_big_table(empty_store, tool_id):
    tool = load_tools()[tool_id]
    assert full_scans(empty_store, tool.sql, bound(tool)) == []
