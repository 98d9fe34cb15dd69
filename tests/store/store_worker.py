"""A worker process for the store's multi-process tests, using the real producers.

``python store_worker.py sequence DB TRANSCRIPTS EXECUTION WORKER N GO_FILE``
starts its task and waits for it to be stored, creates ``GO_FILE.WORKER.ready``
and waits until GO_FILE exists (so all workers start together, however long
each took to start: see ``worker_support``), then writes N numbered
decisions, each followed by a tool use, inside the task, and closes.

``python store_worker.py crash DB TRANSCRIPTS EXECUTION`` starts a task and a
tool use, prints the wall-clock time they started as JSON, then sleeps until
it is killed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from otel_obs.tool_use_logger import ToolUseLogger
from otel_obs.transcript_writer import TranscriptWriter

#: The pause between two tool uses of ``sequence`` (0: as fast as the agent can go).
PAUSE_S = float(os.environ.get("STORE_WORKER_PAUSE_S", "0.02"))


def sequence(db: str, transcripts: str, execution: str, worker: str, n: int, go: str) -> None:
    writer = TranscriptWriter(execution, worker, db_path=db, transcripts_dir=transcripts)
    tools = ToolUseLogger(writer)
    # The task starts and is stored before "ready": the store's writer (a process of
    # its own, started with the first write) is then up when the common start comes,
    # so no worker's entries wait behind a slow start and land in one late batch.
    writer.write({"entry_type": "task_start", "task_id": f"{worker}-task"})
    writer.flush()
    Path(f"{go}.{worker}.ready").touch()
    deadline = time.monotonic() + 30
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    for i in range(n):
        writer.write({"entry_type": "decision", "summary": f"{worker}:{i}", "details": {"i": i}})
        tool_id = tools.log_start({"id": f"{worker}-tool-{i}", "name": "Read", "input": {}})
        tools.log_end(tool_id, {"tool_use_id": tool_id, "content": "ok", "is_error": False})
        time.sleep(PAUSE_S)  # spread over several write batches (about a second in all)
    writer.write({"entry_type": "task_end", "task_id": f"{worker}-task"})
    writer.close()


def crash(db: str, transcripts: str, execution: str) -> None:
    writer = TranscriptWriter(execution, "doomed", db_path=db, transcripts_dir=transcripts)
    tools = ToolUseLogger(writer)
    started = time.time()
    writer.write({"entry_type": "task_start", "task_id": "T-crash"})
    tools.log_start({"id": "tool-crash", "name": "Bash", "input": {"command": "sleep 600"}})
    pid = getattr(writer.pipeline.store, "writer_pid", None)  # set in writer-process mode
    print(json.dumps({"started": started, "writer_pid": pid}), flush=True)
    time.sleep(600)


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "sequence":
        sequence(args[0], args[1], args[2], args[3], int(args[4]), args[5])
    elif mode == "crash":
        crash(args[0], args[1], args[2])
    else:
        raise SystemExit(f"unknown mode {mode!r}; valid: sequence, crash")
