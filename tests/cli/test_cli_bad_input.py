"""Out-of-range numbers and files that are not stores: usage errors, exit 2, one line.

A negative threshold or window used to run and answer quietly (SQLite reads
``LIMIT -1`` as no limit), and an empty or foreign SQLite file given as
``--db`` ended in "no such table" with exit 1. Both are the caller's mistake,
so both are reported as usage errors naming the argument.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from demo_store import DemoStore, demo_store

from otel_obs.queries.registry import get_tool


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    return demo_store(tmp_path_factory)


def usage_error(proc, *names: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["incomplete", "{eid}", "--older-than-s", "-5"], ["--older-than-s"]),
        (["incomplete", "{eid}", "--older-than-s", "nan"], ["--older-than-s"]),
        (["tool", "T003", "-p", "execution_id={eid}", "-p", "window=-1"], ["window", "-1"]),
        (["tool", "I004", "-p", "execution_id={eid}", "-p", "limit=-1"], ["limit", "-1"]),
        (["tool", "D001", "-p", "execution_id={eid}", "-p", "sigmas=-2"], ["sigmas", "-2"]),
        (["tool", "P002", "-p", "execution_id={eid}", "-p", "heartbeat_s=inf"], ["heartbeat_s"]),
        (["executions", "--limit", "0"], ["--limit"]),
        (["demo", "--workers", "0"], ["--workers"]),
        (["mcp", "--http", "--port", "0"], ["--port"]),
    ],
)
def test_out_of_range_numbers_are_usage_errors(demo: DemoStore, args, names):
    argv = [a.format(eid=demo.execution_id) for a in args]
    if argv[0] != "demo":
        argv += ["--db", str(demo.db)]
    usage_error(demo.cli(*argv), *names)


def test_the_registry_refuses_negative_and_non_finite_numbers():
    tool = get_tool("T003")
    for bad in (-1, "-1", -0.5):
        with pytest.raises(ValueError, match="'window'"):
            tool.bind({"execution_id": "x", "window": bad})
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match="'older_than_s'"):
            get_tool("T004").bind({"execution_id": "x", "older_than_s": bad})
    assert tool.bind({"execution_id": "x", "window": 0})["window"] == 0


def _foreign(tmp_path: Path) -> Path:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    return path


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    return path


def _not_sqlite(tmp_path: Path) -> Path:
    path = tmp_path / "notes.db"
    path.write_text("these are not the tables you are looking for\n" * 200)
    return path


def _partial(tmp_path: Path) -> Path:
    path = tmp_path / "partial.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE task_list_execution_runs (id TEXT)")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize("make", [_foreign, _empty, _not_sqlite, _partial])
@pytest.mark.parametrize(
    "command", [["executions"], ["summary", "x"], ["report", "x"], ["tool", "V007"], ["mcp"]]
)
def test_a_file_that_is_not_a_store_is_named(demo: DemoStore, tmp_path: Path, make, command):
    path = make(tmp_path)
    before = path.read_bytes()
    line = usage_error(demo.cli(*command, "--db", str(path)), "--db", "not an otel-obs store")
    assert str(path) in line
    assert path.read_bytes() == before  # refused, never migrated or written


@pytest.mark.parametrize("command", ["import", "demo"])
def test_a_store_the_command_cannot_write_is_refused_before_it_starts(
    demo: DemoStore, tmp_path: Path, read_only_store: Path, command: str
):
    """The writer would refuse a read-only store in the background, and the command
    "succeed" with nothing stored: it is refused up front, naming the store."""
    extra = {"import": [str(demo.root)], "demo": ["--workers", "1"]}[command]
    before = read_only_store.read_bytes()
    line = usage_error(
        demo.cli(command, *extra, "--db", str(read_only_store), "--transcripts-dir", str(tmp_path)),
        "--db",
        "cannot write",
    )
    assert str(read_only_store) in line
    assert read_only_store.read_bytes() == before
