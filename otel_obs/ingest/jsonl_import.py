"""``otel-obs import``: JSONL transcripts (and their row spools) back into a store.

A transcript line is a ``transcript_entries`` row (plus its sequence number),
written by the store beside the SQLite row, and also when SQLite could not be
written (then with a null sequence). The row spool beside it (``rows.jsonl``,
see :mod:`otel_obs.exporters.jsonl`) holds every other row the store wrote, or
could not write, in the order it wrote them. Importing replays the spool first,
through the same merge rules (:class:`Rows` and the store's upserts), which
restores tool uses, skill traces, assertions, agents, tasks, waves, file
impacts and the rest as the store had them; then the transcript:

* every transcript entry, exactly as the line holds it (same id, same columns);
  sequence numbers are handed out by the store in file order, so a store
  rebuilt from complete files gets the original numbers back;
* what the one mapping derives from the entries, given the spans and events
  they came from: a ``task_start`` and its ``task_end`` (same span id) are the
  task span, which gives the ``tasks`` row (open when the end is missing), its
  dependencies, its declared file impact and its wave assignment; every other
  entry is the ``obs.<type>`` event it was, which gives the ``message_bus_log``
  row of decisions, errors, locks, checkpoints, discoveries and validations;
  each execution and wave gets its row (started at its first entry).

Without a spool (transcripts written before there was one, or a spool lost),
what a transcript alone does not hold cannot come back: tool uses (input,
output, result, duration), skill traces, assertion chains and results, agent
instances, an execution's task list, service, status and end, a wave's end, and
the file impacts of tool uses.

A spool line names its table and columns; a line whose table is not one the
store writes, whose column is not one of the table's, whose row lacks a value
the table requires or holds a value that is not a JSON scalar, or whose rows
belong to several executions is skipped and reported like a malformed
transcript line. A spool line is at most ``ROW_LINE_BYTES`` long.

Entries already in the store are skipped by id (the store ignores them before
they take a sequence number), so importing twice gives the same store. An entry
new to the store is also appended to the store's own transcript file, unless
that file already holds it (the usual case after a run whose SQLite writes
failed): that import goes through a store whose JSONL goes nowhere. Spool rows
merge as upserts, so replaying a spool again changes nothing; they are written
through the store whose JSONL goes nowhere, and each spool line is appended
to the store's own spool unless that file already holds it.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import json
import math
import re
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

from otel_obs import conventions as c
from otel_obs.exporters import schema
from otel_obs.exporters.jsonl import ROW_LINE_BYTES, ROWS_FILE, append, rows_path, transcript_path
from otel_obs.exporters.mapping import (
    END,
    KEYS,
    START,
    Rows,
    iso_from_ns,
    json_object_text,
    map_event,
    map_span,
)
from otel_obs.exporters.span_record import RecordContext, SpanRecord
from otel_obs.exporters.store_choice import Store, thread_store
from otel_obs.redaction import DETAILS_CAP, cap_text, clean_text, dumps
from otel_obs.store_location import StoreLocation

#: Entries mapped and queued at a time.
CHUNK_ENTRIES = 2_000
#: Malformed lines kept for the report (the rest are counted).
MAX_REPORTED_PROBLEMS = 50
#: The longest line read (bytes, without its newline). A producer's line is far
#: shorter (its texts are capped at 16,384 characters); a longer one is skipped
#: and reported without being read whole, so one line cannot exhaust memory.
MAX_LINE_BYTES = 1 << 20
#: Summaries, details and skill references longer than this are cut on import as the
#: producers cut them (details stay a JSON object: their head, under ``head``).
TEXT_CAP = DETAILS_CAP
#: Timestamps an entry may have (years; the store's format has four digits).
_YEARS = (1970, 9999)
_INT64 = (-(1 << 63), (1 << 63) - 1)

_WHITESPACE = re.compile(r"[ \t\r\n]*")


def _no_constant(name: str) -> Any:
    raise LineError(f"not JSON: {name} is not a JSON value")


# NaN and Infinity are not JSON; Python's decoder takes them unless told not to.
_DECODER = json.JSONDecoder(parse_constant=_no_constant)
_HEX = re.compile(r"[0-9a-f]+\Z")


class LineError(ValueError):
    """A transcript line that cannot be imported (the message names the bad value)."""


@dataclass
class ImportReport:
    """What an import read, added and skipped; malformed lines as ``file:line: reason``."""

    files: int = 0
    read: int = 0
    #: Rows read from row spools (rows.jsonl), heartbeats and span links included.
    rows: int = 0
    added: int = 0
    skipped: int = 0
    malformed: int = 0
    #: Entries imported with a summary, details or skill reference cut to TEXT_CAP.
    truncated: int = 0
    problems: list[str] = field(default_factory=list)
    #: Storage trouble (the store's failure counts), when there was any.
    storage: str = ""
    executions: set[str] = field(default_factory=set)

    def problem(self, where: str, why: str) -> None:
        self.malformed += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(f"{where}: {why}")


@dataclass
class Entry:
    """One transcript line: its exact row (no sequence) and its details as data."""

    row: dict[str, Any]
    details: dict[str, Any]
    ns: int
    #: Whether a text of the line was cut to :data:`TEXT_CAP`.
    truncated: bool = False


# --------------------------------------------------------------------------
# reading lines
# --------------------------------------------------------------------------


def raw_members(text: str) -> dict[str, tuple[Any, str]]:
    """A JSON object's members as (value, exact source text of the value).

    The store splices ``details`` and ``skill_ref`` into a line as the text it
    holds; keeping that text (instead of dumping the parsed value again) gives
    back the very same column values.
    """
    end = len(text)
    at = _WHITESPACE.match(text, 0).end()  # type: ignore[union-attr]
    if text[at : at + 1] != "{":
        raise LineError("not a JSON object")
    at = _WHITESPACE.match(text, at + 1).end()  # type: ignore[union-attr]
    members: dict[str, tuple[Any, str]] = {}
    if text[at : at + 1] == "}":
        return members
    while True:
        try:
            key, at = _DECODER.raw_decode(text, at)
            at = _WHITESPACE.match(text, at).end()  # type: ignore[union-attr]
            if not isinstance(key, str) or text[at : at + 1] != ":":
                raise LineError("not a JSON object")
            at = _WHITESPACE.match(text, at + 1).end()  # type: ignore[union-attr]
            start = at
            value, at = _DECODER.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise LineError(f"not JSON: {exc}") from None
        except RecursionError:
            raise LineError("not JSON this reader takes: nested too deeply") from None
        members[key] = (value, text[start:at])
        at = _WHITESPACE.match(text, at).end()  # type: ignore[union-attr]
        mark = text[at : at + 1]
        at += 1
        if mark == "}":
            break
        if mark != ",":
            raise LineError("not JSON: expected ',' or '}'")
        at = _WHITESPACE.match(text, at).end()  # type: ignore[union-attr]
    if _WHITESPACE.match(text, at).end() != end:  # type: ignore[union-attr]
        raise LineError("not JSON: text after the object")
    return members


def _ns_of(value: Any) -> int:
    if not isinstance(value, str) or not value:
        raise LineError(f"timestamp must be ISO-8601 text, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise LineError(f"timestamp {value!r} is not ISO-8601") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        parsed = parsed.astimezone(timezone.utc)
    except OverflowError:
        parsed = None  # type: ignore[assignment]
    if parsed is None or not _YEARS[0] <= parsed.year <= _YEARS[1]:
        raise LineError(
            f"timestamp {value!r} is out of range (UTC years {_YEARS[0]} to {_YEARS[1]})"
        )
    seconds = calendar.timegm(parsed.timetuple())
    return (seconds * 1_000_000 + parsed.microsecond) * 1000


def _text(members: dict[str, tuple[Any, str]], name: str, required: bool = False) -> str | None:
    value = members.get(name, (None, ""))[0]
    if value is None or value == "":
        if required:
            raise LineError(f"{name} is missing")
        return None
    if not isinstance(value, str):
        raise LineError(f"{name} must be text, got {value!r}")
    # As the producers store texts: SQLite would cut an id at NUL (merging ids).
    return clean_text(value)


def _number(members: dict[str, tuple[Any, str]], name: str, kind: type) -> Any:
    value = members.get(name, (None, ""))[0]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LineError(f"{name} must be a number, got {value!r}")
    if kind is int:
        if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
            raise LineError(f"{name} must be an integer, got {value!r}")
        if not _INT64[0] <= value <= _INT64[1]:
            raise LineError(f"{name} {value!r} is out of range (a 64-bit integer)")
        return int(value)
    return float(value) if math.isfinite(value) else None


def _hex(members: dict[str, tuple[Any, str]], name: str, digits: int) -> str | None:
    value = _text(members, name)
    if value is not None and (len(value) != digits or not _HEX.match(value)):
        raise LineError(f"{name} must be {digits} lowercase hex digits, got {value!r}")
    return value


def _object_text(members: dict[str, tuple[Any, str]], name: str) -> tuple[str | None, Any, bool]:
    """The member's JSON object text (capped), its value, and whether the text was cut."""
    value, raw = members.get(name, (None, ""))
    if value is None:
        return None, None, False
    if not isinstance(value, dict):
        raise LineError(f"{name} must be a JSON object, got {raw[:80]}")
    text = json_object_text(raw)
    if text is None or len(text) <= TEXT_CAP:
        return text, value, False
    # As the producers cap JSON (redaction.safe_json): still an object, its head kept.
    head = {"_truncated": True, "_original_chars": len(text), "head": text[:TEXT_CAP]}
    return dumps(head), value, True


