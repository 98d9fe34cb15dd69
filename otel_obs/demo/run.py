"""``otel-obs demo``: a simulated multi-agent build recorded through the real producers.

The orchestrator (this module, in the CLI's process) runs the execution and
each wave through the public API an orchestrator would use,
:mod:`otel_obs.propagation` (``execution_scope``, ``wave_scope``), and starts
each wave's workers as subprocesses (``python -m otel_obs.demo worker …``)
with the scope's ``environment()``: ``TRACEPARENT`` / ``BAGGAGE`` carrying the
execution id, wave number and task list. Every worker's spans join one trace
and land in one execution, exactly as a real orchestrator's workers would.

The plan (:mod:`otel_obs.demo.plan`) is seeded; the faults it plants are what the
diagnosis commands then find. Workers report finished tasks on stdout, which
drives a Rich progress display on stderr.
"""

from __future__ import annotations

import argparse
import json
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from .. import conventions as c
from .. import settings
from ..exporters.jsonl import transcript_path
from ..store_location import ServerStore, StoreLocation
from .plan import FAILING_ASSERTION, FAULTS, DemoPlan, build_plan

WORKER_TIMEOUT_S = 120.0
SERVICE_NAME = "otel-obs-demo"
#: The demo's HTML report, next to the execution's transcript.
REPORT_FILE = "report.html"


class DemoError(RuntimeError):
    """A worker process failed: the demo's store would not show what it promises."""


def _workspace(plan: DemoPlan) -> Path:
    """A scratch project the workers really write files into."""
    root = Path(tempfile.mkdtemp(prefix="otel-obs-demo-"))
    (root / "src").mkdir()
    (root / "PLAN.md").write_text(
        "# Build plan\n\n" + "\n".join(f"- {t.id}: {t.title}" for t in plan.tasks) + "\n"
    )
    (root / "requirements.txt").write_text("fastapi\nuvicorn\n")
    plan.save(root / "plan.json")
    return root


def _pump(stream: IO[str], events: queue.Queue[dict[str, Any]]) -> None:
    """Forward a worker's JSON progress lines to the orchestrator's queue."""
    for line in stream:
        try:
            events.put(json.loads(line))
        except ValueError:
            continue


def run_demo(
    workers: int = 3,
    seed: int = 7,
    db_path: StoreLocation = Path("database/observability.db"),
    transcripts_dir: Path = Path("transcripts"),
    show_progress: bool = True,
) -> dict[str, Any]:
    """Run the simulated build into the store; return what happened and where it is."""
    import uuid

    from ..config import configure
    from ..propagation import execution_scope, wave_scope

    plan = build_plan(seed, workers)
    if not isinstance(db_path, ServerStore):
        db_path = Path(db_path).resolve()
    transcripts_dir = Path(transcripts_dir).resolve()
    execution_id = f"demo-{uuid.uuid4().hex[:12]}"
    # configure(), not a private pipeline: with OTEL_EXPORTER_OTLP_ENDPOINT set, the
    # execution also goes out over OTLP (one trace in Jaeger / Tempo).
    pipeline = configure(
        db_path, transcripts_dir, service_name=SERVICE_NAME, task_list_id=plan.task_list_id
    )
    workspace = _workspace(plan)
    statuses: dict[str, str] = {}

    progress = _Progress(show_progress, plan)
    try:
        with (
            progress,
            execution_scope(execution_id, task_list_id=plan.task_list_id, pipeline=pipeline) as run,
        ):
            for number, wave in enumerate(plan.waves, start=1):
                with wave_scope(number, pipeline=pipeline) as wave_run:
                    _run_wave(
                        number,
                        [w.instance_id for w in wave],
                        wave_run.environment(),
                        workspace,
                        db_path,
                        transcripts_dir,
                        statuses,
                        progress,
                    )
            if any(s != "completed" for s in statuses.values()):
                run.fail()
    finally:
        pipeline.flush()
        shutil.rmtree(workspace, ignore_errors=True)

    return _result(plan, execution_id, db_path, transcripts_dir, statuses)


