"""The JSONL transcripts: where each execution's file is, what a line holds, how lines are appended.

One file per execution, ``<transcripts>/<name>/transcript.jsonl``, holding the
same entries as ``transcript_entries`` with the same ids and sequence numbers.
Several processes may append to one file: each batch's lines are appended
under an exclusive ``flock`` taken before the batch's SQLite commit, so the
lines land in sequence order.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import operator
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

TRANSCRIPT_FILE = "transcript.jsonl"

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
#: Longest folder name kept as it is (file systems take 255 bytes).
_NAME_MAX = 120

#: Reports a failure: (kind, message, lines lost).
Fail = Callable[[str, str, int], None]


def transcript_path(transcripts_dir: Path, execution_id: str) -> Path:
    """Where an execution's JSONL transcript lives; distinct ids never share a file.

    An id that is a safe folder name is used as it is. Any other (characters a
    file name cannot hold, too long, ``.``/``..``) is made safe and given a
    ``~`` and a digest of the whole id: ``feat/login`` and ``feat_login`` get
    two files, and since a safe name never holds ``~``, no plain id can take a
    digested one's name.
    """
    name = _SAFE_NAME.sub("_", execution_id)
    if name != execution_id or len(name) > _NAME_MAX or name in ("", ".", ".."):
        digest = hashlib.sha256(execution_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        name = f"{name[:_NAME_MAX]}~{digest}"
    return Path(transcripts_dir) / name / TRANSCRIPT_FILE


#: ``json.dumps(..., ensure_ascii=False)`` without building an encoder per line.
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _scalar_encoder() -> Callable[[Any], str]:
    """``_LINE_ENCODER.encode`` of one value, calling the C encoder directly when there is one.

    ``JSONEncoder.encode`` builds a new C encoder object for every call; one
    built here and reused writes the same text with less work per value.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return _LINE_ENCODER.encode
    encode = make(
        None,  # no circular-reference check: a line's values are scalars
        _LINE_ENCODER.default,
        json.encoder.encode_basestring,  # ensure_ascii=False
        None,
        ": ",
        ", ",
        False,
        False,
        False,  # no NaN: not JSON (the mapping keeps it out of float columns)
    )

    def encode_value(value: Any) -> str:
        try:
            return "".join(encode(value, 0))
        except ValueError:
            return "null"

    return encode_value


#: One JSON value as ``_LINE_ENCODER`` writes it; strings go straight to the C string encoder.
_encode_scalar = _scalar_encoder()
_encode_text: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]

#: A line's columns, in line order.
LINE_COLUMNS = (
    "id",
    "execution_id",
    "sequence",
    "timestamp",
    "instance_id",
    "wave_number",
    "task_id",
    "entry_type",
    "category",
    "summary",
    "skill_trace_id",
    "tool_use_id",
    "duration_ms",
    "token_estimate",
    "trace_id",
    "span_id",
)
_UNNUMBERED = tuple(name for name in LINE_COLUMNS if name != "sequence")
#: A transcript row's line values in line order, without ``sequence`` (third, numbered apart).
_LINE_VALUES = operator.itemgetter(*_UNNUMBERED)


def _line_values(row: dict[str, Any]) -> Any:
    """A transcript row's line values (None for a column the row lacks)."""
    try:
        return _LINE_VALUES(row)
    except KeyError:
        return tuple(row.get(name) for name in _UNNUMBERED)


#: A transcript line with a ``%s`` per value: the columns, then ``details`` and ``skill_ref``
#: (JSON object text already, spliced as they are).
_LINE = (
    "{"
    + ", ".join(f"{json.dumps(name)}: %s" for name in (*LINE_COLUMNS, "details", "skill_ref"))
    + "}\n"
)


