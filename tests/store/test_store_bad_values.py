"""One agent's bad values never cost another agent its rows, nor hold the store's write lock."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from otel_obs import ToolUseLogger, TranscriptEntry, TranscriptWriter
from otel_obs.config import close_private_pipelines
from otel_obs.exporters.jsonl import transcript_path


def tool_uses(writer: TranscriptWriter, prefix: str, n: int, payload: str = "x") -> None:
    log = ToolUseLogger(writer)
    for i in range(n):
        tool = log.log_start({"id": f"{prefix}{i}", "name": "Bash", "input": {"command": payload}})
        log.log_end(tool, {"tool_use_id": f"{prefix}{i}", "content": payload, "is_error": False})


@pytest.mark.parametrize("writer", ["thread", "process"])
def test_values_sqlite_cannot_hold_are_stored_safely_and_others_keep_their_rows(
    tmp_path: Path, writer: str, monkeypatch
):
    monkeypatch.setenv("OTEL_OBS_WRITER", writer)
    db, transcripts = tmp_path / "obs.db", tmp_path / "t"
    bad = TranscriptWriter(
        "exec-bad", "agent-bad", wave_number=2**70, db_path=db, transcripts_dir=transcripts
    )
    good = TranscriptWriter("exec-good", "agent-good", db_path=db, transcripts_dir=transcripts)
    bad.write(TranscriptEntry(entry_type="discovery", summary="huge", token_estimate=2**70))
    tool_uses(bad, "bad-", 3, payload="lone \ud800 surrogate \udfff")
    tool_uses(good, "good-", 100)
    bad.close()
    good.close()
    stats = bad.pipeline.store.stats()  # the store both agents wrote through
    close_private_pipelines()

    conn = sqlite3.connect(db)
    count = "SELECT count(*) FROM {} WHERE execution_id = ?"
    assert conn.execute(count.format("tool_uses"), ("exec-good",)).fetchone() == (100,)
    assert conn.execute(count.format("tool_uses"), ("exec-bad",)).fetchone() == (3,)
    # The bad agent's entries are all there, the lone surrogates replaced.
    bad_rows = conn.execute(
        "SELECT summary FROM transcript_entries WHERE execution_id = 'exec-bad' ORDER BY sequence"
    ).fetchall()
    assert len(bad_rows) >= 4 and "huge" in [r[0] for r in bad_rows]
    inputs = [r[0] for r in conn.execute("SELECT input FROM tool_uses WHERE id LIKE 'bad-%'")]
    assert all("\ufffd" in text for text in inputs), inputs
    assert stats["dropped_rows"] == 0 and stats["values_made_safe"] > 0, stats
    # The database is sound, and nobody holds its lock: a new writer gets it at once.
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    other = sqlite3.connect(db, timeout=0.5, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    # Every JSONL line is valid JSON, for both agents.
    for execution_id in ("exec-bad", "exec-good"):
        for line in transcript_path(transcripts, execution_id).read_text("utf-8").splitlines():
            json.loads(line)
