"""collector-config.yaml: a gateway pipeline whose every named component is defined, whose
payload filter deletes every attribute that carries a payload (checked against what the
real producers send over real OTLP), and whose batches always fit otel-obs serve's limit."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from otlp_receivers import Got, grpc_receiver, run, values

from otel_obs import conventions as c
from otel_obs import redaction
from otel_obs.ingest.server import DEFAULT_MAX_BODY_MIB
from otel_obs.models import SUMMARY_MAX
from otel_obs.tool_facts import INPUT_SUMMARY_MAX

CONFIG = Path(__file__).resolve().parents[2] / "collector-config.yaml"
SECTIONS = {"receivers": "receivers", "processors": "processors", "exporters": "exporters"}


def undefined_components(config: dict[str, Any]) -> list[str]:
    """Every component a pipeline (or the service) names that its section does not define."""
    missing = []
    service = config.get("service") or {}
    for name in service.get("extensions") or []:
        if name not in (config.get("extensions") or {}):
            missing.append(f"service.extensions: {name}")
    for pipeline, spec in (service.get("pipelines") or {}).items():
        for key, section in SECTIONS.items():
            for name in (spec or {}).get(key) or []:
                if name not in (config.get(section) or {}):
                    missing.append(f"{pipeline}.{key}: {name}")
    return missing


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return yaml.safe_load(CONFIG.read_text())


def test_every_pipeline_names_only_defined_components(config) -> None:
    pipelines = config["service"]["pipelines"]
    assert pipelines and all(spec["receivers"] and spec["exporters"] for spec in pipelines.values())
    assert undefined_components(config) == []
    broken = copy.deepcopy(config)
    broken["service"]["pipelines"]["traces/otel-obs"]["processors"].append("batch/missing")
    assert undefined_components(broken) == ["traces/otel-obs.processors: batch/missing"]


def test_otel_obs_gets_a_reliable_pipeline(config) -> None:
    pipeline = config["service"]["pipelines"]["traces/otel-obs"]
    assert pipeline["processors"][0] == "memory_limiter"
    assert "batch" in pipeline["processors"]
    (exporter_name,) = pipeline["exporters"]
    exporter = config["exporters"][exporter_name]
    assert exporter["retry_on_failure"]["enabled"] is True
    queue = exporter["sending_queue"]
    assert queue["enabled"] is True
    storage = queue["storage"]
    assert storage.split("/")[0] == "file_storage" and storage in config["service"]["extensions"]
    assert exporter["encoding"] == "proto"


def test_backends_pipeline_is_optional_and_drops_start_markers(config) -> None:
    backends = config["service"]["pipelines"]["traces/backends"]
    assert {"otlp/jaeger", "otlp/tempo"} == set(backends["exporters"])
    assert backends["processors"][0] == "memory_limiter"
    marker_filter = config["processors"]["filter/drop-start-markers"]
    assert marker_filter["traces"]["span"] == ["end_time_unix_nano == 0"]
    assert "filter/drop-start-markers" in backends["processors"]


# ----------------------------------------------------------------------
# The payload filter on the way to tracing backends
# ----------------------------------------------------------------------

MARK = "PAYLOAD-7f3a"
#: The producers with a marked payload everywhere one can go (and nowhere else), plus a
#: tool use and a decision at their caps, in characters of 4 bytes in UTF-8.
PRODUCERS = """
import sys
from otel_obs import AssertionRecorder, ToolUseLogger, TranscriptWriter, configure
configure()
M = "PAY" + "LOAD-7f3a"
BIG = "\\U0001F600" * (2 * 16_384)
writer = TranscriptWriter("exec-pay", "agent-1")
tools = ToolUseLogger(writer)
checks = AssertionRecorder(writer, "exec-pay")
with writer.task("T1", "payloads", action="UPDATE", file="src/app.py", note=M):
    tid = tools.log_start({"id": "toolu_ok", "name": "Bash", "input": {"command": "echo " + M}})
    tools.log_end(tid, {"tool_use_id": tid, "content": M + " out", "is_error": False})
    tid = tools.log_start({"id": "toolu_bad", "name": "Bash", "input": {"command": "false"}})
    tools.log_end(tid, {"tool_use_id": tid, "content": "failed: " + M, "is_error": True})
    tid = tools.log_start({"id": "toolu_rm", "name": "Bash", "input": {"command": "rm -rf /"}})
    tools.log_blocked(tid, "destructive command")
    writer.write({"entry_type": "decision", "summary": "ship it", "details": {"why": M}})
    chain = checks.start_chain("T1", "checks")
    checks.assert_custom(
        "T1", "tests_pass", "prints", [sys.executable, "-c", "print('PAY' + 'LOAD-7f3a')"]
    )
    checks.end_chain(chain)
