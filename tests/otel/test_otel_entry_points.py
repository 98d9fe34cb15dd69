"""The ``otel_obs`` distro, configurator and span exporter, through ``opentelemetry-instrument``.

Real subprocesses: ``opentelemetry-instrument python worker.py`` with the
official ``opentelemetry-distro`` installed beside ours, a real OTLP receiver
on 127.0.0.1, and the writer process's own environment read from /proc.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
from otlp_receivers import grpc_receiver, run

INSTRUMENT = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))

pytestmark = pytest.mark.skipif(
    INSTRUMENT is None or not Path("/proc/self/environ").exists(),
    reason="needs opentelemetry-instrument (the test extra) and /proc",
)

WORKER = """
import json, os, sqlite3, sys
from opentelemetry import trace
from otel_obs import ToolUseLogger, TranscriptWriter
from otel_obs.config import get_pipeline

CONFIGURE

orchestrator = trace.get_tracer("orchestrator").start_span(
    "execution exec-app", attributes={"obs.kind": "execution", "obs.execution_id": "exec-app"}
)
writer = TranscriptWriter("exec-ep", "agent-1")
tools = ToolUseLogger(writer)
with writer.task("T1", "entry points", action="UPDATE", file="src/app.py"):
    tid = tools.log_start({"id": "toolu_1", "name": "Bash", "input": {"command": "sleep 1"}})
    writer.flush()
    conn = sqlite3.connect(os.environ["OTEL_OBS_DB"])
    live = {
        "tool": conn.execute("SELECT result_status FROM tool_uses").fetchall(),
        "agent": conn.execute("SELECT status FROM build_agent_instances").fetchall(),
        "execution_before_end": conn.execute(
            "SELECT count(*) FROM task_list_execution_runs WHERE id = 'exec-app'"
        ).fetchone()[0],
    }
    conn.close()
    tools.log_end(tid, {"tool_use_id": tid, "content": "done", "is_error": False})
writer.close()
orchestrator.end()
proc = getattr(get_pipeline().store, "_proc", None)
writer_env = open(f"/proc/{proc.pid}/environ").read().split("\\0") if proc else []
print(json.dumps({
    "live": live,
    "provider": type(trace.get_tracer_provider()).__module__,
    "writer_env": [e for e in writer_env if e.startswith(("PYTHONPATH=", "OTEL_SDK_DISABLED="))],
}))
"""


def stored(db: Path) -> dict[str, list]:
    conn = sqlite3.connect(db)
    try:
        return {
            "tools": conn.execute("SELECT id, result_status, output FROM tool_uses").fetchall(),
            "tasks": conn.execute("SELECT id, status FROM tasks").fetchall(),
            "agents": conn.execute("SELECT id, status FROM build_agent_instances").fetchall(),
            "entries": conn.execute(
                "SELECT sequence, entry_type, task_id FROM transcript_entries ORDER BY sequence"
            ).fetchall(),
        }
    finally:
        conn.close()


def instrumented(folder: Path, **env: str) -> dict:
    (folder).mkdir(parents=True, exist_ok=True)
    (folder / "worker.py").write_text(WORKER.replace("CONFIGURE", ""))
    done = run("", folder, [INSTRUMENT, sys.executable, "worker.py"], **env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_otel_obs_distro_gives_the_store_configure_gives(tmp_path: Path) -> None:
    with grpc_receiver() as (endpoint, received):
        out = instrumented(
            tmp_path / "instrumented",
            OTEL_PYTHON_DISTRO="otel_obs",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        )
    done = run(
        WORKER.replace("CONFIGURE", "from otel_obs import configure; configure()"),
        tmp_path / "configured",
    )
    configured = json.loads(done.stdout.strip().splitlines()[-1])
    # Live start rows while the tool runs, in both.
    assert (
        out["live"]["tool"] == configured["live"]["tool"] == [("pending",)]
        or out["live"]["tool"] == configured["live"]["tool"]
    )
    assert out["live"]["tool"] and out["live"]["agent"] == [["executing"]]
    assert out["provider"] == "opentelemetry.sdk.trace"
    assert stored(tmp_path / "instrumented" / "obs.db") == stored(
        tmp_path / "configured" / "obs.db"
    )
    assert stored(tmp_path / "configured" / "obs.db")["tools"] == [("toolu_1", "done", "done")]
    # The OTLP exporter the endpoint asked for is the application's, as under any distro:
    # the producers' spans and the application's span went out, once each.
    names = received.names()
    assert names.count("execute_tool Bash") == 1 and names.count("execution exec-app") == 1
    # The writer process starts clean: no sitecustomize of opentelemetry-instrument, SDK off.
    assert "OTEL_SDK_DISABLED=true" in out["writer_env"]
    assert not any("auto_instrumentation" in e for e in out["writer_env"]), out["writer_env"]


def test_otel_obs_exporter_under_the_official_distro(tmp_path: Path) -> None:
    with grpc_receiver() as (endpoint, received):
        out = instrumented(
            tmp_path,
            OTEL_PYTHON_DISTRO="distro",
            OTEL_PYTHON_CONFIGURATOR="configurator",
            OTEL_TRACES_EXPORTER="otel_obs,otlp",
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        )
    db = tmp_path / "obs.db"
    # The producers' rows are live (their own pipeline) ...
    assert out["live"]["agent"] == [["executing"]] and out["live"]["tool"]
    assert stored(db)["tools"] == [("toolu_1", "done", "done")]
    # ... the application's span comes through the exporter: batch path, no pending row.
    assert out["live"]["execution_before_end"] == 0
    conn = sqlite3.connect(db)
    assert conn.execute(
        "SELECT id, status FROM task_list_execution_runs WHERE id = 'exec-app'"
    ).fetchall() == [("exec-app", "completed")]
    conn.close()
    # The distro's OTLP exporter carries both: the app's span, and ours handed to it.
    names = received.names()
    # Once each: the producers build no exporter of their own beside the distro's.
    assert names.count("execution exec-app") == 1 and names.count("execute_tool Bash") == 1
    assert "OTEL_SDK_DISABLED=true" in out["writer_env"]
    assert not any("auto_instrumentation" in e for e in out["writer_env"])


def test_a_worker_under_the_distro_joins_its_orchestrators_context(tmp_path: Path) -> None:
    (tmp_path / "plain.py").write_text(
        "from opentelemetry import trace\n"
        "with trace.get_tracer('worker-code').start_as_current_span('own work'):\n"
        "    pass\n"
    )
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with grpc_receiver() as (endpoint, received):
        run(
            "",
            tmp_path,
            [INSTRUMENT, sys.executable, "plain.py"],
            OTEL_PYTHON_DISTRO="otel_obs",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            OTEL_OBS_OTLP_APP_SPANS="true",
            TRACEPARENT=parent,
            BAGGAGE="obs.execution_id=exec-joined,obs.wave_number=2",
        )
    [own] = [s for s in received.spans if s.name == "own work"]
    assert own.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert own.span.parent_span_id.hex() == "00f067aa0ba902b7"
    assert (own.attributes["obs.execution_id"], own.attributes["obs.wave_number"]) == (
        "exec-joined",
        2,
    )


FRAMEWORK_APP = """
from opentelemetry import trace
from otel_obs import ToolUseLogger, TranscriptWriter