def parse_line(text: str) -> Entry:
    """The entry a transcript line holds (LineError naming what is wrong)."""
    members = raw_members(text)
    entry_type = _text(members, "entry_type", required=True)
    if entry_type not in c.ENTRY_TYPES:
        raise LineError(f"entry_type {entry_type!r} is not one of {', '.join(c.ENTRY_TYPES)}")
    ns = _ns_of(members.get("timestamp", (None, ""))[0])
    details_text, details, details_cut = _object_text(members, "details")
    skill_ref_text, _, skill_ref_cut = _object_text(members, "skill_ref")
    summary = _text(members, "summary") or ""
    row = {
        "id": _text(members, "id", required=True),
        "execution_id": _text(members, "execution_id", required=True),
        "timestamp": iso_from_ns(ns),
        "instance_id": _text(members, "instance_id"),
        "wave_number": _number(members, "wave_number", int),
        "task_id": _text(members, "task_id"),
        "entry_type": entry_type,
        "category": _text(members, "category") or c.DEFAULT_CATEGORY.get(entry_type, "action"),
        "summary": cap_text(summary, TEXT_CAP),
        "details": details_text or "{}",
        "skill_ref": skill_ref_text,
        "skill_trace_id": _text(members, "skill_trace_id"),
        "tool_use_id": _text(members, "tool_use_id"),
        "duration_ms": _number(members, "duration_ms", float),
        "token_estimate": _number(members, "token_estimate", int),
        "trace_id": _hex(members, "trace_id", 32),
        "span_id": _hex(members, "span_id", 16),
    }
    truncated = details_cut or skill_ref_cut or len(summary) > TEXT_CAP
    return Entry(row, details or {}, ns, truncated)


