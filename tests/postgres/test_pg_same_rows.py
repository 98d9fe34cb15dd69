"""The same spans make the same rows on PostgreSQL as on SQLite, and again the same rows
when they are delivered a second time.

Every framework recording (tests/recordings) is decoded as ``serve`` decodes it and
exported into a SQLite store and into a PostgreSQL store: every table, every column,
sequence numbers included, is equal.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_support import table_rows
from pg_stores import pg_table_rows
from recordings.otlp_file import HERE, load_recording

from otel_obs.exporters.exporter import SqliteSpanExporter
from otel_obs.exporters.store_choice import thread_store
from otel_obs.ingest.decode import parse_json, records_of

RECORDINGS = sorted(p.name[: -len(".truth.json")] for p in HERE.glob("*.truth.json"))
#: Columns that say when a row was written, not what the spans said.
WRITTEN_AT = {"unmapped_spans": {"first_seen_at", "last_seen_at"}}


def export(name: str, location: object, transcripts: Path, times: int = 1) -> None:
    body, _ = load_recording(name)
    store = thread_store(location, transcripts)  # type: ignore[arg-type]
    for _ in range(times):
        SqliteSpanExporter(store).export(records_of(parse_json(body)).records)
        store.flush()
    store.close()


@pytest.mark.parametrize("name", RECORDINGS)
def test_a_recording_makes_the_same_rows_on_both_engines(
    name: str, pg_url: str, tmp_path: Path
) -> None:
    export(name, tmp_path / "obs.db", tmp_path / "t1")
    export(name, pg_url, tmp_path / "t2", times=2)  # the second delivery changes nothing
    expected = table_rows(tmp_path / "obs.db", WRITTEN_AT)
    got = pg_table_rows(pg_url, WRITTEN_AT)
    assert any(expected[t] for t in ("tool_uses", "transcript_entries")), "nothing stored"
    for table in expected:
        assert got[table] == expected[table], table
