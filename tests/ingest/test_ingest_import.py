"""``otel-obs import``: a store rebuilt or completed from its JSONL transcripts.

The source is a real run: the demo's worker processes writing a store. The
JSONL (transcripts and the row spools beside them, see
otel_obs/ingest/jsonl_import.py) must give back the store exactly: every table,
and every SQL tool's answers; importing again must change nothing.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ingest_support import Close, table_rows

from otel_obs.exporters.jsonl import ROWS_FILE
from otel_obs.ingest.jsonl_import import import_jsonl
from otel_obs.queries.registry import load_tools
from otel_obs.queries.runner import ObservabilitySkills

#: The tables a transcript alone restores (without its row spool).
RESTORED = ("transcript_entries", "message_bus_log", "tasks", "task_relationships")
#: Tables the demo leaves empty: the store's own, and model calls (the demo makes none).
EMPTY = ("llm_calls", "pending_spans", "span_links", "unmapped_spans")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A finished demo run (two waves of three worker processes): its database and JSONL."""
    folder = tmp_path_factory.mktemp("import-source")
    done = subprocess.run(
        [sys.executable, "-m", "otel_obs", "demo", "--workers", "3", "--db", "obs.db", "--json"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return folder


def _copy_transcripts(run: Path, to: Path) -> Path:
    shutil.copytree(run / "transcripts", to / "transcripts")
    return to / "transcripts"


def _execution(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT id FROM task_list_execution_runs").fetchone()[0]
    finally:
        conn.close()


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.jsonl"))}


def _transcript(folder: Path) -> Path:
    (path,) = folder.rglob("transcript.jsonl")
    return path


def _tool_params(tool, execution_id: str, event_id: str | None = None) -> dict[str, str]:
    names = {p.name for p in tool.params}
    values = {
        "execution_id": execution_id,
        "task_id": "T03",
        "task_list_id": "demo-task-list",
        "now": "2030-01-01T00:00:00.000000Z",
        "correlation_id": "T03",
        "event_id": event_id,
    }
    return {k: v for k, v in values.items() if k in names and v is not None}


def _answers(db: Path, execution_id: str, event_id: str) -> dict[str, Any]:
    """Every SQL tool's answer on ``db`` (``now`` fixed where a tool takes it)."""
    skills = ObservabilitySkills(db)
    return {
        tool.id: skills.run(tool.id, **_tool_params(tool, execution_id, event_id))
        for tool in load_tools().values()
    }


def _close(value: Any) -> Any:
    """``value`` with its floats compared within a millionth (sums taken in another order)."""
    if isinstance(value, float):
        return Close(value)
    if isinstance(value, list | tuple):
        return [_close(v) for v in value]
    if isinstance(value, dict):
        return {k: _close(v) for k, v in value.items()}
    return value


def test_a_deleted_store_is_rebuilt_from_jsonl(run: Path, tmp_path: Path) -> None:
    """A run's store deleted and rebuilt by ``otel-obs import`` from its transcripts folder
    (transcripts and row spools): every table as it was, every SQL tool (the spec's 39 and
    those beside them) answering as on the original."""
    transcripts = _copy_transcripts(run, tmp_path)
    db = tmp_path / "obs.db"
    shutil.copy(run / "obs.db", db)
    before = _files(transcripts)
    original = table_rows(db, exclude={})
    execution_id = _execution(db)
    event_id = original["transcript_entries"][0][0]
    answers = _answers(db, execution_id, event_id)
    db.unlink()  # the SQLite file is gone: only the JSONL is left

    done = subprocess.run(
        [sys.executable, "-m", "otel_obs", "import", str(transcripts), "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["malformed"] == 0 and report["storage_failures"] is None
    assert report["read"] == report["added"] == len(original["transcript_entries"]) > 300
    assert report["rows"] > 500

    rebuilt = table_rows(db, exclude={})
    assert set(rebuilt) == set(original)
    for table in original:
        assert rebuilt[table] == original[table], table  # sequence numbers included
        assert table in EMPTY or original[table], table  # the run fills every other table
    assert _files(transcripts) == before  # the store's own JSONL is not written again

    again = _answers(db, execution_id, event_id)
    assert len(answers) == len(load_tools()) >= 39  # the spec's 39 and those beside them
    for tool_id, answer in answers.items():
        assert _close(again[tool_id]) == _close(answer), tool_id
    assert sum(1 for answer in answers.values() if answer) >= 25  # most tools have rows


def test_a_transcript_without_its_spool_restores_what_entries_hold(
    run: Path, tmp_path: Path
) -> None:
    """Transcripts alone (written before there were row spools, or a spool lost) give back
    their entries and what the mapping derives from them."""
    transcripts = _copy_transcripts(run, tmp_path)
    for spool in transcripts.rglob(ROWS_FILE):
        spool.unlink()
    db = tmp_path / "entries-only.db"
    report = import_jsonl([transcripts], db, transcripts)
    original = table_rows(run / "obs.db", exclude={})
    rebuilt = table_rows(db, exclude={})
    assert report.malformed == 0 and report.rows == 0
    for table in RESTORED:
        assert rebuilt[table] == original[table], table
    assert rebuilt["wave_task_assignments"] == original["wave_task_assignments"]
    declared = [r for r in original["task_file_impacts"] if r[0].startswith("task:")]
    assert rebuilt["task_file_impacts"] == declared
    assert rebuilt["tool_uses"] == [] and rebuilt["skill_traces"] == []


def test_importing_twice_gives_the_same_store(run: Path, tmp_path: Path) -> None:
    transcripts = _copy_transcripts(run, tmp_path)
    db = tmp_path / "twice.db"
    first = import_jsonl([transcripts], db, transcripts)
    rows = table_rows(db, exclude={})
    files = _files(transcripts)
    second = import_jsonl([transcripts, _transcript(transcripts)], db, transcripts)
    assert second.files == 2  # a file named twice is read once (the transcript, its spool)
    assert (second.read, second.added, second.skipped) == (first.read, 0, first.read)
    assert second.rows == first.rows > 0
    assert table_rows(db, exclude={}) == rows
    assert _files(transcripts) == files


def test_a_store_that_lacks_rows_is_completed(run: Path, tmp_path: Path) -> None:
    transcripts = _copy_transcripts(run, tmp_path)
    db = tmp_path / "partial.db"
    shutil.copy(run / "obs.db", db)
    conn = sqlite3.connect(db)
    with conn:
        lost = conn.execute(
            "DELETE FROM transcript_entries WHERE sequence % 7 = 0 OR entry_type = 'decision'"
        ).rowcount
        conn.execute("DELETE FROM message_bus_log WHERE event_type = 'decision'")
        conn.execute("DELETE FROM tasks WHERE id IN ('T01', 'T05')")
    conn.close()
    report = import_jsonl([transcripts], db, transcripts)
    assert report.added == lost > 0
    assert report.skipped == report.read - lost
    original = table_rows(run / "obs.db")  # without sequence: the store numbers what it adds
    completed = table_rows(db)
    for table in original:
        assert completed[table] == original[table], table
    # The entries put back take numbers after the last one: none shared, none reused.
    conn = sqlite3.connect(db)
    numbers = [r[0] for r in conn.execute("SELECT sequence FROM transcript_entries")]
    conn.close()
    assert len(numbers) == len(set(numbers)) == len(original["transcript_entries"])


def test_a_run_whose_sqlite_writes_failed_is_restored(tmp_path: Path) -> None:
    from otel_obs import ToolUseLogger, TranscriptWriter

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")  # the database's folder cannot be made: SQLite fails, JSONL goes on
    transcripts = tmp_path / "transcripts"
    writer = TranscriptWriter(
        "exec-nosql", "agent-1", db_path=blocker / "obs.db", transcripts_dir=transcripts
    )
    tools = ToolUseLogger(writer)
    with writer.task("T1", "survive", action="CREATE", file="src/x.py", depends_on=["T0"]):
        for n in range(3):
            tid = tools.log_start({"id": f"toolu_{n}", "name": "Bash", "input": {"command": "ls"}})
            tools.log_end(tid, {"tool_use_id": tid, "content": "ok", "is_error": False})
        writer.write({"entry_type": "decision", "summary": "go", "details": {"chosen": "a"}})
    writer.close()
    stats = writer.pipeline.store.stats()
    assert stats["failures"] > 0 and stats["entries_written"] == 0
    assert stats["spool_rows"] > 0 and stats["spool_dropped_rows"] == 0
    path = _transcript(transcripts)
    spool = path.with_name(ROWS_FILE).read_bytes()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 6 and all(line["sequence"] is None for line in lines)

    db = tmp_path / "restored.db"
    report = import_jsonl([transcripts], db, transcripts)
    assert report.added == 6
    conn = sqlite3.connect(db)
    entries = conn.execute(
        "SELECT id, sequence FROM transcript_entries WHERE execution_id = 'exec-nosql'"
        " ORDER BY sequence"
    ).fetchall()
    task = conn.execute("SELECT status, file FROM tasks WHERE id = 'T1'").fetchone()
    depends = conn.execute("SELECT target_task_id FROM task_relationships").fetchall()
    bus = conn.execute("SELECT event_type FROM message_bus_log").fetchall()
    tool_uses = conn.execute(
        "SELECT id, tool, result_status, output, task_id, transcript_entry_id IS NOT NULL"
        " FROM tool_uses ORDER BY id"
    ).fetchall()
    agent = conn.execute("SELECT id FROM build_agent_instances").fetchall()
    conn.close()
    assert entries == [(line["id"], n) for n, line in enumerate(lines, 1)]
    assert task == ("completed", "src/x.py")
    assert depends == [("T0",)] and bus == [("decision",)]
    # What SQLite could not take comes back from the row spool.
    assert tool_uses == [(f"toolu_{n}", "Bash", "done", "ok", "T1", 1) for n in range(3)]
    assert agent == [("agent-1",)]
    assert len(path.read_text().splitlines()) == 6  # nothing appended to its own transcript
    assert path.with_name(ROWS_FILE).read_bytes() == spool  # nor to its own spool


def test_other_transcripts_are_added_to_the_stores_jsonl_once(run: Path, tmp_path: Path) -> None:
    source = _copy_transcripts(run, tmp_path)
    store_transcripts = tmp_path / "central" / "transcripts"
    db = tmp_path / "central" / "obs.db"
    for _ in range(2):
        import_jsonl([source], db, store_transcripts)
    copied, original = _transcript(store_transcripts), _transcript(source)
    assert copied.read_text() == original.read_text()
    # Each spool line once (the import adds the rows it derives from entries it adds).
    copied_rows = copied.with_name(ROWS_FILE).read_text().splitlines()
    original_rows = original.with_name(ROWS_FILE).read_text().splitlines()
    assert set(original_rows) <= set(copied_rows)
    assert len(copied_rows) == len(set(copied_rows)) or len(original_rows) != len(
        set(original_rows)
    )


def test_cli_reports_malformed_lines_with_file_and_line(run: Path, tmp_path: Path) -> None:
    good_file = _transcript(run / "transcripts")
    good = good_file.read_bytes().splitlines(keepends=True)[:5]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(
        good[0]
        + b"{not json\n"
        + good[1].replace(b'"entry_type": "', b'"entry_type": "bogus_')
        + good[2].replace(b'"timestamp": "', b'"timestamp": "yesterday')
        + b'{"id": "x\xff"}\n'
        + good[3]
        + b"\n"
        + good[4]
    )
    db = tmp_path / "cli.db"
    done = subprocess.run(
        [sys.executable, "-m", "otel_obs", "import", str(mixed), "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert (result["read"], result["added"], result["malformed"]) == (3, 3, 4)
    for number, why in ((2, "not JSON"), (3, "bogus_"), (4, "yesterday"), (5, "not UTF-8")):
        assert re.search(rf"{re.escape(str(mixed))}:{number}: .*{why}", done.stderr), (
            number,
            done.stderr,
        )

    missing = subprocess.run(
        [sys.executable, "-m", "otel_obs", "import", str(tmp_path / "nope"), "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "nope" in missing.stderr


def test_a_store_that_cannot_be_written_is_reported_not_raised(run: Path, tmp_path: Path) -> None:
    transcripts = _copy_transcripts(run, tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    report = import_jsonl([transcripts], blocker / "obs.db", transcripts)
    assert report.read > 0 and report.added == 0
    assert "storage failures" in report.storage and str(blocker) in report.storage


def test_nul_in_imported_ids_keeps_them_apart(run: Path, tmp_path: Path) -> None:
    """Texts read from JSONL are stored as the producers store theirs: NUL becomes U+FFFD
    (SQLite would cut ``x<NUL>A`` and ``x<NUL>B`` to one ``x``)."""
    source = _transcript(run / "transcripts")
    entry = json.loads(source.read_text().splitlines()[0])
    lines = [json.dumps({**entry, "execution_id": f"x\x00{n}", "id": f"e\x00{n}"}) for n in "AB"]
    crafted = tmp_path / "crafted.jsonl"
    crafted.write_text("\n".join(lines) + "\n")
    db = tmp_path / "nul.db"
    report = import_jsonl([crafted], db, tmp_path / "transcripts")
    assert (report.read, report.added) == (2, 2)
    conn = sqlite3.connect(db)
    try:
        got = conn.execute("SELECT execution_id, id FROM transcript_entries ORDER BY 1").fetchall()
    finally:
        conn.close()
    assert got == [("x\ufffdA", "e\ufffdA"), ("x\ufffdB", "e\ufffdB")]
