"""Stores where they are found: on read-only media, and written by a newer otel-obs.

A WAL store whose ``-wal``/``-shm`` files are gone (its writers closed) cannot
be opened ``mode=ro`` where SQLite may not create them; readers then open it
``immutable=1``. The read-only medium is a real read-only bind mount when the
tests may mount (root with CAP_SYS_ADMIN), else a folder without write
permission when the tests do not run as root (where permission bits stop
writes); otherwise those tests are skipped.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import scenarios_parallel as sp
from demo_store import clean_env, run_cli

from otel_obs.exporters import schema
from otel_obs.queries.runner import ObservabilitySkills

EXECUTION = "ro-media"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store recorded through the producers and closed: WAL mode, no -wal or -shm left."""
    store = sp.Store.at(tmp_path_factory.mktemp("written"))
    w = sp.worker(store, EXECUTION, "ro-w")
    w.start_task("R-1")
    w.use_tool("Read", {"file_path": "a.py"})
    w.end_task("R-1")
    w.writer.close()
    store.close()
    conn = sqlite3.connect(store.db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    return store.db_path


@contextmanager
def _read_only_folder(source: Path, target: Path) -> Iterator[str]:
    """``target``: ``source``'s files on a read-only medium; yields how it was made."""
    target.mkdir()
    if os.geteuid() != 0:
        for item in source.iterdir():
            if item.is_file():
                shutil.copy2(item, target / item.name)
        target.chmod(0o555)
        try:
            yield "a folder without write permission"
        finally:
            target.chmod(0o755)
        return
    mount = shutil.which("mount")
    if mount is None:
        pytest.skip("no mount command to make a read-only medium as root")
    bind = subprocess.run([mount, "--bind", str(source), str(target)], capture_output=True)
    if bind.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {bind.stderr.decode().strip()}")
    try:
        remount = subprocess.run([mount, "-o", "remount,bind,ro", str(target)], capture_output=True)
        if remount.returncode != 0:
            pytest.skip(f"cannot remount read-only: {remount.stderr.decode().strip()}")
        yield "a read-only bind mount"
    finally:
        subprocess.run(["umount", str(target)], capture_output=True)


@pytest.fixture(scope="module")
def on_read_only_media(written: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    target = tmp_path_factory.mktemp("media") / "ro"
    with _read_only_folder(written.parent, target):
        db = target / written.name
        with pytest.raises(OSError):
            (target / "probe").write_text("x")  # the medium really refuses writes
        assert not (target / f"{written.name}-wal").exists()
        yield db


def test_a_wal_store_on_read_only_media_is_read(on_read_only_media: Path, tmp_path: Path):
    db = str(on_read_only_media)
    proc = run_cli("executions", "--latest", "--db", db, cwd=tmp_path, env=clean_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == EXECUTION
    proc = run_cli("summary", EXECUTION, "--db", db, "--json", cwd=tmp_path, env=clean_env())
    assert proc.returncode == 0, proc.stderr
    with ObservabilitySkills(on_read_only_media) as skills:
        uses = skills.run("I002", execution_id=EXECUTION)
    assert [(u["tool"], u["uses"]) for u in uses] == [("Read", 1)]
    # Nothing was created beside it.
    assert not [p for p in on_read_only_media.parent.iterdir() if p.name.endswith(("-wal", "-shm"))]


def test_demo_refuses_a_store_of_a_newer_schema(tmp_path: Path):
    db = tmp_path / "newer.db"
    conn = sqlite3.connect(db, isolation_level=None)
    schema.migrate(conn)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.close()
    proc = run_cli("demo", "--db", str(db), "--json", cwd=tmp_path, env=clean_env(), timeout=60)
    assert proc.returncode == 2, (proc.stdout[-500:], proc.stderr)
    assert proc.stdout == ""
    line = proc.stderr.strip()
    assert str(schema.SCHEMA_VERSION + 1) in line and "newer" in line and str(db) in line, line
    assert "Traceback" not in line


def test_demo_refuses_a_file_that_is_not_a_store(tmp_path: Path):
    db = tmp_path / "notes.db"
    db.write_text("not a database at all\n" * 100)
    proc = run_cli("demo", "--db", str(db), cwd=tmp_path, env=clean_env(), timeout=60)
    assert proc.returncode == 2, (proc.stdout[-500:], proc.stderr)
    assert "not a SQLite database" in proc.stderr
    assert db.read_text().startswith("not a database")
