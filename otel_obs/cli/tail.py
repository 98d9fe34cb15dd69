"""Reading an execution's JSONL transcript as it grows, like ``tail -f``.

The store appends one JSON object per transcript entry to
``<transcripts_dir>/<execution_id>/transcript.jsonl`` (see
:func:`otel_obs.exporters.jsonl.transcript_path`) after each batch commits,
so following that file shows a run live without opening the database. Lines
are only consumed once complete (ending in a newline): a reader can catch a
writer mid-append, and half a JSON object is not an entry. Following works as
``tail -F`` does: by name, through truncation, replacement and re-creation.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from otel_obs.exporters.jsonl import transcript_path

#: The longest line shown (bytes): a producer's line is far shorter, and a longer one
#: is skipped as it is read, so a tail's memory stays bounded.
MAX_LINE_BYTES = 1 << 20

__all__ = ["MAX_LINE_BYTES", "format_entry", "read_entries", "transcript_path"]


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


class _Lines:
    """Complete lines out of the chunks a file is read in: linear in what is read (a line
    is joined once, when its newline arrives) and bounded (a line longer than ``limit``
    is dropped as it is read: it comes out as None, with its size)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.reset()

    def reset(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self._over = False

    def feed(self, chunk: bytes) -> list[tuple[bytes | None, int]]:
        lines: list[tuple[bytes | None, int]] = []
        at = 0
        while (newline := chunk.find(b"\n", at)) >= 0:
            self._add(chunk[at:newline])
            lines.append((None if self._over else b"".join(self._parts), self._size))
            self.reset()
            at = newline + 1
        self._add(chunk[at:])
        return lines

    def _add(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._over:
            return
        if self._size > self.limit:
            self._over, self._parts = True, []
        elif piece:
            self._parts.append(piece)


def _entry(line: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The entry a line holds, or why it holds none (None for a blank line)."""
    if not line.strip():
        return None, None
    try:
        entry = json.loads(line)
    except ValueError:
        return None, "not JSON"
    except RecursionError:
        return None, "nested too deeply"
    if not isinstance(entry, dict):
        return None, "not a JSON object"
    return entry, None


def _same_file(path: Path, handle: BinaryIO) -> bool | None:
    """Whether ``path`` still names the open file (None while no file is there)."""
    try:
        now = os.stat(path)
    except OSError:
        return None
    held = os.fstat(handle.fileno())
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


def read_entries(
    path: Path,
    follow: bool = False,
    poll_s: float = 0.2,
    wait_for_file: bool = False,
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
    on_skip: Callable[[str], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the transcript's entries; with ``follow``, keep yielding new ones forever.

    A line that is not valid JSON (or nests too deeply to decode, or is longer
    than ``max_line_bytes``) is skipped rather than ending the tail, and
    ``on_skip`` is told why: the file is written by other processes, and one
    bad line must not hide the rest. Following works as ``tail -F``: a file
    truncated is read again from its start, and a file replaced, or removed and
    created again, is reopened by name.
    """
    while not path.exists():
        if not (follow or wait_for_file):
            raise FileNotFoundError(str(path))
        time.sleep(poll_s)
    lines = _Lines(max_line_bytes)
    number = 0
    handle = path.open("rb")
    try:
        while True:
            chunk = handle.read(65536)
            if chunk:
                for line, size in lines.feed(chunk):
                    number += 1
                    why: str | None
                    if line is None:
                        entry, why = None, f"{size} bytes, over the limit of {max_line_bytes}"
                    else:
                        entry, why = _entry(line)
                    if entry is not None:
                        yield entry
                    elif why is not None and on_skip is not None:
                        on_skip(f"line {number}: {why}")
                continue
            if not follow:
                return
            time.sleep(poll_s)
            same = _same_file(path, handle)
            if same is False:  # replaced, or removed and created again: the new file
                try:
                    fresh = path.open("rb")
                except OSError:
                    continue
                handle.close()
                handle, number = fresh, 0
                lines.reset()
            elif same and os.fstat(handle.fileno()).st_size < handle.tell():
                handle.seek(0)  # truncated: what is there now is new
                number = 0
                lines.reset()
    finally:
        handle.close()