def transcript_files(paths: Sequence[str | Path]) -> list[Path]:
    """The JSONL files named, folders searched for ``*.jsonl`` (ValueError for a missing path).

    A transcript named brings the row spool beside it, if there is one. Row
    spools come first, in the order met, then transcripts (see the module docstring).
    """
    out: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*.jsonl") if p.is_file()))
        elif path.is_file():
            spool = path.with_name(ROWS_FILE)
            if path.name != ROWS_FILE and spool.is_file():
                out.append(spool)
            out.append(path)
        else:
            raise ValueError(f"PATH: {given} is neither a file nor a folder")
    out.sort(key=lambda p: p.name != ROWS_FILE)  # stable: spools first, each in its order
    seen: set[Path] = set()
    unique = []
    for path in out:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def bounded_lines(handle: BinaryIO, limit: int = MAX_LINE_BYTES) -> Iterator[tuple[bytes, int]]:
    """Each line of ``handle`` and its length in bytes (without the newline); a line longer
    than ``limit`` comes as ``b""`` with its length, read past in pieces, never held whole."""
    while True:
        raw = handle.readline(limit + 1)
        if not raw:
            return
        line = raw[:-1] if raw.endswith(b"\n") else raw
        if len(line) <= limit:
            yield line, len(line)
            continue
        size = len(raw)
        while not raw.endswith(b"\n"):
            raw = handle.readline(limit)
            if not raw:
                break
            size += len(raw)
        yield b"", size - raw.endswith(b"\n")


