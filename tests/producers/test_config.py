"""configure() and get_pipeline(): global wiring runs in fresh processes (it is process-wide)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry import trace

from otel_obs.config import get_pipeline, resolve_paths
from otel_obs.store_location import store_location


def run_python(code: str, cwd: Path, **env: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last line."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTEL_OBS"))}
    full_env.update(env)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


AGENT_SPAN = """
from otel_obs import conventions as c
def agent_span(tracer, execution):
    span = tracer.start_span(
        "invoke_agent w1",
        attributes={c.KIND: c.KIND_AGENT, c.EXECUTION_ID: execution, c.INSTANCE_ID: "w1"},
    )
    span.end()
"""


def test_configure_adds_to_an_existing_sdk_provider(tmp_path: Path):
    out = run_python(
        AGENT_SPAN
        + """
import json
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otel_obs.config import configure, get_pipeline

memory = InMemorySpanExporter()
app_provider = TracerProvider()
app_provider.add_span_processor(SimpleSpanProcessor(memory))
trace.set_tracer_provider(app_provider)

pipeline = configure("store/obs.db", "store/transcripts")
agent_span(trace.get_tracer("the-app"), "exec-cfg")
print(json.dumps({
    "kept_provider": trace.get_tracer_provider() is app_provider,
    # Producers keep a provider of their own (the app's sampler and limits cannot cost rows).
    "pipeline_on_its_own": pipeline.provider is not app_provider,
    "app_exporter_saw": len(memory.get_finished_spans()),
    "flushed": pipeline.flush(10),
    "same_again": configure("store/obs.db", "store/transcripts") is pipeline,
    "get_default": get_pipeline() is pipeline,
    "get_same_paths": get_pipeline("store/obs.db", "store/transcripts") is pipeline,
}))
""",
        tmp_path,
    )
    assert out == {
        "kept_provider": True,
        "pipeline_on_its_own": True,
        "app_exporter_saw": 1,
        "flushed": True,
        "same_again": True,
        "get_default": True,
        "get_same_paths": True,
    }
    conn = sqlite3.connect(tmp_path / "store" / "obs.db")
    assert conn.execute("SELECT id, execution_id FROM build_agent_instances").fetchall() == [
        ("w1", "exec-cfg")
    ]


def test_configure_without_a_provider_creates_one_with_defaults_and_env(tmp_path: Path):
    out = run_python(
        AGENT_SPAN
        + """
import json
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from otel_obs.config import configure

pipeline = configure(service_name="builder", task_list_id="list-7")
provider = trace.get_tracer_provider()
agent_span(trace.get_tracer("any"), "exec-env")
pipeline.flush(10)
print(json.dumps({
    "sdk": isinstance(provider, TracerProvider),
    "pipeline_on_its_own": provider is not pipeline.provider,
    "producers_service": pipeline.provider.resource.attributes.get("service.name"),
    "service": provider.resource.attributes.get("service.name"),
    "db": str(pipeline.db_path),
    "transcripts": str(pipeline.transcripts_dir),
}))
""",
        tmp_path,
        OTEL_OBS_DB="env-db/obs.db",
        OTEL_OBS_TRANSCRIPTS_DIR="env-transcripts",
        OTEL_OBS_FLUSH_INTERVAL_MS="20",
    )
    assert out == {
        "sdk": True,
        "pipeline_on_its_own": True,
        "producers_service": "builder",
        "service": "builder",
        "db": str(tmp_path / "env-db" / "obs.db"),
        "transcripts": str(tmp_path / "env-transcripts"),
    }
    conn = sqlite3.connect(tmp_path / "env-db" / "obs.db")
    assert conn.execute(
        "SELECT task_list_id, service_name FROM task_list_execution_runs"
    ).fetchall() == [("list-7", "builder")]


def test_defaults_are_relative_to_the_working_directory(tmp_path: Path):
    out = run_python(
        """
import json
from otel_obs.config import get_pipeline
p = get_pipeline()
print(json.dumps({"db": str(p.db_path), "transcripts": str(p.transcripts_dir), "ok": p.flush(10)}))
""",
        tmp_path,
    )
    assert out == {
        "db": str(tmp_path / "database" / "observability.db"),
        "transcripts": str(tmp_path / "transcripts"),
        "ok": True,
    }
    assert (tmp_path / "database" / "observability.db").exists()


@pytest.mark.parametrize(
    ("protocol", "module", "endpoint"),
    [
        (None, "opentelemetry.exporter.otlp.proto.grpc.trace_exporter", "localhost:4318"),
        ("http/protobuf", "opentelemetry.exporter.otlp.proto.http.trace_exporter", None),
    ],
)
def test_otlp_endpoint_adds_a_batch_exporter(tmp_path: Path, protocol, module, endpoint):
    env = {"OTEL_EXPORTER_OTLP_PROTOCOL": protocol} if protocol else {}
    out = run_python(
        """
