"""Every ``otel-obs`` command through its real entry point (``python -m otel_obs``).

Each command is run on the session's demo store in table form and in JSON form
(the JSON is parsed and checked against the seeded plan), and once with a bad
argument: exit status 2 and one line naming the argument.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from demo_store import DemoStore, clean_env, demo_store, run_cli

from otel_obs.cli.skill_files import SKILLS
from otel_obs.demo.plan import (
    BLOCKED_COMMAND,
    CASCADE_FAILED_TOOLS,
    ERROR_CASCADE,
    FAILING_ASSERTION,
    UNRELEASED_LOCK,
    WAVES,
)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    return demo_store(tmp_path_factory)


def ok(proc: subprocess.CompletedProcess[str], code: int = 0) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == code, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    return proc


def as_json(proc: subprocess.CompletedProcess[str], code: int = 0):
    """The whole of stdout is one JSON document."""
    return json.loads(ok(proc, code).stdout)


def bad_usage(proc: subprocess.CompletedProcess[str], *names: str) -> str:
    """Exit 2, empty stdout, one line on stderr naming every one of ``names``."""
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


def count(demo: DemoStore, sql: str, *args: object) -> int:
    conn = sqlite3.connect(f"{demo.db.as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchone()[0]
    finally:
        conn.close()


# --------------------------------------------------------------------------
# executions, summary
# --------------------------------------------------------------------------


def test_executions(demo: DemoStore):
    db = str(demo.db)
    rows = as_json(demo.cli("executions", "--db", db, "--json"))
    assert [r["id"] for r in rows] == [demo.execution_id]
    assert rows[0]["task_list_id"] == demo.plan.task_list_id
    assert rows[0]["instances"] == len(demo.plan.instances)
    assert rows[0]["waves"] == WAVES
    table = ok(demo.cli("executions", "--db", db)).stdout
    assert demo.execution_id in table and demo.plan.task_list_id in table
    assert ok(demo.cli("executions", "--latest", "--db", db)).stdout == demo.execution_id + "\n"
    # The store is found through OTEL_OBS_DB as well as --db.
    assert (
        ok(demo.cli("executions", "--latest", OTEL_OBS_DB=db)).stdout.strip() == demo.execution_id
    )
    bad_usage(demo.cli("executions", "--db", db, "--limit", "0"), "--limit")


def test_missing_store_is_bad_usage_naming_the_path(demo: DemoStore, tmp_path: Path):
    missing = tmp_path / "nowhere.db"
    bad_usage(demo.cli("summary", demo.execution_id, "--db", str(missing)), "--db", str(missing))
    # Nothing was created by asking.
    assert not missing.exists()


def test_summary(demo: DemoStore):
    db = str(demo.db)
    summary = as_json(demo.cli("summary", demo.execution_id, "--db", db, "--json"))
    assert summary["execution_id"] == demo.execution_id
    assert summary["tool_uses"] == count(
        demo, "SELECT COUNT(*) FROM tool_uses WHERE execution_id = ?", demo.execution_id
    )
    assert summary["blocked"] == 1
    assert summary["tasks"] == len(demo.plan.tasks)
    assert summary["assertions_failed"] == 1
    table = ok(demo.cli("summary", demo.execution_id, "--db", db)).stdout
    assert demo.execution_id in table and "tool_uses" in table
    # A mistyped id is bad usage, not an empty "all clear" table.
    bad_usage(demo.cli("summary", "no-such-execution", "--db", db, "--json"), "no-such-execution")
    bad_usage(demo.cli("summary", "no-such-execution", "--db", db), "no-such-execution")
    bad_usage(demo.cli("summary", demo.execution_id, "--db", db, "--format", "x"), "--format")


# --------------------------------------------------------------------------
# validate, errors, blocked, incomplete
# --------------------------------------------------------------------------


def test_validate_exits_1_and_names_the_unreleased_lock(demo: DemoStore):
    db = str(demo.db)
    lock_file = demo.plan.task_with(UNRELEASED_LOCK).file
    issues = as_json(demo.cli("validate", demo.execution_id, "--db", db, "--json"), code=1)
    assert [i["check_id"] for i in issues] == ["V004"]
    assert lock_file in json.dumps(issues[0])
    table = ok(demo.cli("validate", demo.execution_id, "--db", db), code=1).stdout
    assert "V004" in table and "1 issue" in table
    # An unknown execution is named, not reported as valid.
    bad_usage(demo.cli("validate", "no-such-execution", "--db", db, "--json"), "no-such-execution")
    bad_usage(demo.cli("validate", "--db", db), "EXECUTION_ID")


def test_errors_exits_1_with_the_root_cause_first(demo: DemoStore):
    db = str(demo.db)
    records = as_json(demo.cli("errors", demo.execution_id, "--db", db, "--json"), code=1)
    assert [r["is_root_cause"] for r in records] == [True] + [False] * (len(records) - 1)
    cascade = demo.plan.task_with(ERROR_CASCADE).id
    failing = demo.plan.task_with(FAILING_ASSERTION).id
    assert sum(r["task_id"] == cascade and r["source"] == "tool" for r in records) == (
        CASCADE_FAILED_TOOLS
    )
    assert any(r["task_id"] == failing and r["source"] == "assertion" for r in records)
    table = ok(demo.cli("errors", demo.execution_id, "--db", db), code=1).stdout
    assert cascade in table and failing in table
    bad_usage(demo.cli("errors", "no-such-execution", "--db", db, "--json"), "no-such-execution")
    bad_usage(demo.cli("errors", demo.execution_id, "extra", "--db", db), "extra")


def test_blocked(demo: DemoStore):
    db = str(demo.db)
    rows = as_json(demo.cli("blocked", demo.execution_id, "--db", db, "--json"))
    assert [r["task_id"] for r in rows] == [demo.plan.task_with(BLOCKED_COMMAND).id]
    assert "security hook" in json.dumps(rows[0])
    table = ok(demo.cli("blocked", demo.execution_id, "--db", db)).stdout
    assert demo.plan.task_with(BLOCKED_COMMAND).id in table
    bad_usage(demo.cli("blocked", "--db", db), "EXECUTION_ID")


def test_incomplete(demo: DemoStore):
    db = str(demo.db)
    # Every span of the demo ended, however young: nothing is incomplete.
    args = ("incomplete", demo.execution_id, "--db", db, "--older-than-s", "0")
    assert as_json(demo.cli(*args, "--json")) == []
    assert "(no rows)" in ok(demo.cli(*args)).stdout
    bad_usage(
        demo.cli("incomplete", demo.execution_id, "--db", db, "--older-than-s", "soon"),
        "--older-than-s",
    )


# --------------------------------------------------------------------------
# health, anomalies, trace-task
# --------------------------------------------------------------------------


def test_health(demo: DemoStore):
    db = str(demo.db)
    report = as_json(demo.cli("health", demo.execution_id, "--db", db, "--json"))
    assert report["execution_id"] == demo.execution_id
    assert isinstance(report["is_healthy"], bool)
    assert sorted(w["wave_number"] for w in report["wave_progress"]) == list(range(1, WAVES + 1))
    table = ok(demo.cli("health", demo.execution_id, "--db", db)).stdout
    assert "is_healthy" in table and "wave_progress" in table
    bad_usage(demo.cli("health", demo.execution_id, "--db", db, "--verbose"), "--verbose")


def test_anomalies(demo: DemoStore):
    db = str(demo.db)
    report = as_json(demo.cli("anomalies", demo.execution_id, "--db", db, "--json"))
    assert report["has_anomalies"] is True
    assert report["error_cascades"]
    lock_file = demo.plan.task_with(UNRELEASED_LOCK).file
    assert any(lock_file in json.dumps(r) for r in report["orphaned_resources"])
    table = ok(demo.cli("anomalies", demo.execution_id, "--db", db)).stdout
    assert "error_cascades" in table and lock_file in table
    bad_usage(demo.cli("anomalies", "--db", db), "EXECUTION_ID")


def test_trace_task(demo: DemoStore):
    db = str(demo.db)
    task = demo.plan.task_with(FAILING_ASSERTION)
    rows = as_json(demo.cli("trace-task", task.id, "-e", demo.execution_id, "--db", db, "--json"))
    types = [r["entry_type"] for r in rows]
    assert types[0] == "task_start" and types[-1] == "task_end"
    assert "assertion" in types and "tool_use" in types
    table = ok(demo.cli("trace-task", task.id, "--db", db)).stdout
    assert "task_start" in table and "task_end" in table
    bad_usage(demo.cli("trace-task", "--db", db), "TASK_ID")


# --------------------------------------------------------------------------
# tools, tool
# --------------------------------------------------------------------------


def test_tools_catalogue(demo: DemoStore):
    tools = as_json(demo.cli("tools", "--json"))
    ids = [t["id"] for t in tools]
    assert len(ids) == 39 + 5  # the spec's 39 and the cost tools
    assert {i[0] for i in ids} == set("VTIAPDC")
    assert all(t["title"] and isinstance(t["parameters"], list) for t in tools)
    table = ok(demo.cli("tools")).stdout
    assert "V001" in table and "D006" in table
    bad_usage(demo.cli("tools", "--bogus"), "--bogus")


def test_tool_runs_any_tool_by_id(demo: DemoStore):
    db = str(demo.db)
    param = f"execution_id={demo.execution_id}"
    rows = as_json(demo.cli("tool", "A002", "--param", param, "--db", db, "--json"))
    by_status = {r["status"]: r["task_count"] for r in rows}
    expected: dict[str, int] = {}
    for task in demo.plan.tasks:
        expected[task.expected_status] = expected.get(task.expected_status, 0) + 1
    assert by_status == expected
    # Integer parameters arrive as text and are coerced by the registry.
    window = as_json(demo.cli("tool", "t003", "-p", param, "-p", "window=2", "--db", db, "--json"))
    assert 1 <= len(window) <= 3
    table = ok(demo.cli("tool", "A002", "-p", param, "--db", db)).stdout
    assert "completed" in table and "failed" in table

    line = bad_usage(demo.cli("tool", "Z999", "-p", param, "--db", db), "Z999")
    assert "V001" in line and "D006" in line  # the valid ids are listed
    bad_usage(demo.cli("tool", "A002", "-p", "colour=red", "--db", db), "colour", "execution_id")
    bad_usage(demo.cli("tool", "A002", "--db", db), "execution_id")
    bad_usage(demo.cli("tool", "A002", "-p", "no-equals-sign", "--db", db), "no-equals-sign")


# --------------------------------------------------------------------------
# tail
# --------------------------------------------------------------------------


def test_tail_prints_the_transcript(demo: DemoStore):
    tdir = str(demo.transcripts)
    entries = count(
        demo, "SELECT COUNT(*) FROM transcript_entries WHERE execution_id = ?", demo.execution_id
    )
    proc = ok(demo.cli("tail", demo.execution_id, "--transcripts-dir", tdir, "--json"))
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == entries
    assert all(e["execution_id"] == demo.execution_id for e in lines)

    table = ok(demo.cli("tail", demo.execution_id, "--transcripts-dir", tdir)).stdout.splitlines()
    assert len(table) == entries
    # seq time instance type task summary
    first_task = demo.plan.tasks[0]
    starts = [line.split() for line in table if " task_start " in line]
    assert any(p[2] == demo.plan.instances[0].instance_id and p[4] == first_task.id for p in starts)
    assert all(re.match(r"\s*\d+ \d\d:\d\d:\d\d\.\d{3} ", line) for line in table)
    bad_usage(demo.cli("tail", "no-such-execution", "--transcripts-dir", tdir), "no-such-execution")


def test_tail_follow_prints_entries_as_they_are_appended(tmp_path: Path):
    path = tmp_path / "t" / "exec-follow" / "transcript.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "otel_obs", "tail", "exec-follow", "-f"],
        cwd=tmp_path,
        env=clean_env(OTEL_OBS_TRANSCRIPTS_DIR=str(tmp_path / "t")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # A tail that never prints must fail the test, not hang it: kill it after a while
    # (readline then returns "").
    watchdog = threading.Timer(20, proc.kill)
    watchdog.start()
    try:
        time.sleep(0.3)  # the file does not exist yet: tail -f waits for it
        path.parent.mkdir(parents=True)
        with path.open("a") as handle:
            for seq in (1, 2):
                entry = {
                    "sequence": seq,
                    "timestamp": f"2026-01-02T03:04:0{seq}.123456Z",
                    "instance_id": "agent-1",
                    "entry_type": "decision",
                    "task_id": "T1",
                    "summary": f"choice {seq}",
                }
                handle.write(json.dumps(entry) + "\n")
                handle.flush()
            handle.write('{"sequence": 3, "summa')  # a writer caught mid-line
            handle.flush()
        assert proc.stdout is not None
        first = proc.stdout.readline()
        second = proc.stdout.readline()
        assert first.split() == ["1", "03:04:01.123", "agent-1", "decision", "T1", "choice", "1"]
        assert second.split()[0] == "2"
        with path.open("a") as handle:
            handle.write('ry": "late"}\n')
        assert proc.stdout.readline().split()[0] == "3"
    finally:
        watchdog.cancel()
        proc.terminate()
        proc.wait(timeout=5)


# --------------------------------------------------------------------------
# skills install, demo
# --------------------------------------------------------------------------


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)


def test_skills_install_writes_skill_files(demo: DemoStore, tmp_path: Path):
    target = tmp_path / "skills"
    written = as_json(run_cli("skills", "install", "--dir", str(target), "--json", cwd=tmp_path))
    names = {
        "obs-validate",
        "obs-errors",
        "obs-task-trace",
        "obs-summary",
        "obs-parallel-health",
        "obs-anomalies",
    }
    assert sorted(written) == sorted(str(target / n / "SKILL.md") for n in names)
    for name in names:
        text = (target / name / "SKILL.md").read_text()
        front = re.match(r"---\nname: ([a-z-]+)\ndescription: (\".*\")\n---\n", text)
        assert front and front.group(1) == name
        # The description is a double-quoted scalar (it contains ": "); JSON reads it too.
        assert len(json.loads(front.group(2))) > 40
        assert len(_bash_blocks(text)) == 1
    table = ok(run_cli("skills", "install", "--dir", str(tmp_path / "again"), cwd=tmp_path)).stdout
    assert "obs-validate" in table
    bad_usage(run_cli("skills", "uninstall", cwd=tmp_path), "uninstall")


def test_skills_install_never_writes_a_store_password(tmp_path: Path):
    """A server's URL goes into the skills and .mcp.json without its password (the
    commands find it in PGPASSWORD or ~/.pgpass when they run)."""
    target = tmp_path / "proj" / ".claude" / "skills"
    url = "postgresql://obs_reader:Hunter2-secret@db.example:5433/observability"
    ok(run_cli("skills", "install", "--dir", str(target), "--db", url, cwd=tmp_path))
    files = [p for p in (tmp_path / "proj").rglob("*") if p.is_file()]
    texts = [p.read_text() for p in files]
    assert any(p.name == ".mcp.json" for p in files) and len(files) > 2
    assert not any("Hunter2-secret" in text for text in texts)
    shown = "postgresql://obs_reader@db.example:5433/observability"
    assert all(shown in text for text in texts)


def test_skill_commands_run_as_written_on_the_demo_store(demo: DemoStore, tmp_path: Path):
    target = tmp_path / "skills"
    ok(run_cli("skills", "install", "--dir", str(target), cwd=tmp_path))
    task_id = demo.plan.task_with(FAILING_ASSERTION).id
    # Exit 1 means "the check found problems", which the demo plants on purpose.
    finds_problems = {"obs-validate", "obs-errors"}
    for skill in SKILLS:
        (command,) = _bash_blocks((target / skill.name / "SKILL.md").read_text())
        for env in (
            clean_env(OTEL_OBS_DB=str(demo.db), EXECUTION_ID=demo.execution_id, TASK_ID=task_id),
            clean_env(OTEL_OBS_DB=str(demo.db), TASK_ID=task_id),  # latest execution
        ):
            proc = subprocess.run(
                ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True
            )
            assert proc.returncode == (1 if skill.name in finds_problems else 0), (
                skill.name,
                proc.stderr,
            )
            data = json.loads(proc.stdout)
            if skill.name == "obs-summary":
                assert data["execution_id"] == demo.execution_id
            elif skill.name == "obs-task-trace":
                assert {r["execution_id"] for r in data} == {demo.execution_id}
                assert data[0]["entry_type"] == "task_start"
            else:
                assert data


def test_skills_installed_with_a_store_use_it_wherever_they_run(demo: DemoStore, tmp_path: Path):
    target = tmp_path / "skills"
    ok(run_cli("skills", "install", "--dir", str(target), "--db", str(demo.db), cwd=tmp_path))
    task_id = demo.plan.task_with(FAILING_ASSERTION).id
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for skill in SKILLS:
        text = (target / skill.name / "SKILL.md").read_text()
        assert f"The store is `{demo.db.resolve()}`" in text
        (command,) = _bash_blocks(text)
        # No OTEL_OBS_DB, another directory, the latest execution: the command names the store.
        proc = subprocess.run(
            ["bash", "-c", command],
            cwd=elsewhere,
            env=clean_env(TASK_ID=task_id),
            capture_output=True,
            text=True,
        )
        assert proc.returncode in (0, 1), (skill.name, proc.stderr)
        assert json.loads(proc.stdout), skill.name


def test_demo_table_output_and_bad_arguments(tmp_path: Path):
    proc = ok(
        run_cli(
            "demo",
            "--workers",
            "1",
            "--seed",
            "3",
            "--db",
            str(tmp_path / "d.db"),
            "--transcripts-dir",
            str(tmp_path / "t"),
            cwd=tmp_path,
            timeout=120,
        )
    )
    match = re.search(r"(demo-[0-9a-f]{12})", proc.stdout)
    assert match, proc.stdout
    assert "Next" in proc.stdout and f"otel-obs errors {match.group(1)}" in proc.stdout
    assert "V004" in proc.stdout  # the validation result is shown
    assert (tmp_path / "t" / match.group(1) / "transcript.jsonl").is_file()
    bad_usage(run_cli("demo", "--workers", "0", cwd=tmp_path), "--workers")
    bad_usage(run_cli("demo", "--seed", "abc", cwd=tmp_path), "--seed")