def text_lines(path: Path, limit: int, report: ImportReport) -> Iterator[tuple[str, str]]:
    """(``path:number``, text) of each non-blank line of the file that is at most ``limit``
    bytes of UTF-8; the others reported and skipped."""
    with open(path, "rb") as handle:
        for number, (raw, size) in enumerate(bounded_lines(handle, limit), 1):
            where = f"{path}:{number}"
            if size > limit:
                report.problem(where, f"line of {size} bytes is longer than the limit of {limit}")
                continue
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                report.problem(where, f"not UTF-8 ({exc.reason} at byte {exc.start})")
                continue
            yield where, text


def read_entries(path: Path, report: ImportReport) -> list[Entry]:
    """The valid entries of one file, in file order; malformed lines reported and skipped."""
    entries: list[Entry] = []
    for where, text in text_lines(path, MAX_LINE_BYTES, report):
        try:
            entry = parse_line(text)
        except LineError as exc:
            report.problem(where, str(exc))
            continue
        report.truncated += entry.truncated
        entries.append(entry)
    return entries


# --------------------------------------------------------------------------
# entries back into spans and events, through the one mapping
# --------------------------------------------------------------------------


def _context(row: dict[str, Any]) -> dict[str, Any]:
    attrs = {
        c.EXECUTION_ID: row["execution_id"],
        c.INSTANCE_ID: row["instance_id"],
        c.WAVE_NUMBER: row["wave_number"],
        c.SKILL_TRACE_ID: row["skill_trace_id"],
        c.TASK_ID: row["task_id"],
    }
    return {k: v for k, v in attrs.items() if v is not None}


def _ids(row: dict[str, Any]) -> RecordContext | None:
    if row["trace_id"] is None or row["span_id"] is None:
        return None
    return RecordContext(int(row["trace_id"], 16), int(row["span_id"], 16))


def _entry_attrs(entry: Entry, keys: Sequence[str]) -> dict[str, Any]:
    """An entry's fields under the span or event attribute names it was recorded with."""
    row = entry.row
    values = (
        row["id"],
        row["entry_type"],
        row["category"],
        row["summary"],
        row["details"],
        row["skill_ref"],
        row["token_estimate"],
    )
    return {k: v for k, v in zip(keys, values, strict=True) if v is not None}


def span_times(start: Entry, end: Entry) -> tuple[int, int]:
    """Start and end in ns that give back both entries' timestamps (to the µs) and the end
    entry's duration (the span's own, to the ns).

    The true start lies somewhere in its microsecond; the earliest start that keeps
    the end inside the end entry's microsecond is as good as the true one. Entries
    that disagree with their duration keep their own timestamps.
    """
    duration = end.row["duration_ms"]
    if duration is None:
        return start.ns, end.ns
    span_ns = round(duration * 1_000_000)
    begin = start.ns + min(max(end.ns - start.ns - span_ns, 0), 999)
    if end.ns <= begin + span_ns < end.ns + 1000:
        return begin, begin + span_ns
    return start.ns, end.ns


