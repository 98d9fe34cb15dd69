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


def test_every_public_name_imports_from_the_top_package():
    import otel_obs

    expected = {
        "TranscriptWriter",
        "ToolUseLogger",
        "SkillTracer",
        "AssertionRecorder",
        "TranscriptEntry",
        "SkillReference",
        "AssertionResult",
        "ChainResult",
        "configure",
        "ObservabilitySkills",
        "obs_validate",
        "obs_errors",
        "obs_parallel_health",
        "obs_anomalies",
        "obs_summary",
    }
    assert expected <= set(otel_obs.__all__)
    for name in otel_obs.__all__:
        assert getattr(otel_obs, name) is not None, name
    with pytest.raises(AttributeError, match="no_such_name"):
        otel_obs.no_such_name  # noqa: B018


def test_the_query_sides_public_names_keep_their_old_paths():
    # The query side lives in otel_obs.queries; the names users were shown
    # before it moved there still import from where they were.
    from otel_obs import ObservabilitySkills
    from otel_obs.queries.readonly import ReadTimeoutError
    from otel_obs.queries.runner import ObservabilitySkills as runner_skills
    from otel_obs.readonly import ReadTimeoutError as old_error

    assert ObservabilitySkills is runner_skills
    assert old_error is ReadTimeoutError
