"""One demo store per test session, built through the real ``otel-obs demo`` entry point.

The CLI and demo tests all read the same store: running the demo is the
slowest thing they do, so it runs once (``python -m otel_obs demo --json`` in
a subprocess, small size) and is cached here for every module that asks.
What the store must contain is derived from the seeded plan
(``build_plan(SEED, WORKERS)``), never from the demo's own output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from otel_obs.demo.plan import DemoPlan, build_plan

WORKERS = 2
SEED = 11

#: Variables that would point a subprocess at another store or trace.
_LEAKY_ENV = (
    "OTEL_OBS_DB",
    "OTEL_OBS_TRANSCRIPTS_DIR",
    "TRACEPARENT",
    "TRACESTATE",
    "BAGGAGE",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "EXECUTION_ID",
    "TASK_ID",
)


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without store or trace settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY_ENV}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m otel_obs …`` as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "otel_obs", *args],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass(frozen=True)
class DemoStore:
    """A finished demo: where its store is, what the demo printed, and the plan it ran."""

    root: Path
    db: Path
    transcripts: Path
    result: dict[str, Any]
    plan: DemoPlan
    stderr: str

    @property
    def execution_id(self) -> str:
        return str(self.result["execution_id"])

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run a command against this store (``--db`` is added by the caller when wanted)."""
        return run_cli(*args, cwd=self.root, env=clean_env(**env))


_cache: dict[str, DemoStore] = {}


def demo_store(tmp_path_factory: Any) -> DemoStore:
    """The session's demo store, built on first use."""
    if "store" not in _cache:
        root = tmp_path_factory.mktemp("demo")
        db = root / "store" / "observability.db"
        transcripts = root / "transcripts"
        proc = run_cli(
            "demo",
            "--workers",
            str(WORKERS),
            "--seed",
            str(SEED),
            "--db",
            str(db),
            "--transcripts-dir",
            str(transcripts),
            "--json",
            cwd=root,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        _cache["store"] = DemoStore(
            root=root,
            db=db,
            transcripts=transcripts,
            result=json.loads(proc.stdout),
            plan=build_plan(SEED, WORKERS),
            stderr=proc.stderr,
        )
    return _cache["store"]
