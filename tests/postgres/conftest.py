"""PostgreSQL stores for the tests of this folder: the same data as SQLite stores.

Every test here needs a real server (the session's ``pg_server``: the one
``OTEL_OBS_TEST_PG_URL`` names, else a throwaway cluster) and is marked
``postgres`` (``pytest -m postgres`` runs them alone). The stores are the
session's demo store and a store of planted faults (every scenario store of
``tests/scenarios.py`` merged, invariants broken and odd values planted by SQL),
each moved into a fresh database with ``otel-obs move``'s code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import scenarios
from demo_store import demo_store
from opentelemetry import context as otel_context
from pg_stores import Pair, _break, _db_of, _pair, _plant

from otel_obs.cli.move import move_store


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.postgres)


#: The session's scenario stores (tests/conftest.py) merged into the planted-fault store.
SCENARIOS = (
    "failing_chain",
    "blocked_command",
    "error_cascade",
    "orphans",
    "stuck_agent",
    "wave_conflicts",
    "dependency_cycle",
    "slow_tool",
    "regression",
)


@pytest.fixture(scope="session")
def fault_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every scenario store merged into one SQLite file, with planted faults and odd values."""
    root = tmp_path_factory.mktemp("faults")
    merged = root / "faults.db"
    # The scenarios' agents share this thread and may leave a span current (as real
    # agents in one process would): the tests after these must start from no span.
    before = otel_context.get_current()
    try:
        built = {name: request.getfixturevalue(name) for name in (*SCENARIOS, "clean_run")}
    finally:
        otel_context.attach(before)
    for name in SCENARIOS:
        move_store(_db_of(built[name]), merged)
    clean = built["clean_run"]
    broken = scenarios.copy_store(_db_of(clean), root / "broken.db")
    _break(broken, clean.execution_id)
    move_store(broken, merged)
    _plant(merged)
    return merged


@pytest.fixture(scope="session")
def demo_pair(tmp_path_factory: pytest.TempPathFactory, pg_server) -> Iterator[Pair]:
    """The session's demo store, and the same moved into PostgreSQL."""
    yield from _pair("demo", demo_store(tmp_path_factory).db, pg_server[0])


@pytest.fixture(scope="session")
def fault_pair(fault_store: Path, pg_server) -> Iterator[Pair]:
    """The planted-fault store, and the same moved into PostgreSQL."""
    yield from _pair("faults", fault_store, pg_server[0])


@pytest.fixture(params=["demo", "faults"])
def pair(request: pytest.FixtureRequest) -> Pair:
    """Each of the two stores, on both engines."""
    return request.getfixturevalue(f"{'fault' if request.param == 'faults' else 'demo'}_pair")
