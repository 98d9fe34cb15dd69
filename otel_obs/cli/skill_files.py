"""Agent skill files (``/obs-validate`` …) that teach a coding agent to use the CLI.

Claude Code and similar agents load ``<dir>/<name>/SKILL.md`` files: YAML front
matter with ``name`` and ``description`` (which the agent reads to decide when
the skill applies), then instructions. Each of ours names exactly one
``otel-obs … --json`` command and explains its output, so the agent parses JSON
instead of scraping tables. Commands take the execution from ``$EXECUTION_ID``
and fall back to the most recent execution in the store; the store is the one
``--db`` / ``OTEL_OBS_DB`` names, as for every command.

The texts live here as Python strings rather than package data: there is
nothing to lose in a wheel and nothing to configure in packaging.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from ..store_location import StoreLocation, written_reference

DEFAULT_DIR = Path(".claude/skills")

#: The command that names the most recent execution.
LATEST = "otel-obs executions --latest"
#: The shell expression every skill uses for "the execution to look at".
EXEC = f'"${{EXECUTION_ID:-$({LATEST})}}"'
_STORE_DEFAULT = (
    "The store is\n`$OTEL_OBS_DB` or `database/observability.db`; add `--db PATH` for another.\n"
)


@dataclass(frozen=True)
class AgentSkill:
    """One skill: its slash name, when to use it, the command, how to read the result."""

    name: str
    description: str
    command: str
    reading: str

    def render(self, db: str | None = None) -> str:
        """The SKILL.md text: front matter, the command in a bash block, then guidance.

        ``db``: every ``otel-obs`` call in the command names that store (``--db``),
        whatever ``OTEL_OBS_DB`` the agent's shell has.
        """
        command, store = self.command, _STORE_DEFAULT
        if db is not None:
            option = f"--db {shlex.quote(str(db))}"
            command = f"{command.replace(LATEST, f'{LATEST} {option}')} {option}"
            store = f"The store is `{db}` (named in the command).\n"
        return (
            "---\n"
            f"name: {self.name}\n"
            # Double-quoted: descriptions hold ": ", which a plain YAML scalar cannot.
            # A JSON string is a valid YAML double-quoted scalar.
            f"description: {json.dumps(self.description, ensure_ascii=False)}\n"
            "---\n\n"
            f"# /{self.name}\n\n"
            f"{self.description}\n\n"
            "## Run\n\n"
            "```bash\n"
            f"{command}\n"
            "```\n\n"
            "`EXECUTION_ID` selects the execution; unset, the most recent execution in the\n"
            "store is used (`otel-obs executions --json` lists them all). "
            f"{store}"
            "Stdout is JSON only. Exit status: 0 ok, 1 the check found problems (the JSON\n"
            "says which), 2 bad usage or no store (one line on stderr says why).\n\n"
            "## Reading the output\n\n"
            f"{self.reading.strip()}\n"
        )


SKILLS: tuple[AgentSkill, ...] = (
    AgentSkill(
        name="obs-validate",
        description=(
            "Check that the observability data of a build-agent execution is complete and "
            "consistent (sequence gaps, unlinked tool uses, unbalanced locks, open assertion "
            "chains, wave counts, broken references). Use after an execution finishes and "
            "before trusting any other report about it."
        ),
        command=f"otel-obs validate {EXEC} --json",
        reading="""
A JSON list of issues; `[]` (exit 0) means the data is sound. Each issue has
`check_id` (V001 sequence integrity … V007 foreign keys), `severity`,
`description` and `details` (the offending rows). An unbalanced lock (V004)
usually means a worker stopped while holding a file; look at that worker with
/obs-errors. Sequence or linkage problems (V001, V002) mean data was lost:
distrust counts in /obs-summary until explained.
""",
    ),
    AgentSkill(
        name="obs-errors",
        description=(
            "List every error of an execution — failed tool uses, failed assertions, failed "
            "skills, error entries — in time order, with the root cause marked. Use when a "
            "build failed or a task did not complete."
        ),
        command=f"otel-obs errors {EXEC} --json",
        reading="""
