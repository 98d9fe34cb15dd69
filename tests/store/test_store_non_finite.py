"""NaN and infinities never reach the store as numbers JSON and SQL cannot read.

Python writes ``NaN`` / ``Infinity`` into JSON; SQLite's JSON functions call
that malformed, so one such value in an entry's details broke every SQL tool
reading the execution, and in a float column of the writer thread's batch it
failed the whole batch. They are stored as null instead.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from otel_obs import conventions as c
from otel_obs.config import get_pipeline
from otel_obs.exporters.jsonl import transcript_path
from otel_obs.queries.runner import ObservabilitySkills
from otel_obs.tool_use_logger import ToolUseLogger
from otel_obs.transcript_writer import TranscriptWriter

NAN, INF = float("nan"), float("inf")


def strict_json(text: str):
    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_non_finite_numbers_are_stored_as_null(tmp_path: Path, writer: str):
    pipeline = get_pipeline(tmp_path / "obs.db", tmp_path / "t", writer=writer)
    try:
        transcript = TranscriptWriter("exec-n", "agent-1", pipeline=pipeline)
        tools = ToolUseLogger(transcript)
        transcript.write({"entry_type": "task_start", "task_id": "T1"})
        transcript.write(
            {
                "entry_type": "decision",
                "summary": "pick",
                "details": {"options": ["a", "b"], "chosen": "a", "score": NAN, "range": [-INF]},
            }
        )
        tool_id = tools.log_start({"id": "calc", "name": "Calc", "input": {"x": INF, "y": 1.5}})
        tools.log_end(tool_id, {"content": "ok"})
        # Another producer's span, its entry with a NaN duration and NaN in details text.
        other = pipeline.tracer.start_span(
            "phase odd",
            attributes={
                c.KIND: c.KIND_PHASE,
                c.EXECUTION_ID: "exec-n",
                c.INSTANCE_ID: "agent-2",
                c.ENTRY_ID: "odd-1",
                c.ENTRY_TYPE: "phase_start",
                c.ENTRY_DETAILS: '{"phase": "odd", "weight": NaN}',
                c.ENTRY_DURATION_MS: NAN,
            },
        )
        other.end()
        transcript.write({"entry_type": "task_end", "task_id": "T1"})
        transcript.close()
        assert pipeline.flush(10)
        stats = pipeline.store.stats()
    finally:
        pipeline.shutdown()
    assert stats["failures"] == 0 and stats["dropped_rows"] == 0

    conn = sqlite3.connect(tmp_path / "obs.db")
    entries = conn.execute(
        "SELECT id, entry_type, json_valid(details), duration_ms FROM transcript_entries"
    ).fetchall()
    decision = conn.execute(
        "SELECT json_extract(details, '$.score'), json_extract(details, '$.range[0]'),"
        " json_extract(details, '$.chosen') FROM transcript_entries WHERE entry_type = 'decision'"
    ).fetchone()
    tool_input = conn.execute("SELECT input FROM tool_uses WHERE id = 'calc'").fetchone()[0]
    odd = conn.execute(
        "SELECT duration_ms, json_extract(details, '$.weight'), json_extract(details, '$.phase')"
        " FROM transcript_entries WHERE id = 'odd-1'"
    ).fetchone()
    conn.close()
    assert {e[1] for e in entries} >= {"task_start", "decision", "tool_use", "phase_start"}
    assert all(e[2] == 1 for e in entries), entries
    assert decision == (None, None, "a")
    assert strict_json(tool_input) == {"x": None, "y": 1.5}
    assert odd == (None, None, "odd")
    for line in transcript_path(tmp_path / "t", "exec-n").read_text().splitlines():
        strict_json(line)
    # The SQL tools that read details run on the execution.
    skills = ObservabilitySkills(tmp_path / "obs.db")
    assert [r["chosen"] for r in skills.run("I006", execution_id="exec-n")] == ["a"]
    skills.run("T001", execution_id="exec-n")
    skills.validate("exec-n")