def task_span(start: Entry, end: Entry | None) -> SpanRecord:
    """The task span a ``task_start`` entry (and its ``task_end``, if any) came from."""
    details = start.details
    attrs = _context(start.row)
    attrs[c.KIND] = c.KIND_TASK
    attrs.update(_entry_attrs(start, c.START_ENTRY_KEYS))
    for key, name in ((c.TASK_TITLE, "title"), (c.TASK_ACTION, "action"), (c.TASK_FILE, "file")):
        if details.get(name) is not None:
            attrs[key] = str(details[name])
    depends = details.get("depends_on")
    if isinstance(depends, list | str):
        attrs[c.TASK_DEPENDS_ON] = tuple(depends) if isinstance(depends, list) else depends
    start_ns, end_ns = start.ns, None
    if end is not None:
        attrs.update(_entry_attrs(end, c.END_ENTRY_KEYS))
        status, error = end.details.get("status"), end.details.get("error")
        if status is not None:
            attrs[c.TASK_STATUS] = str(status)
        if error:
            attrs[c.TASK_ERROR] = str(error)
        start_ns, end_ns = span_times(start, end)
    return SpanRecord(f"task {start.row['task_id']}", attrs, _ids(start.row), start_ns, end_ns)


def _event(entry: Entry, rows: Rows) -> None:
    """The ``obs.<type>`` event an entry was, mapped (message-bus row, execution, wave)."""
    row = entry.row
    attrs = _entry_attrs(entry, c.START_ENTRY_KEYS)
    if row["duration_ms"] is not None:
        attrs[c.ENTRY_DURATION_MS] = row["duration_ms"]
    if row["task_id"] is not None:
        attrs[c.TASK_ID] = row["task_id"]
    correlation = entry.details.get("correlation_id")
    if correlation is not None:
        attrs[c.CORRELATION_ID] = str(correlation)
    context = _context(row)
    context.pop(c.TASK_ID, None)
    span = SpanRecord("", context, _ids(row))
    map_event(span, c.EVENT_PREFIX + row["entry_type"], attrs, entry.ns, rows)


def entries_rows(entries: Sequence[Entry], ends: dict[tuple[str, str], Entry]) -> Rows:
    """Rows for ``entries`` (in order): their exact transcript rows first, then what the
    mapping derives from the spans and events they came from (see the module docstring)."""
    rows = Rows()
    for entry in entries:
        rows.add("transcript_entries", dict(entry.row))
    for entry in entries:
        row = entry.row
        kind = row["entry_type"]
        if kind == "task_start" and row["task_id"] is not None:
            end = ends.get((row["execution_id"], row["span_id"] or "")) if row["span_id"] else None
            map_span(task_span(entry, end), rows)
        elif kind == "task_end" and row["span_id"] and row["task_id"] is not None:
            continue  # mapped with its start (or, without one, its transcript row is all)
        else:
            _event(entry, rows)
    return rows


def _task_ends(entries: Iterable[Entry]) -> dict[tuple[str, str], Entry]:
    return {
        (e.row["execution_id"], e.row["span_id"]): e
        for e in entries
        if e.row["entry_type"] == "task_end" and e.row["span_id"]
    }


# --------------------------------------------------------------------------
# row spools
# --------------------------------------------------------------------------

#: The span_links columns, in the order a spool's ``links`` rows hold them.
_LINK_COLUMNS = 8
_LINK_REQUIRED = (0, 1, 4)  # trace_id, span_id, execution_id
#: Tables whose rows change a wave's derived counts (wave_statistics).
_WAVE_TABLES = frozenset({"parallel_execution_waves", "wave_task_assignments", "tasks"})


