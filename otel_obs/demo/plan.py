"""The simulated build the demo runs: tasks, waves, workers and the faults it plants.

Pure and seeded: the same ``(seed, workers)`` always gives the same plan, so a
demo store can be rebuilt and a test can derive what the store must show from
the plan alone (which task is blocked, which assertion fails …) instead of
from the demo's own output.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

TASK_LIST_ID = "demo-task-list"
TASKS_PER_WORKER = 2
WAVES = 2

#: The faults every demo plants, each in exactly one task.
BLOCKED_COMMAND = "blocked_command"
FAILING_ASSERTION = "failing_assertion"
ERROR_CASCADE = "error_cascade"
UNRELEASED_LOCK = "unreleased_lock"
FAULTS = (BLOCKED_COMMAND, UNRELEASED_LOCK, FAILING_ASSERTION, ERROR_CASCADE)
#: Wave each fault is planted in: the first two in wave 1, the others in wave 2.
FAULT_WAVE = {BLOCKED_COMMAND: 1, UNRELEASED_LOCK: 1, FAILING_ASSERTION: 2, ERROR_CASCADE: 2}
#: How many installs fail in a row in the cascade (then an error entry ends the task).
#: Five, so that even if another worker's batch lands in the middle, one side still
#: holds the three errors a cascade needs.
CASCADE_FAILED_TOOLS = 5

#: What a task in the cascade ends with: it fails, the others complete.
FAILING_FAULTS = (FAILING_ASSERTION, ERROR_CASCADE)

_COMPONENTS = (
    ("models", "user", "User model"),
    ("models", "order", "Order model"),
    ("services", "auth", "Authentication service"),
    ("services", "billing", "Billing service"),
    ("api", "routes", "HTTP routes"),
    ("api", "schemas", "Request schemas"),
    ("storage", "repository", "Repository layer"),
    ("storage", "migrations", "Schema migrations"),
    ("utils", "validation", "Input validation"),
    ("utils", "formatting", "Output formatting"),
    ("workers", "queue", "Job queue"),
    ("workers", "scheduler", "Job scheduler"),
    ("cli", "commands", "Command line"),
    ("config", "settings", "Settings loader"),
    ("events", "bus", "Event bus"),
    ("events", "handlers", "Event handlers"),
)


@dataclass(frozen=True)
class DemoTask:
    """One task of the build: the file it creates and what it depends on."""

    id: str
    title: str
    action: str
    file: str
    wave: int
    depends_on: tuple[str, ...] = ()
    fault: str | None = None

    @property
    def expected_status(self) -> str:
        return "failed" if self.fault in FAILING_FAULTS else "completed"


@dataclass(frozen=True)
class WorkerPlan:
    """One worker process: its instance id, its wave and the tasks it works through."""

    instance_id: str
    wave: int
    tasks: tuple[DemoTask, ...]


@dataclass(frozen=True)
class DemoPlan:
    """The whole build: waves of workers, all under one task list."""

    seed: int
    workers: int
    task_list_id: str = TASK_LIST_ID
    waves: tuple[tuple[WorkerPlan, ...], ...] = field(default_factory=tuple)

    @property
    def tasks(self) -> list[DemoTask]:
        return [t for wave in self.waves for w in wave for t in w.tasks]

    @property
    def instances(self) -> list[WorkerPlan]:
        return [w for wave in self.waves for w in wave]

    def task_with(self, fault: str) -> DemoTask:
        """The task that carries ``fault``."""
        return next(t for t in self.tasks if t.fault == fault)

    def worker(self, instance_id: str) -> WorkerPlan:
        """The worker plan of ``instance_id``; ValueError naming the valid ones."""
        for worker in self.instances:
            if worker.instance_id == instance_id:
                return worker
        valid = ", ".join(w.instance_id for w in self.instances)
        raise ValueError(f"unknown instance {instance_id!r}; valid instances: {valid}")

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> DemoPlan:
        raw = json.loads(path.read_text(encoding="utf-8"))
        waves = tuple(
            tuple(
                WorkerPlan(
                    instance_id=w["instance_id"],
                    wave=w["wave"],
                    tasks=tuple(
                        DemoTask(**{**t, "depends_on": tuple(t["depends_on"])}) for t in w["tasks"]
                    ),
                )
                for w in wave
            )
            for wave in raw["waves"]
        )
        return cls(
            seed=raw["seed"], workers=raw["workers"], task_list_id=raw["task_list_id"], waves=waves
        )


def build_plan(seed: int, workers: int) -> DemoPlan:
    """The plan for ``workers`` processes per wave; ValueError for fewer than one."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    rng = random.Random(seed)
    per_wave = workers * TASKS_PER_WORKER
    components = [_COMPONENTS[i % len(_COMPONENTS)] for i in range(per_wave * WAVES)]
    rng.shuffle(components)

    # Faults: each in a distinct task of its wave, chosen by the seed.
    fault_of: dict[tuple[int, int], str] = {}
    for wave in range(1, WAVES + 1):
        faults = [f for f in FAULTS if FAULT_WAVE[f] == wave]
        for fault, slot in zip(faults, rng.sample(range(per_wave), len(faults)), strict=True):
            fault_of[(wave, slot)] = fault

    waves: list[tuple[WorkerPlan, ...]] = []
    previous: list[str] = []
    number = 0
    for wave in range(1, WAVES + 1):
        tasks: list[DemoTask] = []
        for slot in range(per_wave):
            number += 1
            package, module, title = components[number - 1]
            depends = tuple(sorted(rng.sample(previous, min(len(previous), rng.randint(1, 2)))))
            tasks.append(
                DemoTask(
                    id=f"T{number:02d}",
                    title=f"{title} ({package}/{module}_{number:02d}.py)",
                    action="CREATE",
                    file=f"src/{package}/{module}_{number:02d}.py",
                    wave=wave,
                    depends_on=depends,
                    fault=fault_of.get((wave, slot)),
                )
            )
        previous = [t.id for t in tasks]
        waves.append(
            tuple(
                WorkerPlan(
                    instance_id=f"agent-w{wave}-{index + 1}",
                    wave=wave,
                    tasks=tuple(tasks[index * TASKS_PER_WORKER : (index + 1) * TASKS_PER_WORKER]),
                )
                for index in range(workers)
            )
        )
    return DemoPlan(seed=seed, workers=workers, waves=tuple(waves))