A JSON list of error records in time order; `[]` (exit 0) means none. The
record with `"is_root_cause": true` is the first error: start there, the rest
are often consequences. Each record says where it came from (tool use,
assertion, skill or error entry), its task, instance, time and message. For
what happened around the first error run `otel-obs tool T003 --param
execution_id=$EXECUTION_ID --json`; for blocked commands `otel-obs blocked
$EXECUTION_ID --json`.
""",
    ),
    AgentSkill(
        name="obs-task-trace",
        description=(
            "Show the complete execution path of one task: its transcript entries in order "
            "with the tool uses and assertions attached. Use to understand what an agent "
            "actually did for a task that failed or took long."
        ),
        command=f'otel-obs trace-task "${{TASK_ID:?set TASK_ID to the task id}}" -e {EXEC} --json',
        reading="""
Set `TASK_ID` first (task ids appear in /obs-errors and /obs-summary output,
and `otel-obs tool A002 --param execution_id=$EXECUTION_ID --json` lists tasks
by status). The output is a JSON list of the task's transcript entries in
sequence order: `entry_type` (task_start, tool_use, assertion, decision, error,
task_end …), `summary`, time, and for tool uses the tool, its status and
duration, for assertions the result. The last entries show how the task ended.
""",
    ),
    AgentSkill(
        name="obs-summary",
        description=(
            "One-row overview of a build-agent execution: status, duration, counts of "
            "transcript entries, tool uses, errors, blocked commands, assertions passed and "
            "failed, skills. Use first, to decide what to look at next."
        ),
        command=f"otel-obs summary {EXEC} --json",
        reading="""
A JSON object with the execution's status, timing and counts. Non-zero error
counts → /obs-errors; blocked commands → `otel-obs blocked $EXECUTION_ID
--json`; failed assertions → /obs-errors (failed assertions are errors too);
several instances or waves → /obs-parallel-health. `{}` means the execution id
is not in this store.
""",
    ),
    AgentSkill(
        name="obs-parallel-health",
        description=(
            "Check the health of a parallel (multi-agent, multi-wave) execution: wave "
            "progress, stuck agents, file conflicts within a wave, wave efficiency. Use when "
            "several build agents ran at once or a wave seems slow or stuck."
        ),
        command=f"otel-obs health {EXEC} --json",
        reading="""
A JSON object: `is_healthy` (true when nothing needs attention), `issues` (one
sentence each), then the rows behind them per check — wave progress, stuck
agents (still executing, no activity for the heartbeat window), file conflicts
(two tasks of one wave touching one file, at least one writing) and wave
efficiency. Exit 0 either way; read `is_healthy`.
""",
    ),
    AgentSkill(
        name="obs-anomalies",
        description=(
            "Detect unusual patterns in an execution: unusually slow tool uses, error "
            "cascades, assertions that regressed since an earlier run, activity spikes, "
            "orphaned locks and checkpoints, circular task dependencies. Use when a run "
            "behaved strangely but no single error explains it."
        ),
        command=f"otel-obs anomalies {EXEC} --json",
        reading="""
A JSON object with `has_anomalies` and one list per detector: unusual tool
durations (D001), error cascades (D002: runs of errors close together — the
first error of a cascade is the one to fix), assertion regressions (D003),
activity spikes (D004), orphaned resources (D005: locks never released,
checkpoints never committed or rolled back) and circular waits (D006). Empty
lists mean nothing of that kind was found.
""",
    ),
)


def install(target: Path = DEFAULT_DIR, db: StoreLocation | None = None) -> list[Path]:
    """Write every skill to ``<target>/<name>/SKILL.md``; return the files written.

    Existing files are overwritten: they are generated, and a newer otel-obs
    should be able to refresh them. ``db`` is written into the commands as an
    absolute path (the agent may run them from another directory), a server's URL
    without its password.
    """
    store = None if db is None else written_reference(db)
    written: list[Path] = []
    for skill in SKILLS:
        path = Path(target) / skill.name / "SKILL.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(skill.render(store), encoding="utf-8")
        written.append(path)
    return written
