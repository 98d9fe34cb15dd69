"""assert_custom: a command string runs through the shell, a list without one; a command
that exits while a background process it started holds its output is judged at once."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import pytest
from producer_support import Traced

from otel_obs.assertion_recorder import AssertionRecorder
from otel_obs.transcript_writer import TranscriptWriter

PY = sys.executable


@pytest.fixture
def recorder(traced: Traced, tmp_path):
    writer = TranscriptWriter("exec-1", "agent-1", pipeline=traced.pipeline)
    writer.write({"entry_type": "task_start", "task_id": "T1"})
    yield AssertionRecorder(writer, "exec-1", cwd=tmp_path, timeout_s=20)
    writer.close()


@pytest.mark.parametrize(
    ("command", "result", "exit_code"),
    [
        ("exit 3", "fail", 3),
        ("true && true", "pass", 0),
        ("true && exit 4", "fail", 4),
        ("false || echo recovered", "pass", 0),
        ("test -d . && cd . && pwd", "pass", 0),
    ],
)
def test_a_command_string_runs_through_the_shell(recorder, command, result, exit_code):
    outcome = recorder.assert_custom("T1", "build", command, command)
    assert (outcome.result, outcome.evidence["exit_code"]) == (result, exit_code)
    assert outcome.evidence["command"] == command


def test_the_shell_sees_the_working_directory(recorder, tmp_path):
    (tmp_path / "package.json").write_text("{}")
    outcome = recorder.assert_custom("T1", "files", "has package.json", "test -f package.json")
    assert outcome.result == "pass"


def test_an_argument_list_runs_without_a_shell(recorder):
    code = "import json, sys; print(json.dumps(sys.argv[1:]))"
    outcome = recorder.assert_custom("T1", "x", "argv", [PY, "-c", code, "a && b", "$HOME"])
    assert outcome.result == "pass"
    assert json.loads(outcome.evidence["stdout_tail"]) == ["a && b", "$HOME"]


def test_a_missing_program_in_a_shell_command_is_a_skip(recorder):
    outcome = recorder.assert_custom("T1", "x", "no tool", "no-such-tool-xyz --version")
    assert outcome.result == "skip"
    assert "no-such-tool-xyz" in outcome.evidence["error"]


@pytest.mark.parametrize(
    "command",
    ["sleep 30 & echo $!; echo started", ["sh", "-c", "sleep 30 & echo $!; echo started"]],
    ids=["string", "list"],
)
def test_a_background_process_holding_the_output_does_not_hold_the_check(recorder, command):
    started = time.monotonic()
    outcome = recorder.assert_custom("T1", "server", "dev server starts", command)
    elapsed = time.monotonic() - started
    server_pid = int(outcome.evidence["stdout_tail"].split()[0])
    try:
        assert outcome.result == "pass"
        assert elapsed < 5, elapsed
        assert outcome.evidence["timed_out"] is False
        os.kill(server_pid, 0)  # left running: it is the agent's server
    finally:
        os.kill(server_pid, signal.SIGKILL)


def test_an_empty_command_is_refused(recorder):
    with pytest.raises(ValueError, match="empty"):
        recorder.assert_custom("T1", "x", "nothing", "   ")