@dataclass(frozen=True)
class _Table:
    columns: frozenset[str]
    #: Columns a row must give a value: NOT NULL without a default, and the key.
    required: frozenset[str]
    #: Where a row names its execution.
    execution: str


@functools.cache
def _tables() -> dict[str, _Table]:
    """The tables a spool may name, as the current schema has them."""
    conn = sqlite3.connect(":memory:")
    try:
        schema.migrate(conn)
        out = {}
        for table, keys in KEYS.items():
            if table == "transcript_entries":
                continue
            info = conn.execute(f"PRAGMA table_info({table})").fetchall()
            columns = frozenset(r[1] for r in info)
            required = frozenset(r[1] for r in info if r[3] and r[4] is None) | frozenset(keys)
            execution = "id" if table == "task_list_execution_runs" else "execution_id"
            out[table] = _Table(columns, required, execution)
        return out
    finally:
        conn.close()


def _scalar(value: Any, where: str) -> Any:
    """A spool value as the store takes it (LineError for anything else)."""
    if value is None or isinstance(value, bool | float):
        return value  # JSON has no NaN or infinity (the decoder refuses them)
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise LineError(f"{where}: {value!r} is out of range (a 64-bit integer)")
        return value
    raise LineError(f"{where} must be a JSON scalar, got {json.dumps(value)[:80]}")


def _row_lists(members: dict[str, tuple[Any, str]], name: str, width: int) -> list[list[Any]]:
    value = members[name][0]
    if not isinstance(value, list) or not value:
        raise LineError(f"{name} must be a non-empty list of rows")
    for n, row in enumerate(value):
        if not isinstance(row, list) or len(row) != width:
            raise LineError(f"{name}[{n}] must be a list of {width} values")
    return value


def _one_execution(rows: list[list[Any]], at: int, name: str) -> str:
    executions = {row[at] for row in rows}
    if len(executions) != 1:
        raise LineError(f"{name}: rows of several executions ({len(executions)})")
    (execution,) = executions
    if not isinstance(execution, str) or not execution:
        raise LineError(f"{name}: execution id must be text, got {execution!r}")
    return execution


def parse_row_line(text: str, rows: Rows) -> tuple[str, int]:
    """Add a spool line's rows to ``rows``: (the execution they belong to, how many)."""
    members = raw_members(text)
    if "heartbeats" in members:
        heartbeats = _row_lists(members, "heartbeats", 4)
        execution = _one_execution(heartbeats, 0, "heartbeats")
        beats = []
        for n, beat in enumerate(heartbeats):
            e, instance, at, task = (_scalar(v, f"heartbeats[{n}]") for v in beat)
            if not all(isinstance(v, str) and v for v in (instance, at)) or not (
                task is None or isinstance(task, str)
            ):
                raise LineError(f"heartbeats[{n}]: instance and time must be text, got {beat!r}")
            beats.append((e, instance, at, task))
        for found in beats:
            rows.heartbeat(*found)
        return execution, len(beats)
    if "links" in members:
        links = _row_lists(members, "links", _LINK_COLUMNS)
        execution = _one_execution(links, 4, "links")
        decided = []
        for n, link in enumerate(links):
            fields = tuple(_scalar(v, f"links[{n}]") for v in link)
            if any(not isinstance(fields[i], str) or not fields[i] for i in _LINK_REQUIRED):
                raise LineError(f"links[{n}]: trace, span and execution ids must be text")
            decided.append(fields)
        for fields in decided:
            rows.links[(fields[0], fields[1])] = fields
        return execution, len(decided)
    table = members.get("table", (None, ""))[0]
    known = _tables()
    if table not in known:
        raise LineError(f"table {table!r} is not one the store writes ({', '.join(known)})")
    spec = known[table]
    phase = members.get("phase", (None, ""))[0]
    if phase not in (START, END):
        raise LineError(f"phase must be {START!r} or {END!r}, got {phase!r}")
    columns = members.get("columns", (None, ""))[0]
    if not isinstance(columns, list) or len(set(map(str, columns))) != len(columns):
        raise LineError("columns must be a list of distinct column names")
    for column in columns:
        if column not in spec.columns:
            raise LineError(f"column {column!r} is not one of {table}'s")
    missing = spec.required - set(columns)
    if missing:
        raise LineError(f"{table} rows need {', '.join(sorted(missing))}")
    if "rows" not in members:
        raise LineError("rows is missing")
    values = _row_lists(members, "rows", len(columns))
    execution = _one_execution(values, columns.index(spec.execution), table)
    records = []
    for n, row in enumerate(values):
        where = f"{table} row {n}"
        record = {name: _scalar(v, where) for name, v in zip(columns, row, strict=True)}
        for name in spec.required:
            if record[name] is None:
                raise LineError(f"{where}: {name} must have a value")
        records.append(record)
    # The line is whole: its rows go in, and the derived counts they touch are recounted.
    for record in records:
        rows.add(table, record, phase)
        wave = record.get("wave_number")
        if table in _WAVE_TABLES and type(wave) is int:
            rows.touched_waves.add((execution, wave))
        skill = record.get("id" if table == "skill_traces" else "within_skill")
        if table in ("skill_traces", "tool_uses") and isinstance(skill, str) and skill:
            rows.touched_skills.add((execution, skill))
    return execution, len(records)


