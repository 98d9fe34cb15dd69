"""``otel-obs tail``: following a transcript by name (as ``tail -F``) and hostile lines.

The transcript is truncated, replaced and removed then created again while a
real ``otel-obs tail -f`` subprocess follows it; every entry written after each
change must be printed. A very long line costs time linear in its length (and is
skipped past the limit), a deeply nested one is skipped: neither ends the tail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from demo_store import clean_env

from otel_obs.cli.tail import MAX_LINE_BYTES

EXECUTION = "exec-tail"


def _entry(seq: int, note: str) -> str:
    return json.dumps(
        {
            "sequence": seq,
            "timestamp": f"2026-01-02T03:04:05.{seq:06d}Z",
            "instance_id": "agent-1",
            "entry_type": "decision",
            "task_id": "T1",
            "summary": f"{note} {seq}",
        }
    )


def _write(path: Path, note: str, count: int, mode: str = "a") -> None:
    with path.open(mode) as handle:
        for seq in range(1, count + 1):
            handle.write(_entry(seq, note) + "\n")


@pytest.fixture
def transcript(tmp_path: Path) -> Path:
    path = tmp_path / "t" / EXECUTION / "transcript.jsonl"
    path.parent.mkdir(parents=True)
    return path


@pytest.fixture
def follower(tmp_path: Path, transcript: Path) -> Iterator[subprocess.Popen[str]]:
    _write(transcript, "first", 5)
    proc = subprocess.Popen(
        [sys.executable, "-m", "otel_obs", "tail", EXECUTION, "-f", "--json"],
        cwd=tmp_path,
        env=clean_env(OTEL_OBS_TRANSCRIPTS_DIR=str(tmp_path / "t")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # A tail that stops printing must fail the test, not hang it (readline then returns "").
    watchdog = threading.Timer(30, proc.kill)
    watchdog.start()
    try:
        yield proc
    finally:
        watchdog.cancel()
        proc.terminate()
        proc.wait(timeout=5)


def _read(proc: subprocess.Popen[str], count: int) -> list[str]:
    assert proc.stdout is not None
    return [json.loads(proc.stdout.readline())["summary"] for _ in range(count)]


POLL_S = 0.2  # read_entries' default


def test_tail_f_follows_a_truncated_transcript(follower, transcript: Path):
    assert _read(follower, 5) == [f"first {n}" for n in range(1, 6)]
    transcript.write_text("")  # truncated (as `> file` does)
    time.sleep(3 * POLL_S)
    _write(transcript, "after truncation", 20)
    assert _read(follower, 20) == [f"after truncation {n}" for n in range(1, 21)]


def test_tail_f_follows_a_replaced_transcript(follower, transcript: Path):
    assert len(_read(follower, 5)) == 5
    fresh = transcript.with_name("fresh.jsonl")
    _write(fresh, "replaced", 20)
    os.replace(fresh, transcript)  # a new file under the same name (as editors and mv do)
    assert _read(follower, 20) == [f"replaced {n}" for n in range(1, 21)]


def test_tail_f_follows_a_removed_and_recreated_transcript(follower, transcript: Path):
    assert len(_read(follower, 5)) == 5
    transcript.unlink()
    time.sleep(3 * POLL_S)  # the tail sees no file for a while and keeps waiting
    _write(transcript, "recreated", 20)
    assert _read(follower, 20) == [f"recreated {n}" for n in range(1, 21)]
    _write(transcript, "appended", 2)
    assert _read(follower, 2) == ["appended 1", "appended 2"]


def test_a_very_long_and_a_deeply_nested_line_are_skipped_in_linear_time(
    tmp_path: Path, transcript: Path
):
    long_line = '{"summary": "' + "x" * (48 << 20) + '"}'
    with transcript.open("w") as handle:
        handle.write(_entry(1, "before") + "\n")
        handle.write(long_line + "\n")
        handle.write("[" * 100_000 + "]" * 100_000 + "\n")
        handle.write(_entry(4, "after") + "\n")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "otel_obs", "tail", EXECUTION, "--json"],
        cwd=tmp_path,
        env=clean_env(OTEL_OBS_TRANSCRIPTS_DIR=str(tmp_path / "t")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["summary"] for line in done.stdout.splitlines()] == [
        "before 1",
        "after 4",
    ]
    assert f"line 2: {len(long_line)} bytes, over the limit of {MAX_LINE_BYTES}" in done.stderr
    assert "line 3: nested too deeply" in done.stderr
    assert took < 8, took
