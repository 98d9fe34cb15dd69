"""An orchestrator and three worker subprocesses through the public propagation API only.

Real processes, the real SDK, one store on disk and a real OTLP receiver on
127.0.0.1: one trace for everything (the workers' own plain spans included),
and every row carrying the orchestrator's execution id and wave.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from otlp_receivers import grpc_receiver, run

from otel_obs.propagation import execution_scope, wave_scope, worker_environment

ORCHESTRATOR = """
import json, subprocess, sys
from otel_obs import configure
from otel_obs.propagation import execution_scope, wave_scope, worker_environment

configure()
with execution_scope("exec-prop", task_list_id="list-9") as execution:
    with wave_scope(1) as wave:
        workers = [
            subprocess.Popen([sys.executable, "worker.py", f"w{i}"], env=worker_environment())
            for i in range(3)
        ]
        codes = [w.wait(timeout=60) for w in workers]
print(json.dumps({"codes": codes,
                  "trace": format(execution.span.get_span_context().trace_id, "032x")}))
"""

WORKER = """
import sys
from opentelemetry import trace
from otel_obs import ToolUseLogger, TranscriptWriter, configure
from otel_obs.propagation import joined_context

configure()
name = sys.argv[1]
with joined_context():
    with trace.get_tracer("worker-code").start_as_current_span(f"own work {name}"):
        writer = TranscriptWriter(None, name)
        tools = ToolUseLogger(writer)
        with writer.task(f"T-{name}", "propagated", action="UPDATE", file=f"src/{name}.py"):
            tid = tools.log_start({"id": f"toolu_{name}", "name": "Bash",
                                   "input": {"command": "true"}})
            tools.log_end(tid, {"tool_use_id": tid, "content": "", "is_error": False})
        writer.close()
"""


def test_an_orchestrator_and_three_workers_make_one_trace(tmp_path: Path) -> None:
    (tmp_path / "worker.py").write_text(WORKER)
    with grpc_receiver() as (endpoint, received):
        done = run(
            ORCHESTRATOR,
            tmp_path,
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            OTEL_OBS_OTLP_APP_SPANS="true",
        )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["codes"] == [0, 0, 0], done.stderr
    trace_id = out["trace"]

    # One trace over OTLP: execution, wave, each worker's own plain span and its producers' spans.
    names = received.names()
    assert {"execution exec-prop", "wave 1"} <= set(names)
    assert {f"own work w{i}" for i in range(3)} <= set(names)
    assert names.count("execute_tool Bash") == 3
    assert {s.trace_id for s in received.spans} == {trace_id}
    for span in received.spans:
        assert span.attributes.get("obs.execution_id") == "exec-prop", span.name
        if span.name != "execution exec-prop":
            assert span.attributes.get("obs.wave_number") == 1, span.name

    # The store: every row of every worker carries the execution id and the wave.
    conn = sqlite3.connect(tmp_path / "obs.db")
    try:
        agents = conn.execute(
            "SELECT id, execution_id, wave_number FROM build_agent_instances ORDER BY id"
        ).fetchall()
        assert agents == [(f"w{i}", "exec-prop", 1) for i in range(3)]
        tasks = conn.execute("SELECT execution_id, wave_number FROM tasks").fetchall()
        assert tasks == [("exec-prop", 1)] * 3
        tools = conn.execute("SELECT execution_id, wave_number, trace_id FROM tool_uses").fetchall()
        assert tools == [("exec-prop", 1, trace_id)] * 3
        entries = conn.execute(
            "SELECT DISTINCT execution_id, wave_number FROM transcript_entries"
            " WHERE instance_id IS NOT NULL AND instance_id LIKE 'w%'"
        ).fetchall()
        assert entries == [("exec-prop", 1)]
        runs = conn.execute(
            "SELECT id, task_list_id, status, trace_id FROM task_list_execution_runs"
        ).fetchall()
        assert runs == [("exec-prop", "list-9", "completed", trace_id)]
        waves = conn.execute(
            "SELECT execution_id, wave_number FROM parallel_execution_waves"
        ).fetchall()
        assert waves == [("exec-prop", 1)]
    finally:
        conn.close()


def test_scopes_refuse_what_would_lose_rows(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="inside execution_scope"):
        with wave_scope(1):
            pass
    with pytest.raises(ValueError, match="execution_id must be a non-empty string"):
        with execution_scope(""):
            pass
    from otel_obs.config import get_pipeline

    pipeline = get_pipeline(tmp_path / "obs.db")
    try:
        with execution_scope("exec-x", pipeline=pipeline):
            with pytest.raises(ValueError, match="positive integer, got 0"):
                with wave_scope(0, pipeline=pipeline):
                    pass
            env = worker_environment({"TRACEPARENT": "stale", "KEEP": "1"})
            assert env["KEEP"] == "1" and env["TRACEPARENT"].startswith("00-")
            assert "obs.execution_id=exec-x" in env["BAGGAGE"]
    finally:
        pipeline.shutdown()