def _digest(line: bytes) -> bytes:
    return hashlib.blake2b(line.rstrip(b"\r\n"), digest_size=16).digest()


def _held_lines(path: Path, cache: dict[Path, set[bytes]]) -> set[bytes]:
    """Digests of the lines a store's own spool file held before this import."""
    held = cache.get(path)
    if held is None:
        held = cache[path] = set()
        if path.is_file():
            with open(path, "rb") as handle:
                held.update(_digest(raw) for raw, _ in bounded_lines(handle, ROW_LINE_BYTES))
    return held


def replay_spool(
    path: Path,
    report: ImportReport,
    put: Callable[[Rows], None],
    transcripts: Path,
    held: dict[Path, set[bytes]],
) -> None:
    """Put a row spool's rows into the store (``put``), in file order, in chunks; copy each
    line the store's own spool for its execution does not hold yet into that file."""
    source = path.resolve()
    rows, count = Rows(), 0
    copies: dict[Path, list[str]] = {}
    targets: dict[str, Path] = {}

    def flush() -> None:
        nonlocal rows, count
        if rows:
            put(rows)
        if copies:
            append(copies, lambda kind, message, lost: report.problem(str(path), message))
            copies.clear()
        rows, count = Rows(), 0

    for where, text in text_lines(path, ROW_LINE_BYTES, report):
        try:
            execution, n = parse_row_line(text, rows)
        except LineError as exc:
            report.problem(where, str(exc))
            continue
        report.rows += n
        count += n
        target = targets.get(execution)
        if target is None:
            target = targets[execution] = rows_path(transcripts, execution)
        if target.resolve() != source and _digest(text.encode()) not in _held_lines(target, held):
            copies.setdefault(target, []).append(text.rstrip("\r") + "\n")
        if count >= CHUNK_ENTRIES:
            flush()
    flush()


# --------------------------------------------------------------------------
# the import
# --------------------------------------------------------------------------


class _Stores:
    """The store writing the store's JSONL too, and one whose JSONL goes to a scratch folder
    (for entries the store's transcript file already holds). Switching flushes the other, so
    sequence numbers follow file order."""

    def __init__(self, db: StoreLocation, transcripts: Path, scratch: Path) -> None:
        self._args = {True: (db, scratch), False: (db, transcripts)}
        self._stores: dict[bool, Store] = {}
        self._last: bool | None = None
        #: Rows a store would not take (closed, or its queue full for too long).
        self.refused = 0

    def put(self, quiet: bool, rows: Rows) -> None:
        if self._last is not None and self._last != quiet:
            self._stores[self._last].flush(300)
        self._last = quiet
        store = self._stores.get(quiet)
        if store is None:
            store = self._stores[quiet] = thread_store(*self._args[quiet])
        if not store.put_rows(rows):
            self.refused += len(rows)

    def close(self) -> dict[str, int]:
        totals = {"entries_written": 0, "failures": 0, "dropped_rows": self.refused}
        for store in self._stores.values():
            store.close(300)
            stats = store.stats()
            for key in totals:
                totals[key] += stats.get(key, 0)
        return totals


