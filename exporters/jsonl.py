"""The JSONL transcripts: where each execution's file is, what a line holds, how lines are appended.

One file per execution, ``<transcripts>/<name>/transcript.jsonl``, holding the
same entries as ``transcript_entries`` with the same ids and sequence numbers.
Several processes may append to one file: each batch's lines are appended
under an exclusive ``flock`` taken before the batch's SQLite commit, so the
lines land in sequence order.

Beside it, ``rows.jsonl`` spools every other row the batch wrote (or, when
SQLite could not take the batch, would have written): tool uses, skill traces,
assertions, tasks, agents, waves, file impacts, message-bus rows, span links,
and agents' heartbeats. ``otel-obs import`` replays it through the same merge
rules, so the JSONL alone rebuilds the store. A line is one statement's rows of
one execution::

    {"table": "tool_uses", "phase": "end", "columns": [...], "rows": [[...], ...]}
    {"heartbeats": [[execution_id, instance_id, at, task_id], ...]}
    {"links": [[trace_id, span_id, parent_span_id, kind, execution_id, ...], ...]}

A line is at most :data:`ROW_LINE_BYTES`: a statement's rows are split over as
many lines as that takes, and a single row longer than that (none of the
producers' rows comes near: their texts are capped) is left out and counted.
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
#: The row spool beside each transcript (see the module docstring).
ROWS_FILE = "rows.jsonl"
#: The longest row spool line (bytes, with its newline); ``otel-obs import`` reads
#: lines up to this long.
ROW_LINE_BYTES = 1 << 20

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


def rows_path(transcripts_dir: Path, execution_id: str) -> Path:
    """Where an execution's row spool lives: beside its transcript."""
    return transcript_path(transcripts_dir, execution_id).with_name(ROWS_FILE)


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
_encode_text: Callable[[str], str] = json.encoder.encode_basestring

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


#: Encodes a list of row tuples: no NaN, surrogates left for the file to escape.
_ROWS_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False)


class RowLines:
    """Encodes a batch's non-entry rows as row spool lines, grouped by file.

    Collect each statement's rows with :meth:`add` (with their JSON text when
    the writer already made it), then take the lines with :meth:`take`.
    ``dropped`` counts rows left out: a row whose line alone would be longer
    than :data:`ROW_LINE_BYTES`, or one that cannot be encoded at all.
    """

    def __init__(self, transcripts_dir: Path, line_bytes: int = ROW_LINE_BYTES) -> None:
        self.transcripts_dir = Path(transcripts_dir)
        self.line_bytes = line_bytes
        self.dropped = 0
        self.rows = 0
        self._paths: dict[str, Path] = {}
        self._heads: dict[tuple[str, str, tuple[str, ...]], tuple[str, int]] = {}
        self._out: dict[Path, list[str]] = {}

    def add(
        self,
        table: str,
        phase: str,
        columns: tuple[str, ...],
        params: list[tuple[Any, ...]],
        text: str | None = None,
    ) -> None:
        """One statement's rows; ``text``, when given, is ``params`` as a JSON array."""
        key = (table, phase, columns)
        head = self._heads.get(key)
        if head is None:
            where = columns.index("id" if table == "task_list_execution_runs" else "execution_id")
            prefix = (
                f'{{"table": {_encode_text(table)}, "phase": {_encode_text(phase)}, '
                f'"columns": {_ROWS_ENCODER.encode(list(columns))}, "rows": '
            )
            head = self._heads[key] = (prefix, where)
        self._add(head[0], head[1], params, text)

    def heartbeats(self, heartbeats: dict[tuple[str, str], list[Any]]) -> None:
        """The batch's agent heartbeats: (execution, instance) -> [at, task]."""
        if heartbeats:
            params = [(e, i, at, task) for (e, i), (at, task) in heartbeats.items()]
            self._add('{"heartbeats": ', 0, params, None)

    def links(self, links: Iterable[tuple[Any, ...]]) -> None:
        """The batch's ``span_links`` rows (their fifth value is the execution)."""
        params = list(links)
        if params:
            self._add('{"links": ', 4, params, None)

    def take(self) -> dict[Path, list[str]]:
        """The lines collected so far, by file (and forget them)."""
        out, self._out = self._out, {}
        return out

    def _add(self, prefix: str, where: int, params: list[Any], text: str | None) -> None:
        first = params[0][where]
        if any(row[where] != first for row in params):
            by_execution: dict[Any, list[Any]] = {}
            for row in params:
                by_execution.setdefault(row[where], []).append(row)
            for execution_id, rows in by_execution.items():
                self._lines(prefix, str(execution_id), rows, None)
        else:
            self._lines(prefix, str(first), params, text)

    def _lines(self, prefix: str, execution_id: str, params: list[Any], text: str | None) -> None:
        lines = self._out.get(self._path(execution_id))
        if lines is None:
            lines = self._out[self._path(execution_id)] = []
        pieces = [(params, text)]
        while pieces:
            rows, text = pieces.pop()
            if text is None:
                try:
                    text = _ROWS_ENCODER.encode(rows)
                except (ValueError, TypeError, RecursionError):
                    text = _ROWS_ENCODER.encode([[_plain(v) for v in row] for row in rows])
            size = len(prefix) + len(text) + 2
            if size > self.line_bytes // 4 and not text.isascii():
                size = len(prefix) + len(text.encode("utf-8", "surrogatepass")) + 2
            if size <= self.line_bytes:
                line = f"{prefix}{text}}}\n"
                if "\u2028" in line or "\u2029" in line:
                    line = line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
                lines.append(line)
                self.rows += len(rows)
            elif len(rows) == 1:
                self.dropped += 1
            else:
                # Split in as many pieces as the size says (halves at least); a piece
                # still too long is split again.
                n = max(2, -(-size // (self.line_bytes * 3 // 4)))
                step = -(-len(rows) // n)
                pieces.extend(
                    (rows[at : at + step], None) for at in reversed(range(0, len(rows), step))
                )

    def _path(self, execution_id: str) -> Path:
        path = self._paths.get(execution_id)
        if path is None:
            path = self._paths[execution_id] = rows_path(self.transcripts_dir, execution_id)
        return path


def _plain(value: Any) -> Any:
    """A value the row encoder takes: NaN and infinities as null, other objects as text."""
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


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
    "ROWS_FILE",
    "ROW_LINE_BYTES",
    "RowLines",
    "TRANSCRIPT_FILE",
    "TranscriptLines",
    "append",
    "rows_path",
    "transcript_path",
]
