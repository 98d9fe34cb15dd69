"""The README says what the code does: its example runs, its lists match the code.

Documentation drifts silently; these tests make drift a failure. The producer
tour is executed as written (in a subprocess, on a store in tmp_path), and the
environment variables, tables and commands the README lists are compared with
the ones the code actually reads, creates and offers.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import typer

from otel_obs.cli import app
from otel_obs.exporters import schema

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The README text under ``## title`` up to the next ``## ``."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def test_quickstart_is_make_demo_and_make_test():
    blocks = re.findall(r"```bash\n(.*?)```", section("Quickstart"), re.S)
    assert [b.split() for b in blocks] == [["make", "demo", "make", "test"]]
    makefile = (ROOT / "Makefile").read_text()
    # The README's test command is what `make test` runs.
    assert "python -m pytest -q" in section("Tests")
    assert re.search(r"^test:.*\n(\t.*\n)*\t\$\(RUN\) python -m pytest -q$", makefile, re.M)
    assert re.search(r"^demo:.*\n(\t.*\n)*\t\$\(RUN\) otel-obs demo$", makefile, re.M)


def test_producer_tour_runs_as_written(tmp_path: Path):
    code = "\n\n".join(re.findall(r"```python\n(.*?)```", section("Producers"), re.S))
    db = tmp_path / "database" / "observability.db"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        # No PATH: no npx, so the TypeScript and lint assertions skip quickly.
        env={"OTEL_OBS_DB": str(db), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    conn = sqlite3.connect(db)
    try:
        tools = dict(
            conn.execute(
                "SELECT id, result_status FROM tool_uses WHERE execution_id = 'exec-readme'"
            ).fetchall()
        )
        chains = conn.execute(
            "SELECT task_id, overall_result FROM assertion_chains WHERE execution_id = ?",
            ("exec-readme",),
        ).fetchall()
    finally:
        conn.close()
    assert tools == {"toolu_01": "done", "toolu_02": "blocked"}
    # src/user.ts is never written, so the file assertion fails the chain.
    assert chains == [("T1", "fail")]
    assert "toolu_02" in proc.stdout and "exec-readme" in proc.stdout


def _env_names_in(paths: list[Path]) -> set[str]:
    names: set[str] = set()
    for path in paths:
        names |= set(
            re.findall(r"[\"'](OTEL_(?:OBS|EXPORTER_OTLP)_[A-Z_]+)[\"']", path.read_text())
        )
    return names


def test_every_environment_variable_the_code_reads_is_documented():
    sources = sorted((ROOT / "otel_obs").rglob("*.py")) + sorted((ROOT / "exporters").glob("*.py"))
    in_code = _env_names_in(sources)
    documented = set(re.findall(r"`(OTEL_(?:OBS|EXPORTER_OTLP)_[A-Z_]+)`", README))
    assert in_code, "the code reads its settings from OTEL_* variables"
    assert in_code <= documented
    # Nothing documented that the code does not read (OTLP's own extras aside).
    assert {n for n in documented if n.startswith("OTEL_OBS_")} == {
        n for n in in_code if n.startswith("OTEL_OBS_")
    }


def test_table_list_matches_the_schema():
    tables = re.findall(r"^\| `([a-z_]+)` \|", section("Data"), re.M)
    assert tables == list(schema.TABLES)


def test_command_list_matches_the_cli():
    documented = {
        " ".join(w for w in m.split() if re.fullmatch(r"[a-z][a-z-]*", w))
        for m in re.findall(r"^\| `otel-obs ([^`]+)` \|", section("Command line"), re.M)
    }
    group = typer.main.get_command(app)
    offered = set()
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        if subcommands:
            offered |= {f"{name} {sub}" for sub in subcommands}
        else:
            offered.add(name)
    assert documented == offered


def test_readme_names_no_machine_paths():
    # The README is published: no absolute paths of a particular machine.
    assert not re.search(r"/(?:home|Users|tmp|work)/\w", README)


def test_the_storage_counters_named_are_the_stores_counters(tmp_path: Path):
    from otel_obs.exporters.stores import process_store, thread_store

    text = section("Configuration")
    paragraph = text[text.index("pipeline.store.stats()") :].split("\n\n")[0]
    named = set(re.findall(r"`([a-z_]+)`", paragraph)) - {"readonly", "process", "thread"}
    assert {"rows_written", "dropped_rows", "queue_overflow", "writer"} <= named
    for kind in (thread_store, process_store):
        store = kind(tmp_path / f"{kind.__name__}.db", tmp_path / "t")
        try:
            assert store.flush(10)
            assert named <= set(store.stats()), (kind.__name__, named - set(store.stats()))
        finally:
            store.close()