with writer.task("T2", "ends itself"):
    writer.write({"entry_type": "task_end", "task_id": "T2", "summary": "blocked",
                  "details": {"status": "blocked", "note": M}})
with writer.task("T3", "at the caps"):
    tid = tools.log_start({"id": "toolu_big", "name": "Bash", "input": {"command": BIG}})
    tools.log_end(tid, {"tool_use_id": tid, "content": BIG, "is_error": True})
    writer.write({"entry_type": "decision", "summary": "big", "details": {"why": BIG}})
writer.close()
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> list[Got]:
    """The producers' spans as the real OTLP exporter sent them (payloads going out)."""
    with grpc_receiver() as (endpoint, received):
        run(PRODUCERS, tmp_path_factory.mktemp("payloads"), OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)
    return received.spans


def payload_carriers(spans: list[Got]) -> tuple[set[str], set[str]]:
    """(the attributes, on spans and events, whose value holds the marked payload;
    the other places it went: status messages and event attributes of other names)."""
    attributes: set[str] = set()
    elsewhere: set[str] = set()
    for got in spans:
        attributes |= {k for k, v in got.attributes.items() if MARK in str(v)}
        if MARK in got.span.status.message:
            elsewhere.add(f"status.message of {got.attributes.get(c.KIND)} spans")
        for event in got.span.events:
            for key, value in values(event.attributes).items():
                if MARK in str(value):
                    attributes.add(key)
                    if event.name == c.EXCEPTION_EVENT:
                        elsewhere.add(f"{key} of {got.attributes.get(c.KIND)} exception events")
    return attributes, elsewhere


def test_the_declared_payload_attributes_are_those_that_carry_payloads(exported) -> None:
    declared = c.PAYLOAD_ATTRIBUTES | c.DERIVED_PAYLOAD_ATTRIBUTES
    attributes, elsewhere = payload_carriers(exported)
    # Each declared name is set by the producers or the export view, and nothing else
    # carries a payload but the failed tool's status and exception message.
    assert attributes - {c.EXCEPTION_MESSAGE} == declared
    assert elsewhere == {
        "status.message of tool spans",
        f"{c.EXCEPTION_MESSAGE} of tool exception events",
    }


def transform_statements(config: dict[str, Any], context: str) -> list[str]:
    backends = config["service"]["pipelines"]["traces/backends"]["processors"]
    statements = []
    for name in backends:
        if name.split("/")[0] == "transform":
            for group in config["processors"][name]["trace_statements"]:
                if group["context"] == context:
                    statements += group["statements"]
    return statements


def deleted(statements: list[str]) -> set[str]:
    return {m for s in statements for m in re.findall(r'^delete_key\(attributes, "(.+)"\)$', s)}


def test_the_backends_pipeline_deletes_every_payload(config) -> None:
    declared = c.PAYLOAD_ATTRIBUTES | c.DERIVED_PAYLOAD_ATTRIBUTES
    spans, events = transform_statements(config, "span"), transform_statements(config, "spanevent")
    assert deleted(spans) == declared and deleted(events) == declared
    # A failed or blocked tool's message goes out as its error type instead (as with
    # OTEL_OBS_OTLP_PAYLOADS=none).
    assert f'set(status.message, attributes["{c.ERROR_TYPE}"]) where attributes["{c.KIND}"]' in (
        " ".join(spans)
    )
    assert any(
        s.startswith(f'set(attributes["{c.EXCEPTION_MESSAGE}"], attributes["exception.type"])')
        and f'span.attributes["{c.KIND}"] == "{c.KIND_TOOL}"' in s
        for s in events
    )
    # Deleted before the batch: the backends never get them.
    processors = config["service"]["pipelines"]["traces/backends"]["processors"]
    assert processors.index("transform/drop-payloads") < processors.index("batch")