def _run_wave(
    number: int,
    instance_ids: list[str],
    env: dict[str, str],
    workspace: Path,
    db_path: StoreLocation,
    transcripts_dir: Path,
    statuses: dict[str, str],
    progress: _Progress,
) -> None:
    """Start one worker per instance, follow their progress, fail loudly if one fails."""
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    procs: list[tuple[str, subprocess.Popen[str], IO[str]]] = []
    if isinstance(db_path, ServerStore):
        # A URL may hold a password: through the environment, not the command line.
        env = {**env, settings.DB.env or "": db_path.url}
    store_arg = [] if isinstance(db_path, ServerStore) else ["--db", str(db_path)]
    for instance_id in instance_ids:
        log: IO[str] = tempfile.TemporaryFile(mode="w+")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "otel_obs.demo",
                "worker",
                "--plan",
                str(workspace / "plan.json"),
                "--instance",
                instance_id,
                "--workspace",
                str(workspace),
                *store_arg,
                "--transcripts-dir",
                str(transcripts_dir),
            ],
            env=env,
            cwd=workspace,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        assert proc.stdout is not None
        threading.Thread(target=_pump, args=(proc.stdout, events), daemon=True).start()
        procs.append((instance_id, proc, log))

    def drain(block: bool) -> None:
        while True:
            try:
                event = events.get(timeout=0.05) if block else events.get_nowait()
            except queue.Empty:
                return
            if event.get("event") == "task_done":
                statuses[event["task_id"]] = event["status"]
                progress.advance(number)
            block = False

    deadline = time.monotonic() + WORKER_TIMEOUT_S
    while any(proc.poll() is None for _, proc, _ in procs):
        drain(block=True)
        if time.monotonic() > deadline:
            for _, proc, _ in procs:
                if proc.poll() is None:
                    proc.kill()  # our own child, by its handle
                    proc.wait()
    for _, proc, _ in procs:
        assert proc.stdout is not None
        proc.stdout.close()
    drain(block=False)

    failures = []
    for instance_id, proc, log in procs:
        if proc.returncode != 0:
            log.seek(0)
            tail = log.read()[-2000:]
            failures.append(f"worker {instance_id} exited with {proc.returncode}:\n{tail}")
        log.close()
    if failures:
        sys.stderr.write("\n\n".join(failures) + "\n")
        raise DemoError(f"{len(failures)} demo worker(s) failed in wave {number} (stderr above)")


def _result(
    plan: DemoPlan,
    execution_id: str,
    db_path: StoreLocation,
    transcripts_dir: Path,
    statuses: dict[str, str],
) -> dict[str, Any]:
    from ..queries.jsonable import to_jsonable
    from ..queries.runner import ObservabilitySkills
    from ..report import write_report

    with ObservabilitySkills(db_path) as skills:
        summary = skills.execution_summary(execution_id)
        issues = skills.validate(execution_id)
        errors = skills.find_errors(execution_id)
    db_arg, tail_arg = _store_args(db_path, transcripts_dir)
    report = write_report(
        db_path, execution_id, transcript_path(transcripts_dir, execution_id).parent / REPORT_FILE
    )
    failing_task = plan.task_with(FAILING_ASSERTION).id
    return {
        "execution_id": execution_id,
        "task_list_id": plan.task_list_id,
        "seed": plan.seed,
        "workers": plan.workers,
        "db": str(db_path),
        "transcripts_dir": str(transcripts_dir),
        "transcript": str(transcript_path(transcripts_dir, execution_id)),
        "report": str(report),
        "waves": len(plan.waves),
        "instances": [w.instance_id for w in plan.instances],
        "tasks": {t.id: statuses.get(t.id, "unknown") for t in plan.tasks},
        "faults": {fault: plan.task_with(fault).id for fault in FAULTS},
        "summary": to_jsonable(summary),
        "validation_issues": to_jsonable(issues),
        "error_count": len(errors),
        "next_commands": [
            f"otel-obs summary {execution_id}{db_arg}",
            f"otel-obs errors {execution_id}{db_arg}",
            f"otel-obs blocked {execution_id}{db_arg}",
            f"otel-obs anomalies {execution_id}{db_arg}",
            f"otel-obs health {execution_id}{db_arg}",
            f"otel-obs trace-task {failing_task} -e {execution_id}{db_arg}",
            f"otel-obs tail {execution_id}{tail_arg}",
            f"otel-obs report {execution_id}{db_arg} -o report.html",
            f"otel-obs tools{db_arg}",
        ],
    }


