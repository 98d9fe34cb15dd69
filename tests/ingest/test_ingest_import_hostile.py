"""``otel-obs import`` on hostile lines: each bad line is skipped and reported, the rest imported.

NaN and Infinity (not JSON), a timestamp outside the store's range, nesting deep
enough to exhaust the decoder, a number too large for SQLite, a line longer than
:data:`MAX_LINE_BYTES` (never read whole: memory stays flat) and texts longer
than the producers keep (cut as they cut them, and counted).
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from otel_obs.ingest.jsonl_import import MAX_LINE_BYTES, TEXT_CAP, bounded_lines

EXECUTION = "exec-hostile"


def _line(n: int, **fields: object) -> str:
    entry = {
        "id": f"e-{n}",
        "execution_id": EXECUTION,
        "timestamp": f"2026-03-02T10:00:{n:02d}.000000Z",
        "entry_type": "decision",
        "summary": f"decision {n}",
        "details": {},
    }
    entry.update(fields)
    return json.dumps(entry)


def _import(path: Path, db: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    done = subprocess.run(
        [sys.executable, "-m", "otel_obs", "import", str(path), "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, json.loads(done.stdout) if done.stdout else {}


def _ids(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM transcript_entries ORDER BY sequence")]
    finally:
        conn.close()


def test_each_hostile_line_is_skipped_and_reported_the_rest_imported(tmp_path: Path):
    bad = {
        2: _line(2).replace('"details": {}', '"details": {"v": NaN}'),
        3: _line(3).replace('"summary"', '"duration_ms": Infinity, "summary"'),
        4: _line(4).replace('"summary"', '"wave_number": -Infinity, "summary"'),
        5: _line(5, timestamp="0001-01-01T00:00:00+14:00"),
        6: _line(6, timestamp="9999-12-31T23:59:59-14:00"),
        7: _line(7).replace('"details": {}', '"details": {"a": ' + "[" * 100_000 + "]" * 100_000),
        8: _line(8).replace('"summary"', '"wave_number": 100000000000000000000000000, "summary"'),
        9: _line(9).replace('"summary"', '"wave_number": 1e400, "summary"'),
    }
    lines = [_line(1), *bad.values(), _line(10)]
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join(lines) + "\n")
    db = tmp_path / "store" / "obs.db"
    done, result = _import(path, db)
    assert done.returncode == 1, done.stderr
    assert (result["read"], result["added"], result["malformed"]) == (2, 2, len(bad))
    assert _ids(db) == ["e-1", "e-10"]
    why = {
        2: "NaN is not a JSON value",
        3: "Infinity is not a JSON value",
        4: "-Infinity is not a JSON value",
        5: "timestamp '0001-01-01T00:00:00+14:00' is out of range",
        6: "timestamp '9999-12-31T23:59:59-14:00' is out of range",
        7: "nested too deeply",
        8: "wave_number 100000000000000000000000000 is out of range",
        9: "wave_number must be an integer, got inf",
    }
    for number, reason in why.items():
        assert re.search(rf"{re.escape(str(path))}:{number}: .*{re.escape(reason)}", done.stderr), (
            number,
            done.stderr,
        )
    assert "Traceback" not in done.stderr


def test_texts_longer_than_the_producers_keep_are_cut_and_counted(tmp_path: Path):
    long_summary = "s" * (TEXT_CAP * 3)
    long_details = {"text": "d" * (TEXT_CAP * 3)}
    path = tmp_path / "long.jsonl"
    path.write_text(
        _line(1, summary=long_summary) + "\n" + _line(2, details=long_details) + "\n" + _line(3)
    )
    db = tmp_path / "obs.db"
    done, result = _import(path, db)
    assert done.returncode == 0, done.stderr
    assert (result["added"], result["truncated"]) == (3, 2)
    conn = sqlite3.connect(db)
    try:
        rows = dict(conn.execute("SELECT id, summary FROM transcript_entries"))
        details = conn.execute("SELECT details FROM transcript_entries WHERE id = 'e-2'").fetchone()
    finally:
        conn.close()
    assert rows["e-1"].startswith("s" * TEXT_CAP) and len(rows["e-1"]) < TEXT_CAP + 100
    assert f"[truncated {TEXT_CAP * 2} chars]" in rows["e-1"]
    capped = json.loads(details[0])  # still a JSON object
    assert capped["_truncated"] is True and len(capped["head"]) == TEXT_CAP


_PEAK = """
import resource, sys
from pathlib import Path
from otel_obs.ingest.jsonl_import import import_jsonl
report = import_jsonl([Path(sys.argv[1])], Path(sys.argv[2]), Path(sys.argv[3]))
print(report.read, report.malformed, report.problems[0] if report.problems else "",
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, sep="|")
"""


def _peak(path: Path, tmp_path: Path, name: str) -> tuple[int, int, str, int]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _PEAK,
            str(path),
            str(tmp_path / f"{name}.db"),
            str(tmp_path / name),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    read, malformed, problem, peak_kib = done.stdout.strip().split("|")
    return int(read), int(malformed), problem, int(peak_kib)


def test_a_line_over_the_limit_is_skipped_without_being_read_whole(tmp_path: Path):
    small = tmp_path / "small.jsonl"
    small.write_text(_line(1) + "\n" + _line(3) + "\n")
    huge = tmp_path / "huge.jsonl"
    long_line = _line(2, summary="x" * (48 << 20))
    with open(huge, "w") as handle:
        handle.write(_line(1) + "\n" + long_line + "\n" + _line(3) + "\n")
    _, _, _, baseline = _peak(small, tmp_path, "small")
    read, malformed, problem, peak = _peak(huge, tmp_path, "huge")
    assert (read, malformed) == (2, 1)
    assert re.search(rf":2: line of {len(long_line)} bytes is longer than the limit", problem)
    # Peak memory grows by a few limits at most, not by the 48 MB line (nor its copies).
    assert peak - baseline < 8 * MAX_LINE_BYTES // 1024, (baseline, peak)


def test_bounded_lines_splits_as_a_file_reads(tmp_path: Path):
    path = tmp_path / "lines"
    path.write_bytes(b"ab\n" + b"c" * 10 + b"\n\nd" + b"e" * 20)
    with open(path, "rb") as handle:
        assert list(bounded_lines(handle, 10)) == [(b"ab", 2), (b"c" * 10, 10), (b"", 0), (b"", 21)]
