"""The README and the docs say what the code does: their examples run, their lists match the code.

Documentation drifts silently; these tests make drift a failure. The producer
tour (``docs/producers.md``) and the README's producer snippet are executed as
written (in a subprocess, on a store in tmp_path), and the environment
variables, tables and commands the pages list are compared with the ones the
code actually reads, creates and offers. The pages build as a site with
``mkdocs build --strict``: every page in the nav, every link and anchor found.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import typer
import yaml

from otel_obs.cli import app
from otel_obs.exporters import schema

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: Every page: the README and docs/*.md.
PAGES = {"README.md": README} | {
    f"docs/{p.name}": p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md"))
}
ALL_TEXT = "\n".join(PAGES.values())


def page(name: str) -> str:
    """The text of ``docs/<name>``."""
    return PAGES[f"docs/{name}"]


def section(title: str, text: str = README) -> str:
    """The text under ``## title`` up to the next ``## `` (of the README by default)."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"no section {title!r}"
    return match.group(1)


def offered_commands() -> set[str]:
    group = typer.main.get_command(app)
    offered = set()
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        if subcommands:
            offered |= {f"{name} {sub}" for sub in subcommands}
        else:
            offered.add(name)
    return offered


def test_quickstart_is_make_demo_and_make_test():
    for text in (README, page("index.md")):
        blocks = re.findall(r"```bash\n(.*?)```", section("Quickstart", text), re.S)
        assert [b.split() for b in blocks] == [["make", "demo", "make", "test"]]
    makefile = (ROOT / "Makefile").read_text()
    # The README's test command is what `make test` runs.
    assert "python -m pytest -q" in section("Tests")
    assert "python -m pytest -q" in page("tests.md")
    assert re.search(r"^test:.*\n(\t.*\n)*\t\$\(RUN\) python -m pytest -q$", makefile, re.M)
    assert re.search(r"^demo:.*\n(\t.*\n)*\t\$\(RUN\) otel-obs demo$", makefile, re.M)
    # ... and what CI runs.
    assert re.search(r"^python -m pytest -q$", (ROOT / ".ci" / "run").read_text(), re.M)


def test_producer_tour_runs_as_written(tmp_path: Path):
    code = "\n\n".join(re.findall(r"```python\n(.*?)```", page("producers.md"), re.S))
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


def test_readme_producer_snippet_runs_as_written(tmp_path: Path):
    code = re.findall(r"```python\n(.*?)```", section("Three ways in"), re.S)[0]
    db = tmp_path / "database" / "observability.db"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PATH": ""},  # the default store: database/observability.db
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    conn = sqlite3.connect(db)
    try:
        tools = conn.execute(
            "SELECT id, tool, task_id, result_status FROM tool_uses WHERE execution_id = 'exec-1'"
        ).fetchall()
    finally:
        conn.close()
    assert tools == [("toolu_01", "Bash", "T1", "done")]
    assert "exec-1" in proc.stdout


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
    documented = set(re.findall(r"`(OTEL_(?:OBS|EXPORTER_OTLP)_[A-Z_]+)`", ALL_TEXT))
    assert in_code, "the code reads its settings from OTEL_* variables"
    assert in_code <= documented
    # Nothing documented that the code does not read (OTLP's own extras aside).
    assert {n for n in documented if n.startswith("OTEL_OBS_")} == {
        n for n in in_code if n.startswith("OTEL_OBS_")
    }


def test_table_list_matches_the_schema():
    tables = re.findall(r"^\| `([a-z_]+)` \|", page("data.md"), re.M)
    assert tables == list(schema.TABLES)


def test_command_list_matches_the_cli():
    documented = {
        " ".join(w for w in m.split() if re.fullmatch(r"[a-z][a-z-]*", w))
        for m in re.findall(r"^\| `otel-obs ([^`]+)` \|", page("cli.md"), re.M)
    }
    assert documented == offered_commands()


def test_commands_in_examples_are_the_clis():
    # Every `otel-obs …` line of a shell example, on any page, names a real command.
    offered = offered_commands()
    for name, text in PAGES.items():
        for block in re.findall(r"```bash\n(.*?)```", text, re.S):
            for line in block.splitlines():
                match = re.match(r"otel-obs ([a-z-]+)(?: ([a-z-]+))?", line.strip())
                if match:
                    command = match.group(1)
                    if command not in offered:
                        command = f"{command} {match.group(2)}"
                    assert command in offered, (name, line)


def test_docs_name_no_machine_paths():
    # The pages are published: no absolute paths of a particular machine.
    for name, text in PAGES.items():
        assert not re.search(r"/(?:home|Users|tmp|work)/\w", text), name


def test_the_storage_counters_named_are_the_stores_counters(tmp_path: Path):
    from otel_obs.exporters.store_choice import process_store, thread_store

    text = page("configuration.md")
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


def _nav_files(nav: list) -> list[str]:
    files: list[str] = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        files += _nav_files(value) if isinstance(value, list) else [value]
    return files


def test_every_page_is_in_the_nav_and_every_readme_link_resolves():
    nav = _nav_files(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])
    assert sorted(nav) == sorted(p.name for p in DOCS.glob("*.md"))
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert local, "the README links to its pages"
    for link in local:
        assert (ROOT / link).is_file(), link
    # Every page is linked from the README.
    assert {f"docs/{name}" for name in nav} <= set(local)


def test_the_docs_build_strict(tmp_path: Path):
    # Strict: a broken link or anchor, or a page outside the nav, fails the build.
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q"]
        + ["-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert (tmp_path / "site" / "cli" / "index.html").is_file()
