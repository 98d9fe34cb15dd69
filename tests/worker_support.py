"""Worker processes of the real producers on one store (``store/store_worker.py``), started
together: each says it is ready once its task's start is stored, then all are let go at once
(however long each took to start), so their writes overlap."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

WORKER = Path(__file__).parent / "store" / "store_worker.py"


def start_sequence_workers(
    store: str | Path,
    folder: Path,
    execution_id: str,
    workers: list[str],
    n: int,
    env: dict[str, str],
) -> list[subprocess.Popen[bytes]]:
    """``workers`` each writing ``n`` decisions and tool uses into one execution of
    ``store`` (transcripts under ``folder``), released together once all are ready."""
    go = folder / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "sequence", str(store), str(folder / "t")]
            + [execution_id, name, str(n), str(go)],
            stderr=subprocess.PIPE,
            env={**os.environ, **env},
        )
        for name in workers
    ]
    ready = [folder / f"go.{name}.ready" for name in workers]
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    return procs
