"""Shared fixtures: an inspectable SDK pipeline for the producers' tests, and
session-wide fixture stores (built once through the real producers; see scenarios.py).

Tests only read these stores; a test that must break one works on
``scenarios.copy_store`` of it in its own ``tmp_path``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
import scenarios
from hypothesis import HealthCheck, settings
from producer_support import Traced

from otel_obs._internal_errors import RAISE_ENV, internal_errors_allowed
from otel_obs.transcript_writer import TranscriptWriter

# Property tests: a fixed, fast profile by default (and in CI), a longer random
# one for benchmarks/fuzz_producers.py (HYPOTHESIS_PROFILE=long).
settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "2000")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    # An internal error (an unexpected exception otel-obs swallows to protect the
    # agent) fails the test that meets it, in this process and the processes it
    # starts; a test that provokes one on purpose says so:
    # @pytest.mark.internal_errors_allowed.
    os.environ[RAISE_ENV] = "1"


@pytest.fixture(autouse=True)
def _internal_errors_policy(request):
    """Tests marked ``internal_errors_allowed`` provoke internal errors on purpose."""
    if request.node.get_closest_marker("internal_errors_allowed") is None:
        yield
        return
    with internal_errors_allowed():
        yield


@pytest.fixture
def traced() -> Traced:
    """A real SDK pipeline whose finished spans the producers' tests inspect."""
    return Traced()


@pytest.fixture
def writer(traced: Traced):
    """A writer on ``traced``, closed after the test."""
    w = TranscriptWriter("exec-1", "agent-1", pipeline=traced.pipeline)
    yield w
    w.close()


@pytest.fixture(scope="session")
def scenario_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("scenarios")


@pytest.fixture(scope="session")
def clean_run(scenario_dir) -> scenarios.CleanRun:
    return scenarios.build_clean(scenario_dir / "clean")


@pytest.fixture(scope="session")
def failing_chain(scenario_dir) -> scenarios.FailingChain:
    return scenarios.build_failing_chain(scenario_dir / "failing_chain")


@pytest.fixture(scope="session")
def blocked_command(scenario_dir) -> scenarios.BlockedCommand:
    return scenarios.build_blocked_command(scenario_dir / "blocked_command")


@pytest.fixture(scope="session")
def error_cascade(scenario_dir) -> scenarios.ErrorCascade:
    return scenarios.build_error_cascade(scenario_dir / "error_cascade")


@pytest.fixture(scope="session")
def orphans(scenario_dir) -> scenarios.Orphans:
    return scenarios.build_orphans(scenario_dir / "orphans")


@pytest.fixture(scope="session")
def stuck_agent(scenario_dir) -> scenarios.StuckAgent:
    return scenarios.build_stuck_agent(scenario_dir / "stuck_agent")


@pytest.fixture(scope="session")
def wave_conflicts(scenario_dir) -> scenarios.WaveConflicts:
    return scenarios.build_wave_conflicts(scenario_dir / "wave_conflicts")


@pytest.fixture(scope="session")
def dependency_cycle(scenario_dir) -> scenarios.DependencyCycle:
    return scenarios.build_dependency_cycle(scenario_dir / "dependency_cycle")


@pytest.fixture(scope="session")
def slow_tool(scenario_dir) -> scenarios.SlowTool:
    return scenarios.build_slow_tool(scenario_dir / "slow_tool")


@pytest.fixture(scope="session")
def regression(scenario_dir) -> scenarios.Regression:
    return scenarios.build_regression(scenario_dir / "regression")


# ---------------------------------------------------------------------------
# PostgreSQL: one throwaway server for the session (pg_cluster.py), a fresh
# database per test. Under CI=true a server that cannot start fails the tests
# that need it; elsewhere they skip, saying why.
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server():
    import pg_cluster

    given = os.environ.get(pg_cluster.URL_ENV)
    if given:
        yield given, os.environ.get("OTEL_OBS_TEST_PG_FOLDER")
        return
    try:
        cluster = pg_cluster.start()
    except pg_cluster.ClusterUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL server cannot start: {exc}")
        pytest.skip(f"PostgreSQL server cannot start here: {exc}")
    try:
        yield cluster.url, str(cluster.folder)
    finally:
        pg_cluster.stop(cluster.folder)


@pytest.fixture
def pg_url(pg_server) -> str:
    """A fresh, empty database (C collation) on the session's server: its URL."""
    import uuid

    import psycopg

    server_url, _ = pg_server
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
        )
    yield server_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def read_only_store(tmp_path: Path):
    """A store on a read-only file system (root), or in a read-only folder (others)."""
    import os

    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        store = folder / "ro.db"
        sqlite3.connect(store).execute("PRAGMA user_version = 1").connection.close()
        store.chmod(0o444)
        folder.chmod(0o555)
        yield store
        folder.chmod(0o755)
        return
    mount = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(folder)], capture_output=True)
    if mount.returncode:
        pytest.skip(f"cannot mount a read-only file system here: {mount.stderr!r}")
    try:
        store = folder / "ro.db"
        sqlite3.connect(store).execute("PRAGMA user_version = 1").connection.close()
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield store
    finally:
        subprocess.run(["umount", str(folder)], check=False)
