"""Reading an execution's JSONL transcript as it grows, like ``tail -f``.

The store appends one JSON object per transcript entry to
``<transcripts_dir>/<execution_id>/transcript.jsonl`` (see
:func:`otel_obs.exporters.jsonl.transcript_path`) after each batch commits,
so following that file shows a run live without opening the database. Lines
are only consumed once complete (ending in a newline): a reader can catch a
writer mid-append, and half a JSON object is not an entry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from otel_obs.exporters.jsonl import transcript_path

__all__ = ["format_entry", "read_entries", "transcript_path"]


def format_entry(entry: dict[str, Any]) -> str:
    """One entry as ``seq time instance type task summary`` (time of day, UTC)."""
    seq = entry.get("sequence")
    stamp = str(entry.get("timestamp") or "")
    clock = stamp[11:23] if len(stamp) >= 23 else stamp
    fields = [
        f"{seq:>5}" if isinstance(seq, int) else f"{'-':>5}",
        clock or "-",
        str(entry.get("instance_id") or "-"),
        str(entry.get("entry_type") or "-"),
        str(entry.get("task_id") or "-"),
        str(entry.get("summary") or ""),
    ]
    return " ".join(fields)


def read_entries(
    path: Path,
    follow: bool = False,
    poll_s: float = 0.2,
    wait_for_file: bool = False,
) -> Iterator[dict[str, Any]]:
    """Yield the transcript's entries; with ``follow``, keep yielding new ones forever.

    A line that is not valid JSON is skipped rather than ending the tail: the
    file is written by other processes, and one bad line must not hide the rest.
    """
    while not path.exists():
        if not (follow or wait_for_file):
            raise FileNotFoundError(str(path))
        time.sleep(poll_s)
    with path.open("rb") as handle:
        pending = b""
        while True:
            chunk = handle.read(65536)
            if chunk:
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    if not line.strip():
                        continue
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(entry, dict):
                        yield entry
                continue
            if not follow:
                return
            time.sleep(poll_s)
