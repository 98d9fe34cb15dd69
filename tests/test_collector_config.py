"""collector-config.yaml: a gateway pipeline whose every named component is defined."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

CONFIG = Path(__file__).resolve().parent.parent / "collector-config.yaml"
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
