"""``otel-obs watch`` on a live store: each finding printed once, within a second of being
stored, and an exit status that says whether the run had findings."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from otel_obs import AssertionRecorder, ToolUseLogger, TranscriptWriter
from otel_obs.config import get_pipeline
from otel_obs.propagation import execution_scope

#: What the issue asks: a new finding seen within a second.
WITHIN_S = 1.0


class Watching:
    """A real ``otel-obs watch --json`` subprocess; its lines as they come."""

    def __init__(self, db: Path, execution_id: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "otel_obs", "watch", execution_id, "--db", str(db), "--json"]
            + list(args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def next_finding(self, timeout_s: float) -> dict[str, Any]:
        return json.loads(self.lines.get(timeout=timeout_s))

    def none_within(self, seconds: float) -> bool:
        try:
            self.lines.get(timeout=seconds)
        except queue.Empty:
            return True
        return False


def test_findings_are_printed_as_they_happen_and_the_exit_says_so(tmp_path: Path) -> None:
    pipeline = get_pipeline(tmp_path / "obs.db", tmp_path / "transcripts")
    try:
        with execution_scope("exec-watch", pipeline=pipeline):
            writer = TranscriptWriter(None, "agent-1", pipeline=pipeline)
            tools = ToolUseLogger(writer)
            assertions = AssertionRecorder(writer, "exec-watch", cwd=tmp_path)
            ok = tools.log_start({"id": "t-ok", "name": "Bash", "input": {"command": "ls"}})
            tools.log_end(ok, {"tool_use_id": "t-ok", "content": "a.py", "is_error": False})
            assert pipeline.flush(10)
            watching = Watching(pipeline.db_path, "exec-watch")
            assert watching.none_within(1.5)  # a clean start prints nothing

            seen: list[tuple[str, float]] = []

            def expect(kind: str) -> dict[str, Any]:
                start = time.monotonic()
                assert pipeline.flush(10)
                finding = watching.next_finding(timeout_s=10)
                seen.append((finding["kind"], time.monotonic() - start))
                assert finding["kind"] == kind, finding
                return finding

            with writer.task("T1", "Build", action="CREATE", file="src/app.py"):
                bad = tools.log_start({"id": "t-bad", "name": "Bash", "input": {"command": "make"}})
                tools.log_end(bad, {"tool_use_id": "t-bad", "content": "exit 2", "is_error": True})
                first = expect("root_cause")
                assert "exit 2" in first["summary"] and "T1" in first["summary"]
                rm = tools.log_start(
                    {"id": "t-rm", "name": "Bash", "input": {"command": "rm -rf /"}}
                )
                tools.log_blocked(rm, "destructive command")
                assert "destructive command" in expect("blocked")["summary"]
                assertions.assert_file_created("T1", "src/missing.py")
                expect("failed_assertion")
            writer.close()
        assert pipeline.flush(10)
        assert watching.proc.wait(10) == 1  # the execution ended, with findings
        assert watching.none_within(0.2)  # each finding once
    finally:
        pipeline.shutdown()
    assert [kind for kind, _ in seen] == ["root_cause", "blocked", "failed_assertion"]
    assert all(took <= WITHIN_S for _, took in seen), seen


def test_a_clean_run_exits_0_and_a_stuck_agent_is_a_finding(tmp_path: Path) -> None:
    pipeline = get_pipeline(tmp_path / "obs.db", tmp_path / "transcripts")
    try:
        with execution_scope("exec-clean", pipeline=pipeline):
            writer = TranscriptWriter(None, "agent-1", pipeline=pipeline)
            writer.close()
        assert pipeline.flush(10)
        clean = Watching(pipeline.db_path, "exec-clean")
        assert clean.proc.wait(10) == 0

        with execution_scope("exec-stuck", pipeline=pipeline):
            stuck = TranscriptWriter(None, "agent-stuck", pipeline=pipeline)
            with stuck.task("T9", "Hangs", action="UPDATE", file="a.py"):
                assert pipeline.flush(10)
                watching = Watching(pipeline.db_path, "exec-stuck", "--heartbeat-s", "1")
                finding = watching.next_finding(timeout_s=10)
                assert finding["kind"] == "stuck_agent", finding
                assert "agent-stuck" in finding["summary"] and "T9" in finding["summary"]
            stuck.close()
        assert pipeline.flush(10)
        assert watching.proc.wait(10) == 1
    finally:
        pipeline.shutdown()
