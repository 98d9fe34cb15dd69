"""The wheel: `exporters` and `queries` ship under `otel_obs`, never at the top level."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("otel_obs-*.whl")
    return built


def test_wheel_maps_exporters_and_queries_under_otel_obs(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "otel_obs/py.typed" in names
    assert "otel_obs/exporters/schema.py" in names
    assert "otel_obs/queries/__init__.py" in names
    tops = {name.split("/", 1)[0] for name in names}
    assert "exporters" not in tops and "queries" not in tops, sorted(tops)
    sql = [n for n in names if n.startswith("otel_obs/queries/") and n.endswith(".sql")]
    sources = sorted(p.name for p in (ROOT / "queries").glob("*.sql"))
    assert sorted(n.rsplit("/", 1)[1] for n in sql) == sources


def test_installed_wheel_imports_and_finds_query_files(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    probe = (
        "import importlib.resources as r, otel_obs, otel_obs.exporters.schema as s;"
        "print(otel_obs.__file__);"
        "print(sum(1 for f in r.files('otel_obs.queries').iterdir() if f.name.endswith('.sql')))"
    )
    # Run outside the checkout so only the installed copy can be imported.
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
        text=True,
    )
    location, sql_count = done.stdout.split()
    assert Path(location).is_relative_to(target)
    assert int(sql_count) == len(list((ROOT / "queries").glob("*.sql")))


def test_wheel_ships_the_opentelemetry_plugin_and_its_entry_points(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    names = archive.namelist()
    for module in ("entry_points", "span_exporter", "export_step", "sampling", "standard", "exit"):
        assert f"otel_obs/otel/{module}.py" in names
    assert "otel_obs/propagation.py" in names
    (meta,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = archive.read(meta).decode()
    for group, target in (
        ("opentelemetry_distro", "otel_obs.otel.entry_points:OtelObsDistro"),
        ("opentelemetry_configurator", "otel_obs.otel.entry_points:OtelObsConfigurator"),
        ("opentelemetry_traces_exporter", "otel_obs.otel.span_exporter:ObsSpanExporter"),
    ):
        assert f"[{group}]\notel_obs = {target}" in text, text
