"""The standard OTEL_* settings, read the way the SDK reads them, against real OTLP receivers.

Each case runs a worker (the real producers) in a fresh interpreter with only
standard variables set, and checks what a loopback receiver got and what the
local store holds: the store never depends on export settings, and a value
that cannot be used is logged once and skipped, never raised into the worker.
"""

from __future__ import annotations

from pathlib import Path

from otlp_receivers import (
    grpc_receiver,
    http_receiver,
    run,
    stored_count,
    stored_tools,
    worker,
)

TOOLS = ["toolu_000_long_identifier", "toolu_001_long_identifier"]


def test_traces_endpoint_and_protocol_alone_export_over_http(tmp_path: Path) -> None:
    # Per-signal variables win over the generic ones (here: grpc to a wrong port).
    with http_receiver() as (endpoint, received):
        run(
            worker(),
            tmp_path,
            OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
            OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
            OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="http/protobuf",
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{endpoint}/v1/traces",
            OTEL_EXPORTER_OTLP_TRACES_HEADERS="x-team=obs",
        )
    assert "execute_tool Bash" in received.names()
    assert set(received.paths) == {"/v1/traces"}
    assert all(h.get("x-team") == "obs" for h in received.headers)
    assert stored_tools(tmp_path / "obs.db") == TOOLS


def test_exporter_list_none_console_otlp(tmp_path: Path) -> None:
    with grpc_receiver() as (endpoint, received):
        run(
            worker(),
            tmp_path / "none",
            OTEL_TRACES_EXPORTER="none",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        )
    assert received.spans == []
    assert stored_tools(tmp_path / "none" / "obs.db") == TOOLS

    with grpc_receiver() as (endpoint, received):
        done = run(
            worker(),
            tmp_path / "both",
            OTEL_TRACES_EXPORTER="console, otlp",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            OTEL_EXPORTER_OTLP_HEADERS="x-team=obs",
        )
    assert '"name": "execute_tool Bash"' in done.stdout  # the console exporter's JSON
    assert received.names().count("execute_tool Bash") == 2
    assert all(h.get("x-team") == "obs" for h in received.headers)
    assert stored_tools(tmp_path / "both" / "obs.db") == TOOLS


def test_unusable_values_are_logged_once_and_skipped_never_raised(tmp_path: Path) -> None:
    with grpc_receiver() as (endpoint, received):
        done = run(
            # Two writers: the warning still comes once.
            worker() + worker().replace('"agent-1"', '"agent-2"').replace("toolu_", "toolu_b"),
            tmp_path,
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL="http/json",
            OTEL_TRACES_EXPORTER="otlp,no_such_exporter",
            OTEL_OBS_FLUSH_INTERVAL_MS="soon",
        )
    assert received.spans == []
    assert done.stderr.count("http/json is not supported") == 1, done.stderr
    assert done.stderr.count("'no_such_exporter'") == 1, done.stderr
    assert done.stderr.count("OTEL_OBS_FLUSH_INTERVAL_MS") == 1, done.stderr
    assert len(stored_tools(tmp_path / "obs.db")) == 4


def test_configure_with_http_json_skips_otlp_and_keeps_the_store(tmp_path: Path) -> None:
    done = run(
        worker(configure=""),
        tmp_path,
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="http/json",
    )
    assert "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json is not supported" in done.stderr
    assert stored_tools(tmp_path / "obs.db") == TOOLS


def test_service_name_and_resource_attributes_win_over_the_default(tmp_path: Path) -> None:
    with grpc_receiver() as (endpoint, received):
        run(
            worker(configure=""),
            tmp_path / "env",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            OTEL_SERVICE_NAME="svc-from-env",
            OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test,host.name=build-7",
        )
    resource = received.spans[0].resource
    assert resource["service.name"] == "svc-from-env"
    assert resource["deployment.environment"] == "test"
    # The process and host detectors add theirs; the variables win over them.
    assert resource["host.name"] == "build-7"
    assert isinstance(resource["process.pid"], int)
    assert "host.arch" in resource
    conn_service = _stored_service(tmp_path / "env" / "obs.db")
    assert conn_service == "svc-from-env"

    with grpc_receiver() as (endpoint, received):
        run(
            worker(),
            tmp_path / "attrs",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            OTEL_RESOURCE_ATTRIBUTES="service.name=svc-from-attributes",
        )
    assert {s.resource["service.name"] for s in received.spans} == {"svc-from-attributes"}

    with grpc_receiver() as (endpoint, received):
        run(worker(), tmp_path / "default", OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)
    assert {s.resource["service.name"] for s in received.spans} == {"otel-obs"}


def _stored_service(db: Path) -> str:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT service_name FROM task_list_execution_runs").fetchone()[0]
    finally:
        conn.close()


def test_sdk_disabled_exports_nothing_and_the_store_keeps_recording(tmp_path: Path) -> None:
    for configure in (None, ""):
        folder = tmp_path / f"on-{configure is not None}"
        with grpc_receiver() as (endpoint, received):
            done = run(
                worker(configure=configure),
                folder,
                OTEL_SDK_DISABLED="true",
                OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            )
        assert received.spans == []
        assert stored_tools(folder / "obs.db") == TOOLS
        lines = [line for line in done.stderr.splitlines() if "OTEL_SDK_DISABLED" in line]
        assert len(lines) == 1 and "the local store keeps recording" in lines[0], done.stderr

    with grpc_receiver() as (endpoint, received):
        done = run(
            worker(),
            tmp_path / "off",
            OTEL_SDK_DISABLED="TRUE",
            OTEL_OBS_ENABLED="false",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        )
    assert received.spans == []
    assert not (tmp_path / "off" / "obs.db").exists() or not stored_count(
        tmp_path / "off" / "obs.db", "tool_uses"
    )
    lines = [line for line in done.stderr.splitlines() if "OTEL_SDK_DISABLED" in line]
    assert len(lines) == 1 and "records nothing either" in lines[0], done.stderr


def test_store_off_still_exports(tmp_path: Path) -> None:
    with grpc_receiver() as (endpoint, received):
        done = run(
            worker(configure=""),
            tmp_path,
            OTEL_OBS_ENABLED="false",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        )
    assert received.names().count("execute_tool Bash") == 2
    db = tmp_path / "obs.db"
    assert not db.exists() or not stored_count(db, "tool_uses")
    lines = [line for line in done.stderr.splitlines() if "OTEL_OBS_ENABLED" in line]
    assert len(lines) == 1 and "records nothing" in lines[0], done.stderr