def _known_ids(transcripts: Path, execution_id: str, cache: dict[str, set[str]]) -> set[str]:
    """Ids of the entries the store's own transcript file for ``execution_id`` holds."""
    known = cache.get(execution_id)
    if known is None:
        known = cache[execution_id] = set()
        path = transcript_path(transcripts, execution_id)
        if path.is_file():
            with open(path, "rb") as handle:
                for raw in handle:
                    try:
                        value = json.loads(raw).get("id")
                    except (ValueError, AttributeError):
                        continue
                    if isinstance(value, str):
                        known.add(value)
    return known


def import_jsonl(
    paths: Sequence[str | Path],
    db_path: StoreLocation,
    transcripts_dir: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import the JSONL transcripts at ``paths`` into the store at ``db_path``.

    ``progress(done, total)`` is called with bytes of files processed so far.
    Storage failures are counted in the report (``storage``), never raised.
    """
    files = transcript_files(paths)
    report = ImportReport(files=len(files))
    total = sum(p.stat().st_size for p in files)
    done = 0
    known: dict[str, set[str]] = {}
    held: dict[Path, set[bytes]] = {}
    with tempfile.TemporaryDirectory(prefix="otel-obs-import-") as scratch:
        stores = _Stores(db_path, transcripts_dir, Path(scratch))
        try:
            for path in files:
                if path.name == ROWS_FILE:
                    # Through the store whose JSONL goes nowhere: its lines are copied as
                    # they are instead (replay_spool).
                    replay_spool(
                        path, report, functools.partial(stores.put, True), transcripts_dir, held
                    )
                    done += path.stat().st_size
                    if progress is not None:
                        progress(done, total)
                    continue
                entries = read_entries(path, report)
                report.read += len(entries)
                ends = _task_ends(entries)
                for chunk in _chunks(entries, CHUNK_ENTRIES):
                    for quiet, run in _runs(chunk, transcripts_dir, known):
                        stores.put(quiet, entries_rows(run, ends))
                    report.executions.update(e.row["execution_id"] for e in chunk)
                done += path.stat().st_size
                if progress is not None:
                    progress(done, total)
        finally:
            totals = stores.close()
    report.added = totals["entries_written"]
    report.skipped = report.read - report.added
    if totals["failures"] or totals["dropped_rows"]:
        report.storage = (
            f"{db_path}: {totals['failures']} storage failures, "
            f"{totals['dropped_rows']} rows not written"
        )
    return report


def _chunks(entries: list[Entry], size: int) -> Iterator[list[Entry]]:
    for at in range(0, len(entries), size):
        yield entries[at : at + size]


def _runs(
    chunk: list[Entry], transcripts: Path, known: dict[str, set[str]]
) -> Iterator[tuple[bool, list[Entry]]]:
    """Consecutive entries split by whether the store's transcript file already holds them."""
    run: list[Entry] = []
    quiet: bool | None = None
    for entry in chunk:
        held = entry.row["id"] in _known_ids(transcripts, entry.row["execution_id"], known)
        if quiet is not None and held != quiet:
            yield quiet, run
            run = []
        quiet = held
        run.append(entry)
    if run:
        yield bool(quiet), run


__all__ = [
    "ImportReport",
    "LineError",
    "entries_rows",
    "import_jsonl",
    "parse_line",
    "raw_members",
    "read_entries",
    "span_times",
    "task_span",
    "transcript_files",
]
