"""Read-only connections to a store, for every reader that is not a SQL tool.

A diagnosis must never change the store it diagnoses (and must add no load to
the writers): ``mode=ro`` opens the file without write access and never
creates a missing one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect_read_only(db_path: Path | str) -> sqlite3.Connection:
    """A read-only connection (``mode=ro``) whose rows are :class:`sqlite3.Row`."""
    conn = sqlite3.connect(f"{Path(db_path).resolve().as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn
