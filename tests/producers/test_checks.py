"""The assertion checks on their own: real files, real processes, a real HTTP server."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time

import pytest
from producer_support import StatusServer, free_port

from otel_obs import checks, redaction
from otel_obs.exporters import schema

PY = sys.executable


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


def old(path, seconds_ago: float = 3600) -> None:
    """Backdate a file, as if written before the work started."""
    t = time.time() - seconds_ago
    os.utime(path, (t, t))


# -- files ------------------------------------------------------------------


def test_snapshot_records_size_mtime_and_hash(tmp_path):
    import hashlib

    f = tmp_path / "a.txt"
    f.write_bytes(b"hello")
    snap = checks.snapshot_file(f)
    assert snap.exists and snap.size == 5
    assert snap.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert snap.mtime_ns == f.stat().st_mtime_ns
    assert not checks.snapshot_file(tmp_path / "missing").exists


def test_file_created_against_a_snapshot(tmp_path):
    f = tmp_path / "new.ts"
    before = checks.snapshot_file(f)
    f.write_text("export {}")
    result, evidence = checks.check_file_created(f, before)
    assert result == "pass" and evidence["basis"] == "snapshot"
    assert evidence["now"]["size"] == len("export {}")
    # a file that was already there at the snapshot was not created by the work
    assert checks.check_file_created(f, checks.snapshot_file(f))[0] == "fail"
    assert checks.check_file_created(tmp_path / "never", before)[0] == "fail"


def test_file_created_without_snapshot_uses_mtime_then_existence(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("x")
    start = time.time_ns()
    old(f)
    result, evidence = checks.check_file_created(f, None, start)
    assert result == "fail" and "before the work started" in evidence["error"]
    f.write_text("y")  # written now, after start
    result, evidence = checks.check_file_created(f, None, start)
    assert result == "pass" and evidence["basis"] == "mtime"
    result, evidence = checks.check_file_created(f)
    assert result == "pass" and evidence["basis"].startswith("existence only")


def test_file_modified(tmp_path):
    f = tmp_path / "m.txt"
    f.write_text("one")
    old(f)
    before = checks.snapshot_file(f)
    assert checks.check_file_modified(f, before)[0] == "fail"  # untouched
    f.write_text("two")
    result, evidence = checks.check_file_modified(f, before)
    assert result == "pass" and "sha256" in evidence["changed"]
    # same size, content restored, mtime kept: unchanged by every measure
    g = tmp_path / "g.txt"
    g.write_text("abc")
    old(g)
    snap = checks.snapshot_file(g)
    g.write_text("abd")
    os.utime(g, ns=(snap.mtime_ns, snap.mtime_ns))
    result, evidence = checks.check_file_modified(g, snap)
    assert result == "pass" and evidence["changed"] == ["sha256"]
    # no snapshot: the mtime against the start decides; with nothing at all, a warning
    start = time.time_ns()
    old(f)
    assert checks.check_file_modified(f, None, start)[0] == "fail"
    f.write_text("three")
    assert checks.check_file_modified(f, None, start)[0] == "pass"
    assert checks.check_file_modified(f)[0] == "warn"
    assert checks.check_file_modified(tmp_path / "gone", before)[0] == "fail"


def test_file_deleted(tmp_path):
    f = tmp_path / "d.txt"
    f.write_text("x")
    before = checks.snapshot_file(f)
    assert checks.check_file_deleted(f, before)[0] == "fail"
    f.unlink()
    result, evidence = checks.check_file_deleted(f, before)
    assert result == "pass" and evidence["baseline"]["exists"] is True


# -- commands ---------------------------------------------------------------


def test_command_passes_on_exit_zero_and_keeps_output_tails(tmp_path):
    result, evidence = checks.run_command(
        [PY, "-c", "import os; print('in', os.getcwd())"], cwd=tmp_path
    )
    assert result == "pass"
    assert evidence["exit_code"] == 0
    assert evidence["stdout_tail"].strip() == f"in {tmp_path}"
    assert evidence["cwd"] == str(tmp_path)


def test_command_fails_on_nonzero_exit_with_stderr(tmp_path):
    code = "import sys; sys.stderr.write('bad thing\\n'); sys.exit(3)"
    result, evidence = checks.run_command(f'{PY} -c "{code}"', cwd=tmp_path)
    assert result == "fail"
    assert evidence["exit_code"] == 3
    assert evidence["stderr_tail"].strip() == "bad thing"
    assert evidence["error"] == "exit code 3"


def test_output_tail_is_capped_counted_and_redacted():
    n = redaction.EVIDENCE_TAIL + 3000
    code = f"print('password=hunter2'); print('z' * {n})"
    before = redaction.stats()["truncated_chars"]
    _, evidence = checks.run_command([PY, "-c", code])
    tail = evidence["stdout_tail"]
    assert tail.endswith("z" * 100 + "\n")
    assert len(tail) < redaction.EVIDENCE_TAIL + 50
    assert redaction.stats()["truncated_chars"] > before
    _, evidence = checks.run_command([PY, "-c", "print('password=hunter2')"])
    assert "hunter2" not in evidence["stdout_tail"]


def test_missing_executable_is_a_skip():
    result, evidence = checks.run_command("no-such-toolchain-xyz --version")
    assert result == "skip"
    assert "no-such-toolchain-xyz" in evidence["error"]
    assert evidence["exit_code"] is None


def test_timeout_fails_and_kills_the_whole_process_group():
    started = time.monotonic()
    # the shell's children hold the output pipes open: only a group kill ends the wait
    result, evidence = checks.run_command(["sh", "-c", "sleep 30 & sleep 30"], timeout_s=0.3)
    assert time.monotonic() - started < 5
    assert result == "fail"
    assert evidence["timed_out"] is True
    assert "timed out after 0.3 s" == evidence["error"]


def test_placeholders_fill_single_arguments():
    tricky = "my file; rm -rf x.ts"
    code = "import json, sys; print(json.dumps(sys.argv[1:]))"
    result, evidence = checks.run_command(
        f"{PY} -c '{code}' {{file}} --grep={{pattern}}", file=tricky, pattern="a b"
    )
    assert result == "pass"
    assert json.loads(evidence["stdout_tail"]) == [tricky, "--grep=a b"]
    argv = checks.command_argv("npm test -- {pattern}", pattern="")
    assert argv == ["npm", "test", "--"]


def test_missing_working_directory_is_a_failure(tmp_path):
    result, evidence = checks.run_command([PY, "-c", "pass"], cwd=tmp_path / "nope")
    assert result == "fail" and "working directory" in evidence["error"]


def test_malformed_command_raises():
    with pytest.raises(ValueError, match="empty"):
        checks.command_argv("")
    with pytest.raises(ValueError, match="list of strings"):
        checks.command_argv([1, 2])  # type: ignore[list-item]


# -- HTTP -------------------------------------------------------------------


def test_api_responds_with_the_expected_status():
    with StatusServer() as server:
        result, evidence = checks.check_api_responds(server.url + "/status/200")
        assert result == "pass" and evidence["status"] == 200
        assert evidence["body_head"] == "answer 200"
        assert checks.check_api_responds(server.url + "/status/404", 404)[0] == "pass"
        result, evidence = checks.check_api_responds(server.url + "/status/500")
        assert result == "fail" and evidence["status"] == 500
        assert evidence["error"] == "status 500, expected 200"


def test_api_timeout_and_refused_connection_fail():
    with StatusServer() as server:
        result, evidence = checks.check_api_responds(server.url + "/slow/2", timeout_s=0.2)
        assert result == "fail" and evidence["status"] is None
        assert "no response" in evidence["error"]
    result, evidence = checks.check_api_responds(f"http://127.0.0.1:{free_port()}/", timeout_s=2)
    assert result == "fail" and "no response" in evidence["error"]


def test_api_url_must_be_http():
    with pytest.raises(ValueError, match="ftp://x"):
        checks.check_api_responds("ftp://x")


# -- JSON Schema ------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "required": ["name", "port"],
    "properties": {"name": {"type": "string"}, "port": {"type": "integer", "minimum": 1}},
}


def test_schema_valid_with_inline_and_file_schema(tmp_path):
    doc = tmp_path / "config.json"
    doc.write_text(json.dumps({"name": "api", "port": 8080}))
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(SCHEMA))
    assert checks.check_schema_valid(doc, SCHEMA)[0] == "pass"
    assert checks.check_schema_valid(doc, schema_file)[0] == "pass"


def test_schema_violations_are_listed(tmp_path):
    doc = tmp_path / "config.json"
    doc.write_text(json.dumps({"port": 0}))
    result, evidence = checks.check_schema_valid(doc, SCHEMA)
    assert result == "fail"
    assert evidence["error_count"] == 2
    messages = " ".join(e["message"] for e in evidence["errors"])
    assert "'name' is a required property" in messages
    assert any(e["path"] == "port" for e in evidence["errors"])


def test_schema_check_on_missing_or_broken_document(tmp_path):
    assert checks.check_schema_valid(tmp_path / "none.json", SCHEMA)[0] == "fail"
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result, evidence = checks.check_schema_valid(broken, SCHEMA)
    assert result == "fail" and "not valid JSON" in evidence["error"]


def test_bad_schema_is_the_callers_error(tmp_path):
    with pytest.raises(ValueError, match="not a valid JSON Schema"):
        checks.check_schema_valid(tmp_path / "x.json", {"type": "no-such-type"})
    with pytest.raises(ValueError, match="cannot read schema file"):
        checks.check_schema_valid(tmp_path / "x.json", tmp_path / "missing-schema.json")


# -- dependencies -----------------------------------------------------------


def make_store(path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    schema.migrate(conn)
    rows = [("A", "E1", "completed"), ("B", "E1", "failed"), ("C", "E2", "completed")]
    conn.executemany("INSERT INTO tasks (id, execution_id, status) VALUES (?, ?, ?)", rows)
    conn.close()


def test_dependency_met_reads_the_store(tmp_path):
    db = tmp_path / "obs.db"
    make_store(db)
    result, evidence = checks.check_dependency_met(db, "E1", "A")
    assert result == "pass" and evidence["source"] == "store"
    result, evidence = checks.check_dependency_met(db, "E1", "B")
    assert result == "fail" and "'failed'" in evidence["error"]
    # C completed, but in another execution
    result, evidence = checks.check_dependency_met(db, "E1", "C")
    assert result == "fail" and evidence["error"] == "task not found in this execution"


def test_dependency_met_falls_back_to_what_the_writer_saw(tmp_path):
    assert checks.check_dependency_met(None, "E1", "A", "completed")[0] == "pass"
    assert checks.check_dependency_met(tmp_path / "absent.db", "E1", "A", "blocked")[0] == "fail"
    assert checks.check_dependency_met(None, "E1", "A", None)[0] == "fail"
