"""A real store (SQLite + JSONL through the configured writer) and a look at its bytes.

Secrets tests grep every file the store wrote (the database, its WAL, the
transcripts), so a secret left in any column, line or page is found.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from otel_obs.config import get_pipeline
from otel_obs.pipeline import Pipeline


class Sinks:
    """The store under ``root``: its pipeline and every byte it wrote."""

    def __init__(self, root: Path, writer: str = "thread") -> None:
        self.root = root
        self.db = root / "obs.db"
        self.transcripts = root / "transcripts"
        self.pipeline: Pipeline = get_pipeline(self.db, self.transcripts, writer=writer)

    def files(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.is_file())

    def leaks(self, secret: str) -> list[str]:
        """The files holding ``secret`` (as UTF-8 or as JSON's ASCII escape of it)."""
        needles = {secret.encode("utf-8"), json.dumps(secret)[1:-1].encode("ascii")}
        return [str(p.name) for p in self.files() if any(n in p.read_bytes() for n in needles)]

    def flush(self) -> None:
        assert self.pipeline.flush()

    def sqlite_rows(self, sql: str, *params: object) -> list[tuple]:
        conn = sqlite3.connect(self.db)
        try:
            return list(conn.execute(sql, params))
        finally:
            conn.close()

    def close(self) -> None:
        self.pipeline.shutdown()