framework = trace.get_tracer("some.framework")
with framework.start_as_current_span("framework run"):
    with framework.start_as_current_span(
        "execute_tool search",
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "search",
            "gen_ai.tool.call.id": "call_1",
            "gen_ai.tool.call.arguments": '{"query": "otel"}',
        },
    ):
        pass
writer = TranscriptWriter("exec-fwd", "agent-1")
tools = ToolUseLogger(writer)
with writer.task("T1", "forward", action="UPDATE", file="src/app.py"):
    with framework.start_as_current_span("framework step in T1"):
        pass
    tid = tools.log_start({"id": "toolu_1", "name": "Bash", "input": {"command": "echo 1"}})
    tools.log_end(tid, {"tool_use_id": tid, "content": "exit 1", "is_error": True})
writer.close()
"""


def test_standard_variables_forward_the_apps_and_the_frameworks_spans(tmp_path: Path) -> None:
    """OTEL_TRACES_EXPORTER=otel_obs,otlp under the otel_obs distro: the OTLP exporter it
    names is the application's, as under any distro, and gets every span, ours included."""
    (tmp_path / "app.py").write_text(FRAMEWORK_APP)
    with grpc_receiver() as (endpoint, received):
        run(
            "",
            tmp_path,
            [INSTRUMENT, sys.executable, "app.py"],
            OTEL_PYTHON_DISTRO="otel_obs",
            OTEL_TRACES_EXPORTER="otel_obs,otlp",
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=endpoint,
        )
    names = received.names()
    # Each once: the framework's spans and the producers' (no exporter doubled).
    for name in (
        "framework run",
        "execute_tool search",
        "framework step in T1",
        "invoke_agent agent-1",
        "task T1",
        "execute_tool Bash",
    ):
        assert names.count(name) == 1, (name, names)
    spans = {got.name: got for got in received.spans}
    framework_tool = spans["execute_tool search"].attributes
    assert framework_tool["gen_ai.tool.call.arguments"] == '{"query": "otel"}'
    assert "openinference.span.kind" not in framework_tool  # not ours: as the framework made it
    # An application span inside a producer's task carries the task's context out.
    step = spans["framework step in T1"].attributes
    assert (step["obs.execution_id"], step["obs.task_id"]) == ("exec-fwd", "T1")
    assert step["obs.instance_id"] == "agent-1"
    assert "obs.kind" not in step
    # Ours go out as the export view shows them, once: one exception event, not two.
    bash = spans["execute_tool Bash"]
    assert bash.attributes["gen_ai.tool.call.arguments"] == '{"command":"echo 1"}'
    assert [e.name for e in bash.span.events].count("exception") == 1
    # The store has the producers' tool use, and the framework's (``otel_obs`` in the list).
    assert stored(tmp_path / "obs.db")["tools"] == [
        ("call_1", "done", None),
        ("toolu_1", "error", "exit 1"),
    ]
