"""The row spool (``rows.jsonl``): bounded as the writer writes it, checked as import reads it.

The writer's side: a statement's rows are split over lines no longer than the
cap, a row that alone would be longer is left out and counted, and rows of
several executions go to each execution's spool. The import's side: a spool
line naming a table the store does not write, a column the table lacks (the
names reach SQL), a row without a value the table requires, a value that is
not a JSON scalar, rows of several executions, or a line past the cap is
skipped and reported as ``file:line: reason``; the other lines are replayed.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from otel_obs import ToolUseLogger, TranscriptWriter
from otel_obs.exporters.jsonl import ROW_LINE_BYTES, ROWS_FILE, RowLines, rows_path

COLUMNS = ("id", "execution_id", "tool", "output")


def test_spool_lines_are_split_at_the_cap_and_a_row_past_it_is_counted(tmp_path: Path) -> None:
    spool = RowLines(tmp_path, line_bytes=4096)
    rows = [(f"t{n}", "exec-a", "Bash", "x" * 300) for n in range(40)]
    rows.append(("huge", "exec-a", "Bash", "é" * 3000))  # 6,000 bytes: over the cap alone
    rows += [(f"u{n}", "exec-b", "Read", "ok") for n in range(3)]
    spool.add("tool_uses", "end", COLUMNS, rows)
    spool.heartbeats({("exec-b", "agent-1"): ["2026-01-01T00:00:00.000000Z", "T1"]})
    out = spool.take()
    assert set(out) == {rows_path(tmp_path, "exec-a"), rows_path(tmp_path, "exec-b")}
    assert spool.dropped == 1 and spool.rows == 40 + 3 + 1
    a_lines = out[rows_path(tmp_path, "exec-a")]
    assert len(a_lines) > 3
    assert all(len(line.encode()) <= 4096 and line.endswith("}\n") for line in a_lines)
    ids = [row[0] for line in a_lines for row in json.loads(line)["rows"]]
    assert sorted(ids) == sorted(f"t{n}" for n in range(40))  # each row once, none lost
    b_lines = [json.loads(line) for line in out[rows_path(tmp_path, "exec-b")]]
    assert b_lines[0]["columns"] == list(COLUMNS) and len(b_lines[0]["rows"]) == 3
    assert b_lines[1] == {
        "heartbeats": [["exec-b", "agent-1", "2026-01-01T00:00:00.000000Z", "T1"]]
    }
    assert spool.take() == {}


def _run(transcripts: Path, db: Path) -> Path:
    """A small real run; its row spool."""
    writer = TranscriptWriter("exec-spool", "agent-1", db_path=db, transcripts_dir=transcripts)
    tools = ToolUseLogger(writer)
    with writer.task("T1", "spool", action="CREATE", file="src/x.py"):
        tid = tools.log_start({"id": "toolu_1", "name": "Bash", "input": {"command": "ls"}})
        tools.log_end(tid, {"tool_use_id": tid, "content": "ok", "is_error": False})
    writer.close()
    return rows_path(transcripts, "exec-spool")


def test_hostile_spool_lines_are_skipped_and_reported(tmp_path: Path) -> None:
    spool = _run(tmp_path / "source", tmp_path / "source.db")
    good = spool.read_text().splitlines()
    tool_line = next(json.loads(line) for line in good if '"table": "tool_uses"' in line)

    def variant(**change: object) -> str:
        return json.dumps({**tool_line, **change})

    columns = tool_line["columns"]
    row = tool_line["rows"][0]
    at = columns.index("output")
    bad = {
        2: variant(table="sqlite_master"),
        3: variant(table="tool_uses_v2"),
        4: variant(phase="later"),
        5: variant(columns=[*columns[:-1], "output) VALUES (1); DROP TABLE tasks; --"]),
        6: variant(columns=columns[1:], rows=[row[1:]]),  # no id: the key is required
        7: variant(rows=[[*row[:at], {"nested": 1}, *row[at + 1 :]]]),
        8: variant(rows=[row, [*row[:1], "exec-other", *row[2:]]]),
        9: variant(rows=[[*row[:at], 1 << 70, *row[at + 1 :]]]),
        10: variant(rows=[row[:-1]]),
        11: json.dumps({"heartbeats": [["exec-spool", None, "2026", None]]}),
        12: json.dumps({"links": [["t", "s"]]}),
        13: "[1, 2]",
        14: variant(rows=[[*row[:at], "x" * ROW_LINE_BYTES, *row[at + 1 :]]]),
    }
    reasons = {
        2: "sqlite_master",
        3: "tool_uses_v2",
        4: "later",
        5: "DROP TABLE",
        6: "need id",
        7: "JSON scalar",
        8: "several executions",
        9: "64-bit",
        10: "list of",
        11: "heartbeats",
        12: "links",
        13: "not a JSON object",
        14: "longer than the limit",
    }
    crafted = tmp_path / "crafted" / ROWS_FILE
    crafted.parent.mkdir()
    lines = [good[0], *(bad[n] for n in sorted(bad)), *good[1:]]
    crafted.write_text("\n".join(lines) + "\n")
    db = tmp_path / "imported.db"
    done = subprocess.run(
        [sys.executable, "-m", "otel_obs", "import", str(crafted), "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["malformed"] == len(bad), done.stderr
    skipped = {
        int(line.split(f"{crafted}:")[1].split(":")[0]): line
        for line in done.stderr.splitlines()
        if f"{crafted}:" in line
    }
    assert set(skipped) == set(reasons), done.stderr
    for number, why in reasons.items():
        assert why in skipped[number], (number, skipped[number])
    conn = sqlite3.connect(db)
    try:
        tools = conn.execute("SELECT id, tool, output FROM tool_uses").fetchall()
        tasks = conn.execute("SELECT id, status FROM tasks").fetchall()
    finally:
        conn.close()
    assert tools == [("toolu_1", "Bash", "ok")] and tasks == [("T1", "completed")]
