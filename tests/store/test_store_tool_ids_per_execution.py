"""A tool-call id is unique only within its execution: two executions' call_0 are two tool uses."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from otel_obs import ObservabilitySkills, ToolUseLogger, TranscriptWriter
from otel_obs.config import close_private_pipelines
from otel_obs.exporters import schema


@pytest.mark.parametrize("writer", ["thread", "process"])
def test_the_same_call_ids_in_two_executions_keep_both(tmp_path: Path, writer: str, monkeypatch):
    monkeypatch.setenv("OTEL_OBS_WRITER", writer)
    db, transcripts = tmp_path / "obs.db", tmp_path / "t"
    for execution_id in ("exec-a", "exec-b"):
        agent = TranscriptWriter(execution_id, "agent", db_path=db, transcripts_dir=transcripts)
        log = ToolUseLogger(agent)
        for i in range(5):  # frameworks number calls call_0, call_1, ... in every conversation
            tool = log.log_start({"id": f"call_{i}", "name": "Bash", "input": {"command": "ls"}})
            log.log_end(tool, {"tool_use_id": f"call_{i}", "content": execution_id})
        agent.close()
    close_private_pipelines()
    conn = sqlite3.connect(db)
    for execution_id in ("exec-a", "exec-b"):
        rows = conn.execute(
            "SELECT id, output FROM tool_uses WHERE execution_id = ? ORDER BY id", (execution_id,)
        ).fetchall()
        assert rows == [(f"call_{i}", execution_id) for i in range(5)]
        entries = conn.execute(
            "SELECT tool_use_id FROM transcript_entries"
            " WHERE execution_id = ? AND entry_type = 'tool_use' ORDER BY sequence",
            (execution_id,),
        ).fetchall()
        assert entries == [(f"call_{i}",) for i in range(5)]
        assert ObservabilitySkills(db).validate(execution_id) == []  # no integrity issue
    conn.close()


def test_a_store_of_the_first_schema_keeps_its_tool_uses_when_migrated(tmp_path: Path):
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    for statement in schema.split_statements(schema.MIGRATIONS[0]):  # noqa: SLF001 - build a v1 store
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO tool_uses (id, execution_id, tool, tool_category, start_time)"
        " VALUES ('call_0', 'exec-old', 'Bash', 'shell', '2026-01-01T00:00:00.000000Z')"
    )
    assert schema.migrate(conn) == schema.SCHEMA_VERSION
    assert conn.execute("SELECT id, execution_id, tool FROM tool_uses").fetchall() == [
        ("call_0", "exec-old", "Bash")
    ]
    conn.execute(
        "INSERT INTO tool_uses (id, execution_id, tool, tool_category, start_time)"
        " VALUES ('call_0', 'exec-new', 'Bash', 'shell', '2026-01-01T00:00:01.000000Z')"
    )  # the same call id in another execution: a row of its own now
    assert conn.execute("SELECT count(*) FROM tool_uses").fetchone() == (2,)
    indexes = {r[1] for r in conn.execute("PRAGMA index_list(tool_uses)")}
    assert {"idx_tool_uses_exec_tool", "idx_tool_uses_skill"} <= indexes
    conn.close()