class TranscriptLines:
    """Encodes transcript rows as lines, grouped by file (file paths cached per execution)."""

    def __init__(self, transcripts_dir: Path) -> None:
        self.transcripts_dir = Path(transcripts_dir)
        self._paths: dict[str, Path] = {}

    def encode(self, rows: Iterable[tuple[dict[str, Any], int | None]]) -> dict[Path, list[str]]:
        """JSONL lines for (transcript row, sequence) pairs, grouped by transcript file.

        ``details`` and ``skill_ref`` are already JSON object text (the mapping
        guarantees it), so they are spliced in rather than parsed and dumped again.
        """
        out: dict[Path, list[str]] = {}
        paths = self._paths
        text, scalar, values_of, template = _encode_text, _encode_scalar, _line_values, _LINE
        for row, sequence in rows:
            # Each value encoded on its own (strings by one C call) into a
            # prebuilt template: the same text as the encoder writes for a dict
            # of these keys, without building that dict for every line.
            values = [
                text(value) if type(value) is str else "null" if value is None else scalar(value)
                for value in values_of(row)
            ]
            values.insert(2, "null" if sequence is None else scalar(sequence))
            get = row.get
            values.append(get("details") or "{}")
            values.append(get("skill_ref") or "null")
            line = template % tuple(values)
            if "\u2028" in line or "\u2029" in line:
                # Valid JSON either way, but line-splitting readers (str.splitlines,
                # editors) break a record at these separators: escape them.
                line = line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
            execution_id = row["execution_id"]
            path = paths.get(execution_id)
            if path is None:
                path = paths[execution_id] = transcript_path(self.transcripts_dir, execution_id)
            lines = out.get(path)
            if lines is None:
                lines = out[path] = []
            lines.append(line)
        return out


class LockedFiles:
    """Transcript files opened for appending and locked, until :meth:`close`.

    Taken before a batch commits and written after, so that appends from
    several processes land in sequence order.
    """

    def __init__(self, lines_by_file: dict[Path, list[str]], fail: Fail) -> None:
        self._lines = lines_by_file
        self._fail = fail
        self._handles: dict[Path, TextIO] = {}
        for path in sorted(lines_by_file):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                # A lone surrogate cannot be UTF-8: written as its JSON escape
                # (it only ever stands inside a JSON string), the line stays valid.
                handle = open(path, "a+", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
            except OSError as exc:
                fail("jsonl", f"cannot open transcript {path}: {exc}", 0)
                continue
            try:
                fcntl.flock(handle, fcntl.LOCK_EX)
            except OSError as exc:  # pragma: no cover - flock unsupported
                fail("flock", f"cannot lock {path}: {exc}", 0)
            self._handles[path] = handle

    def write(self) -> int:
        """Append each file's lines, each append on a line of its own; the lines written."""
        written = 0
        for path, handle in self._handles.items():
            lines = self._lines[path]
            try:
                if not _ends_a_line(handle):
                    # A torn last line (a full disk, a crash mid-write): the
                    # next record must not be glued onto it.
                    handle.write("\n")
                handle.write("".join(lines))
                handle.flush()
                written += len(lines)
            except OSError as exc:
                self._fail("jsonl", f"cannot append to transcript {path}: {exc}", len(lines))
        return written

    def close(self) -> None:
        for handle in self._handles.values():
            try:
                fcntl.flock(handle, fcntl.LOCK_UN)
            except OSError:  # pragma: no cover
                pass
            try:
                handle.close()
            except OSError:  # pragma: no cover
                pass
        self._handles = {}


def _ends_a_line(handle: TextIO) -> bool:
    """True when the file is empty or its last byte ends a line (checked under the lock)."""
    fd = handle.fileno()
    size = os.fstat(fd).st_size
    return size == 0 or os.pread(fd, 1, size - 1) == b"\n"


def append(lines_by_file: dict[Path, list[str]], fail: Fail) -> int:
    """Lock, append and unlock each file's lines; the lines written."""
    files = LockedFiles(lines_by_file, fail)
    try:
        return files.write()
    finally:
        files.close()


__all__ = [
    "LINE_COLUMNS",
    "LockedFiles",
    "TRANSCRIPT_FILE",
    "TranscriptLines",
    "append",
    "transcript_path",
]