# ----------------------------------------------------------------------
# Batches that serve never refuses for size
# ----------------------------------------------------------------------

#: The most bytes one character takes in UTF-8: the caps count characters.
UTF8_MAX = 4
#: What a cut adds to a capped value: "…[truncated N chars]", or the JSON wrapper
#: {"_truncated":true,"_original_chars":N,"head":…} of a cut input or details.
CUT_NOTE = 64
#: A producer's status message (_producer_runtime.end_span; the export view's too).
STATUS_MAX = 200
#: What no cap bounds, per span or event: ids, names, the tool's other attributes,
#: timestamps, the resource (one per span at worst) and the protobuf framing.
OTHER_FIELDS = 8 * 1024
#: serve's limit over the worst batch.
MARGIN = 3


def capped(chars: int) -> int:
    return UTF8_MAX * chars + CUT_NOTE


#: The largest producer span without events of its own: a failed tool use at its caps.
TOOL_SPAN = (
    2 * capped(redaction.INPUT_CAP)  # obs.tool.input, gen_ai.tool.call.arguments
    + 2 * capped(redaction.OUTPUT_CAP)  # obs.tool.output, gen_ai.tool.call.result
    # obs.tool.error_message (or obs.tool.block_reason), the exception event's message
    + 2 * capped(redaction.ERROR_MESSAGE_CAP)
    + capped(INPUT_SUMMARY_MAX)
    + capped(STATUS_MAX)
    + OTHER_FIELDS
)
#: The largest event: an assertion, with its details and its evidence at their caps.
EVENT = 2 * capped(redaction.DETAILS_CAP) + capped(SUMMARY_MAX) + OTHER_FIELDS


def test_the_computed_sizes_bound_what_the_producers_send(exported) -> None:
    """A real tool span and event at their caps, as encoded by the real exporter."""
    [tool] = [g for g in exported if g.attributes.get(c.GEN_AI_TOOL_CALL_ID) == "toolu_big"]
    assert tool.span.ByteSize() <= TOOL_SPAN
    # The bound is not vacuous: the payloads alone come close to it.
    assert tool.span.ByteSize() >= 0.95 * (TOOL_SPAN - OTHER_FIELDS)
    [task] = [g for g in exported if g.name == "task T3"]
    [decision] = [e for e in task.span.events if e.name == "obs.decision"]
    assert capped(redaction.DETAILS_CAP) * 0.95 <= decision.ByteSize() <= EVENT


def test_a_batch_of_the_largest_spans_fits_serves_limit_with_margin(config) -> None:
    batch = config["processors"]["batch"]
    limit = DEFAULT_MAX_BODY_MIB << 20
    assert batch["send_batch_size"] <= batch["send_batch_max_size"]
    assert "batch" in config["service"]["pipelines"]["traces/otel-obs"]["processors"]
    worst = batch["send_batch_max_size"] * TOOL_SPAN
    assert worst * MARGIN <= limit, (batch["send_batch_max_size"], worst, limit)
    # What is left is room for events at their caps, on whichever spans carry them.
    assert (limit - worst) // EVENT >= 64


def test_the_several_receivers_exporter_spreads_by_trace_over_receivers() -> None:
    """The commented exporter for several receivers is valid YAML, routes by trace id over
    more than one receiver, and keeps the disk queue and endless retries."""
    text = (Path(__file__).parents[2] / "collector-config.yaml").read_text()
    block = text.split("# BEGIN several-receivers\n", 1)[1].split("# END several-receivers", 1)[0]
    uncommented = "\n".join(
        line.split("# ", 1)[1] if "# " in line else "" for line in block.splitlines()
    )
    exporter = yaml.safe_load(uncommented)["loadbalancing/otel-obs"]
    assert exporter["routing_key"] == "traceID"
    assert len(exporter["resolver"]["static"]["hostnames"]) >= 2
    otlp = exporter["protocol"]["otlp"]
    assert otlp["retry_on_failure"]["max_elapsed_time"] == "0s"
    assert otlp["sending_queue"]["storage"] == "file_storage/otel-obs-queue"
