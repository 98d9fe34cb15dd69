"""Transcript lines are the SQLite rows: every column, value for value, whatever the text holds."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from otel_obs import conventions as c
from otel_obs.config import get_pipeline
from otel_obs.exporters.jsonl import transcript_path

#: Text that JSON must escape or that a template could misread.
AWKWARD = 'quote " backslash \\ newline \n tab \t percent %s %% é ✓ \u2028 \u2029 nul-ish \x01'


def test_every_jsonl_line_equals_its_sqlite_row(tmp_path: Path):
    pipe = get_pipeline(tmp_path / "obs.db", tmp_path / "t", writer="thread")
    tracer = pipe.tracer
    base = {c.EXECUTION_ID: "exec-lines", c.INSTANCE_ID: "agent-1", c.WAVE_NUMBER: 3}
    # A tool span with awkward text, an explicit entry id, category and token estimate.
    tool = tracer.start_span(
        "execute_tool Read",
        attributes={
            **base,
            c.KIND: c.KIND_TOOL,
            c.TASK_ID: "T1",
            c.GEN_AI_TOOL_NAME: "Read",
            c.GEN_AI_TOOL_CALL_ID: "toolu_1",
            c.ENTRY_ID: "entry-tool-1",
            c.ENTRY_SUMMARY: AWKWARD,
            c.ENTRY_CATEGORY: "action",
            c.ENTRY_DETAILS: json.dumps({"text": AWKWARD, "n": 1.5}),
            c.ENTRY_SKILL_REF: json.dumps({"skill": "s", "line": 7}),
            c.ENTRY_TOKEN_ESTIMATE: 42,
        },
    )
    tool.set_attribute(c.TOOL_RESULT_STATUS, "done")
    tool.end()
    # A tool span that leaves its entry fields to the mapping (derived id and summary).
    lean = tracer.start_span(
        "execute_tool Bash",
        attributes={**base, c.KIND: c.KIND_TOOL, c.GEN_AI_TOOL_CALL_ID: "toolu_2"},
    )
    lean.end()
    # An event entry with a float duration and a non-JSON details text.
    with tracer.start_as_current_span("task T2", attributes={**base, c.TASK_ID: "T2"}) as span:
        span.add_event(
            c.EVENT_PREFIX + "decision",
            {
                c.ENTRY_ID: "entry-decision",
                c.ENTRY_SUMMARY: 'chose ✓ "b"',
                c.ENTRY_DETAILS: "not json: " + AWKWARD,
                c.ENTRY_DURATION_MS: 12.25,
            },
        )
    assert pipe.flush(10)
    conn = sqlite3.connect(pipe.db_path)
    conn.row_factory = sqlite3.Row
    table = [
        dict(r)
        for r in conn.execute(
            "SELECT * FROM transcript_entries WHERE execution_id = ? ORDER BY sequence",
            ("exec-lines",),
        )
    ]
    conn.close()
    text = transcript_path(pipe.transcripts_dir, "exec-lines").read_text(encoding="utf-8")
    # Line separators inside values are escaped, so any line-splitting reader sees one
    # record per line.
    assert "\u2028" not in text and "\u2029" not in text
    lines = text.splitlines()
    pipe.shutdown()
    assert len(lines) == len(table) == 3
    for line, row in zip(lines, table, strict=True):
        parsed = json.loads(line)
        expected = {
            **row,
            "details": json.loads(row["details"]),
            "skill_ref": None if row["skill_ref"] is None else json.loads(row["skill_ref"]),
        }
        assert parsed == expected
    tool_line = json.loads(lines[0])
    assert tool_line["summary"] == AWKWARD
    assert tool_line["details"] == {"text": AWKWARD, "n": 1.5}
    assert tool_line["token_estimate"] == 42 and tool_line["wave_number"] == 3
    assert json.loads(lines[2])["details"] == {"value": "not json: " + AWKWARD}
    assert json.loads(lines[2])["duration_ms"] == 12.25
