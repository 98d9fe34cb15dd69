"""Transcript files: one per execution id, whatever it holds; each append on a line of its own."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from otel_obs import TranscriptEntry, TranscriptWriter
from otel_obs.exporters.jsonl import transcript_path

IDS = ["feat/login", "feat_login", "feat\\login", "..", ".", "x" * 300, "é-ü", "a b"]


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("writer", ["thread", "process"])
def test_distinct_execution_ids_never_share_a_transcript_file(
    tmp_path: Path, writer: str, monkeypatch
):
    monkeypatch.setenv("OTEL_OBS_WRITER", writer)
    db, transcripts = tmp_path / "obs.db", tmp_path / "t"
    for execution_id in IDS:
        w = TranscriptWriter(execution_id, "agent-1", db_path=db, transcripts_dir=transcripts)
        w.write(TranscriptEntry(entry_type="discovery", summary=f"from {execution_id}"))
        w.close()
    paths = {execution_id: transcript_path(transcripts, execution_id) for execution_id in IDS}
    assert len(set(paths.values())) == len(IDS)
    conn = sqlite3.connect(db)
    for execution_id, path in paths.items():
        assert path.resolve().is_relative_to(transcripts.resolve()), path
        assert len(path.parent.name.encode()) <= 255
        lines = lines_of(path)  # a file exists for every id, the 300-character one included
        assert {line["execution_id"] for line in lines} == {execution_id}
        stored = conn.execute(
            "SELECT id, sequence FROM transcript_entries WHERE execution_id = ? ORDER BY sequence",
            (execution_id,),
        ).fetchall()
        assert [(line["id"], line["sequence"]) for line in lines] == stored


def test_a_torn_last_line_does_not_swallow_the_next_append(tmp_path: Path):
    db, transcripts = tmp_path / "obs.db", tmp_path / "t"
    w = TranscriptWriter("exec-torn", "agent-1", db_path=db, transcripts_dir=transcripts)
    w.write(TranscriptEntry(entry_type="discovery", summary="before"))
    w.flush()
    path = transcript_path(transcripts, "exec-torn")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"id": "torn", "execution_id": "exec-to')  # a write cut short
    w.write(TranscriptEntry(entry_type="discovery", summary="after"))
    w.close()
    raw = path.read_text(encoding="utf-8").splitlines()
    assert raw[1].startswith('{"id": "torn"')  # the torn line stays alone on its line
    after = json.loads(raw[2])
    assert after["summary"] == "after"
    summaries = [json.loads(line)["summary"] for line in raw if line != raw[1]]
    assert summaries == ["before", "after"]