import json
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from otel_obs.config import configure
p = configure("s/obs.db", "s/t", otlp_endpoint="http://localhost:4318")
# The export step: every exporter receives the producers' spans through it.
step = p.export_step
batch = [s for s in step.processors if isinstance(s, BatchSpanProcessor)]
exporter = batch[0]._batch_processor._exporter
print(json.dumps({
    "count": len(batch),
    "view": type(step).__name__,
    "payloads": step.payloads,
    "module": type(exporter).__module__,
    "endpoint": getattr(exporter, "_endpoint", None),
}))
""",
        tmp_path,
        **env,
    )
    assert out["count"] == 1 and out["module"] == module
    assert (out["view"], out["payloads"]) == ("ExportStep", "full")
    if protocol == "http/protobuf":
        assert out["endpoint"] == "http://localhost:4318/v1/traces"
    else:
        assert endpoint in out["endpoint"]


def test_private_pipelines_are_per_path_and_not_global(tmp_path: Path):
    a = get_pipeline(tmp_path / "a.db", tmp_path / "ta")
    b = get_pipeline(tmp_path / "b.db", tmp_path / "tb")
    try:
        assert a is get_pipeline(tmp_path / "a.db", tmp_path / "ta")
        assert a is not b and a.provider is not b.provider
        assert trace.get_tracer_provider() not in (a.provider, b.provider)
        assert (a.db_path, a.transcripts_dir) == (tmp_path / "a.db", tmp_path / "ta")
    finally:
        a.shutdown()
        b.shutdown()


def test_an_explicit_database_keeps_its_transcripts_beside_it(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("OTEL_OBS_TRANSCRIPTS_DIR", raising=False)
    assert resolve_paths(tmp_path / "x" / "obs.db") == (
        tmp_path / "x" / "obs.db",
        tmp_path / "x" / "transcripts",
    )


def test_bad_settings_raise_naming_them(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-c", "from otel_obs.config import configure; configure('a.db', 't')"],
        cwd=tmp_path,
        env={**os.environ, "OTEL_OBS_FLUSH_INTERVAL_MS": "soon"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "OTEL_OBS_FLUSH_INTERVAL_MS" in done.stderr
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from otel_obs.config import configure; configure('a.db', 't', otlp_endpoint='x:1')",
        ],
        cwd=tmp_path,
        env={**os.environ, "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "carrier-pigeon" in done.stderr and "grpc" in done.stderr


def test_otlp_payloads_come_from_the_argument_then_the_environment(monkeypatch):
    from otel_obs.config import resolve_otlp_payloads

    monkeypatch.delenv("OTEL_OBS_OTLP_PAYLOADS", raising=False)
    assert resolve_otlp_payloads() == "full"
    monkeypatch.setenv("OTEL_OBS_OTLP_PAYLOADS", "none")
    assert resolve_otlp_payloads() == "none"
    assert resolve_otlp_payloads("full") == "full"
    monkeypatch.setenv("OTEL_OBS_OTLP_PAYLOADS", "some")
    with pytest.raises(ValueError, match="OTEL_OBS_OTLP_PAYLOADS='some'.*full, none"):
        resolve_otlp_payloads()
    with pytest.raises(ValueError, match="otlp_payloads='all'.*full, none"):
        resolve_otlp_payloads("all")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("postgresql:/someone:hunter2@db.example/obs", ["'postgresql:'", "postgresql://"]),
        ("mysql://someone:hunter2@db.example/obs", ["'mysql:'", "postgresql://"]),
        ("sqlite:///var/obs.db", ["'sqlite:'", "path"]),
    ],
)
def test_a_store_url_of_another_shape_is_refused_not_taken_for_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, words: list[str]
):
    """A URL taken for a path would become folders named after it, password and all."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError) as raised:
        store_location(value, "OTEL_OBS_DB")
    message = str(raised.value)
    assert "OTEL_OBS_DB" in message and "hunter2" not in message
    for word in words:
        assert word in message, (word, message)
    assert store_location("C:/obs/obs.db", "OTEL_OBS_DB") == Path("C:/obs/obs.db")
