"""Worker processes over real OTLP exporters into ``otel-obs serve``, against the local store.

The demo's three worker processes per wave (and its orchestrator) are configured
only through the standard ``OTEL_EXPORTER_OTLP_*`` variables, so each exports
with the real OTLP exporter (HTTP or gRPC) while also writing the local store
as usual. The served store, fed by nothing but OTLP, must hold the same rows;
only the sequence numbers are the receiving store's own.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ingest_support import Served, table_rows, wait_for

from otel_obs.queries.runner import ObservabilitySkills


def _otlp_env(protocol: str, server: Served) -> dict[str, str]:
    endpoint = (
        server.http.removesuffix("/v1/traces") if protocol == "http/protobuf" else server.grpc
    )
    if not endpoint.startswith("http"):
        endpoint = f"http://{endpoint}"
    return {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_demo_workers_over_otlp_give_the_rows_of_the_local_store(
    tmp_path: Path, protocol: str
) -> None:
    server = Served(tmp_path / "served.db")
    try:
        local = tmp_path / "local.db"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "otel_obs",
                "demo",
                "--workers",
                "3",
                "--db",
                str(local),
                "--json",
            ],
            env=_otlp_env(protocol, server),
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
    finally:
        counts = server.stop()
    assert counts["spans_rejected"] == 0 and counts["dropped_rows"] == 0
    expected = table_rows(local)
    got = table_rows(server.db)
    assert len(expected["tool_uses"]) > 100
    assert len(expected["build_agent_instances"]) == 6  # two waves of three workers
    for table in expected:
        # What the server counted and what the workers said, should this ever differ.
        assert got[table] == expected[table], (table, counts, done.stderr[-3000:])


MARKED_WORKER = textwrap.dedent(
    """
    import sys, time
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from otel_obs import ToolUseLogger, TranscriptWriter, configure
    from otel_obs.exporters.otlp_view import OtlpView
    from otel_obs.ingest.start_markers import send_start_markers

    db, transcripts, endpoint, mode = sys.argv[1:]
    pipeline = configure(db, transcripts, otlp_endpoint=endpoint)
    markers = BatchSpanProcessor(OtlpView(OTLPSpanExporter(endpoint=endpoint + "/v1/traces")))
    send_start_markers(pipeline, markers)
    writer = TranscriptWriter(f"exec-{mode}", "agent-k")
    tools = ToolUseLogger(writer)
    done = tools.log_start({"id": "toolu_done", "name": "Read", "input": {"file_path": "a.py"}})
    tools.log_end(done, {"tool_use_id": done, "content": "x", "is_error": False})
    with writer.task("T-open", "never finishes", action="UPDATE", file="src/open.py"):
        writer.write({"entry_type": "decision", "summary": "wait for the build", "details": {}})
        writer._runtime.record_error("the build hangs", "Timeout")
        tool = tools.log_start({"id": "toolu_open", "name": "Bash", "input": {"command": "sleep"}})
        if mode == "killed":
            pipeline.provider.force_flush()
            pipeline.flush()
            print("inside", flush=True)
            time.sleep(600)
        tools.log_end(tool, {"tool_use_id": tool, "content": "", "is_error": False})
    writer.close()
    pipeline.provider.shutdown()
    """
)


def _marked_worker(tmp_path: Path, server: Served, mode: str) -> list[str]:
    """The command of a worker that sends start and event markers, ``killed`` or ``finishing``."""
    endpoint = server.http.removesuffix("/v1/traces")
    return [
        sys.executable,
        "-c",
        MARKED_WORKER,
        str(tmp_path / "local.db"),
        str(tmp_path / "transcripts"),
        endpoint,
        mode,
    ]


def test_a_killed_worker_leaves_its_open_task_and_tool_use_incomplete(tmp_path: Path) -> None:
    server = Served(tmp_path / "served.db")
    worker = subprocess.Popen(
        _marked_worker(tmp_path, server, "killed"),
        env={**os.environ, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "inside"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(30)

        def open_tool_stored() -> bool:
            conn = sqlite3.connect(f"file:{server.db}?mode=ro", uri=True)
            try:
                return bool(
                    conn.execute("SELECT 1 FROM tool_uses WHERE id = 'toolu_open'").fetchall()
                )
            except sqlite3.Error:
                return False
            finally:
                conn.close()

        wait_for(open_tool_stored, what="the open tool use in the served store")
    finally:
        server.stop()
    for db in (tmp_path / "local.db", server.db):
        skills = ObservabilitySkills(db)
        incomplete = skills.run("T004", execution_id="exec-killed", older_than_s=0)
        found = {(row["kind"], row["id"]) for row in incomplete}
        assert found == {("task", "T-open"), ("tool_use", "toolu_open")}, (db, incomplete)
        conn = sqlite3.connect(db)
        status = conn.execute(
            "SELECT status FROM build_agent_instances WHERE id = 'agent-k'"
        ).fetchone()
        conn.close()
        assert status == ("executing",), db
    # The decision and the error recorded on the task that never ended crossed OTLP too.
    local, served = (
        sqlite3.connect(db)
        .execute(
            "SELECT id, entry_type, summary, task_id FROM transcript_entries"
            " WHERE entry_type IN ('decision', 'error') ORDER BY sequence"
        )
        .fetchall()
        for db in (tmp_path / "local.db", server.db)
    )
    assert [(kind, summary) for _, kind, summary, _ in served] == [
        ("decision", "wait for the build"),
        ("error", "the build hangs"),
    ]
    assert served == local


def test_start_and_event_markers_of_a_run_that_ends_add_nothing_twice(tmp_path: Path) -> None:
    """Markers and the finished spans carry the same starts and events: stored once."""
    server = Served(tmp_path / "served.db")
    try:
        done = subprocess.run(
            _marked_worker(tmp_path, server, "finishing"),
            env={**os.environ, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    finally:
        counts = server.stop()
    assert counts["spans_accepted"] > counts["requests"] >= 1
    expected = table_rows(tmp_path / "local.db")
    got = table_rows(server.db)
    assert len(expected["transcript_entries"]) >= 4
    for table in expected:
        assert got[table] == expected[table], table
