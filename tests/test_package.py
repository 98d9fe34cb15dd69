"""The installed package: public names, layout, and the schema it ships."""

from __future__ import annotations

import sqlite3

import pytest

from otel_obs import conventions
from otel_obs.exporters import schema


def test_schema_migrates_a_new_database_to_the_current_version(tmp_path):
    conn = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    assert schema.migrate(conn) == schema.SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert set(schema.TABLES) <= tables
    # A second migrate is a no-op, not a second CREATE.
    assert schema.migrate(conn) == schema.SCHEMA_VERSION


def test_schema_refuses_a_newer_database(tmp_path):
    conn = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    with pytest.raises(schema.SchemaTooNewError, match="newer"):
        schema.migrate(conn)


@pytest.mark.parametrize(
    ("tool", "category"),
    [
        ("Read", "file_read"),
        ("Grep", "file_read"),
        ("Write", "file_write"),
        ("MultiEdit", "file_write"),
        ("Bash", "shell"),
        ("mcp__puppeteer__navigate", "browser"),
        ("WebFetch", "network"),
        ("Task", "agent"),
        ("mcp__github__create_issue", "custom"),
    ],
)
def test_tool_category_from_name(tool, category):
    assert conventions.tool_category(tool) == category
