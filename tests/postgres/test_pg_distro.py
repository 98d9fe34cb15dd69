"""The otel_obs distro under ``opentelemetry-instrument`` with ``OTEL_OBS_DB`` a
PostgreSQL URL: the worker's rows land in the database, and the writer process
was not given the password on its command line."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import psycopg
import pytest
from otlp_receivers import run

INSTRUMENT = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))

WORKER = """
import json
from otel_obs import ToolUseLogger, TranscriptWriter
from otel_obs.config import get_pipeline

writer = TranscriptWriter("exec-distro", "agent-1")
tools = ToolUseLogger(writer)
with writer.task("T1", "distro"):
    tid = tools.log_start({"id": "toolu_1", "name": "Bash", "input": {"command": "ls"}})
    tools.log_end(tid, {"tool_use_id": tid, "content": "done", "is_error": False})
writer.flush()
proc = getattr(get_pipeline().store, "_proc", None)
cmdline = open(f"/proc/{proc.pid}/cmdline").read() if proc else ""
writer.close()
print(json.dumps({"writer_cmdline": cmdline}))
"""


@pytest.mark.skipif(INSTRUMENT is None, reason="needs opentelemetry-instrument (test extra)")
def test_the_distro_writes_a_postgresql_store(pg_url: str, tmp_path: Path) -> None:
    (tmp_path / "worker.py").write_text(WORKER)
    done = run(
        "",
        tmp_path,
        [INSTRUMENT, sys.executable, "worker.py"],
        OTEL_PYTHON_DISTRO="otel_obs",
        OTEL_OBS_DB=pg_url,
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    password = pg_url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert out["writer_cmdline"] and password not in out["writer_cmdline"]
    with psycopg.connect(pg_url) as conn:
        tools = conn.execute("SELECT id, result_status FROM tool_uses").fetchall()
        entries = conn.execute(
            "SELECT sequence, entry_type FROM transcript_entries ORDER BY sequence"
        ).fetchall()
    assert tools == [("toolu_1", "done")]
    assert [e[1] for e in entries] == ["task_start", "tool_use", "task_end"]
    assert [e[0] for e in entries] == [1, 2, 3]