def _store_args(db_path: StoreLocation, transcripts_dir: Path) -> tuple[str, str]:
    """The ``--db`` / ``--transcripts-dir`` a follow-up command needs to find this store."""
    from ..config import resolve_paths

    db_arg = "" if resolve_paths()[0] == db_path else f" --db {db_path}"
    if resolve_paths(db_path if db_arg else None)[1] == transcripts_dir:
        return db_arg, db_arg
    return db_arg, f" --transcripts-dir {transcripts_dir}"


def print_result(result: dict[str, Any]) -> None:
    """What a person wants after the run: ids, where things are, summary, validation, next steps."""
    from ..cli import output as out

    out.record_table(
        {
            "execution": result["execution_id"],
            "task list": result["task_list_id"],
            "instances": len(result["instances"]),
            "waves": result["waves"],
            "store": result["db"],
            "transcript": result["transcript"],
            "report": result["report"],
        },
        title="Demo execution",
    )
    out.record_table(result["summary"] or {}, title="Summary")
    issues = result["validation_issues"]
    if issues:
        out.rows_table(
            [
                {"check": i["check_id"], "severity": i["severity"], "description": i["description"]}
                for i in issues
            ],
            title="Validation (the demo plants faults, so issues are expected)",
        )
    else:
        out.note("Validation: no issues")
    out.note("\n[bold]Next:[/bold]")
    # Plain writes: a command must stay on one line to be copied, whatever the width.
    sys.stdout.write("".join(f"  {command}\n" for command in result["next_commands"]))


class _Progress:
    """A Rich progress display on stderr, one bar per wave; silent when disabled."""

    def __init__(self, enabled: bool, plan: DemoPlan) -> None:
        self.enabled = enabled
        self.plan = plan
        self._bars: dict[int, Any] = {}
        self._progress: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=Console(stderr=True),
            )
            self._progress.__enter__()
            for number, wave in enumerate(self.plan.waves, start=1):
                total = sum(len(w.tasks) for w in wave)
                self._bars[number] = self._progress.add_task(
                    f"wave {number} ({len(wave)} agents)", total=total
                )
        return self

    def advance(self, wave: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._bars[wave])

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)


# --------------------------------------------------------------------------
# Worker entry point: python -m otel_obs.demo worker …
# --------------------------------------------------------------------------


def worker_main(argv: list[str] | None = None) -> int:
    """Run one worker; the execution id comes from BAGGAGE, as a real worker's would."""
    from opentelemetry import baggage

    from ..config import configure
    from ..propagation import environment_context
    from .worker import DemoWorker

    parser = argparse.ArgumentParser(prog="python -m otel_obs.demo worker")
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--instance", required=True)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--db", default=None, help="default: $OTEL_OBS_DB")
    parser.add_argument("--transcripts-dir", type=Path, required=True)
    args = parser.parse_args(argv)

    execution_id = baggage.get_baggage(c.EXECUTION_ID, environment_context())
    if not execution_id:
        parser.error(f"no {c.EXECUTION_ID} in the BAGGAGE environment variable")
    plan = DemoPlan.load(args.plan)
    configure(args.db, args.transcripts_dir, service_name=SERVICE_NAME)
    worker = DemoWorker(
        plan,
        plan.worker(args.instance),
        args.workspace,
        args.db,
        args.transcripts_dir,
    )
    worker.run()
    return 0
