"""Processes opening a new store at the same moment all get it, none drops its rows.

Switching a new file to WAL answers "database is locked" at once to all but
one of several connections trying together (SQLite's busy timeout does not
apply to it); before the store retried, about one open in four failed here
and its rows were dropped for the next two seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

OPEN = """
import json, sys, time
from otel_obs.exporters.writer import StoreWriter
go = float(sys.argv[2])
while time.time() < go:
    time.sleep(0.0005)
store = StoreWriter(sys.argv[1], sys.argv[1] + ".t", dedicated=True)
print(json.dumps({"open": store.open(), "failures": store.stats()["failures_by_kind"]}))
"""


def test_processes_opening_a_new_store_at_once_all_open_it(tmp_path: Path):
    results = []
    for round_ in range(3):
        db = tmp_path / f"new-{round_}.db"
        go = time.time() + 1.0  # after every process has imported
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN, str(db), str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            results.append(json.loads(out))
    assert results == [{"open": True, "failures": {}}] * len(results)
