"""A passing storage fault loses nothing: a full disk, freed a moment later, costs no row.

The disk is a real one: a small tmpfs, mounted for the test (skipped where
mounting is not allowed), filled to the last byte while an agent works.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_obs import ToolUseLogger, TranscriptWriter
from otel_obs.config import close_private_pipelines
from otel_obs.exporters.jsonl import transcript_path


@contextlib.contextmanager
def small_disk(where: Path, size: str = "4m") -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip() or done.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte; the ballast file that does it."""
    ballast = disk / f"ballast-{uuid.uuid4().hex}"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT)
    block = b"\0" * 4096
    try:
        while os.write(fd, block):
            pass
    except OSError:
        pass  # full
    finally:
        os.close(fd)
    return ballast


@pytest.mark.parametrize("writer", ["thread", "process"])
def test_a_disk_full_for_a_moment_loses_nothing(tmp_path: Path, writer: str, monkeypatch):
    monkeypatch.setenv("OTEL_OBS_WRITER", writer)
    with small_disk(tmp_path / "disk") as disk:
        db, transcripts = disk / "obs.db", disk / "t"
        agent = TranscriptWriter("exec-full", "agent-1", db_path=db, transcripts_dir=transcripts)
        log = ToolUseLogger(agent)
        agent.flush()  # the store exists, its schema written
        ballast = fill(disk)
        n = 1000
        for i in range(n):
            tool = log.log_start({"id": f"tu{i}", "name": "Read", "input": {"file_path": f"f{i}"}})
            log.log_end(tool, {"tool_use_id": f"tu{i}", "content": "ok", "is_error": False})
        time.sleep(1.5)  # the writer meets the full disk, and keeps the batch
        ballast.unlink()
        assert agent.pipeline.flush(30)
        stats = agent.pipeline.store.stats()
        agent.close()
        close_private_pipelines()
        assert stats["failures_by_kind"].get("disk_full", 0) >= 1, stats
        assert stats["dropped_rows"] == 0 and stats["queue_overflow"] == 0, stats
        conn = sqlite3.connect(db)
        assert conn.execute("SELECT count(*) FROM tool_uses").fetchone() == (n,)
        sequences = [r[0] for r in conn.execute("SELECT sequence FROM transcript_entries")]
        assert sorted(sequences) == list(range(1, len(sequences) + 1))
        lines = transcript_path(transcripts, "exec-full").read_text("utf-8").splitlines()
        assert sorted(json.loads(line)["sequence"] for line in lines) == sorted(sequences)
        conn.close()
