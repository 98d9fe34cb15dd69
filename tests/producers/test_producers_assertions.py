"""AssertionRecorder: chains, assertion events with their entries, checks that really run."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest
from producer_support import StatusServer, Traced, span_id

from otel_obs import conventions as c
from otel_obs.assertion_recorder import AssertionRecorder
from otel_obs.models import AssertionResult, ChainResult

PY = sys.executable
EXIT = f"{PY} -c 'import sys; sys.exit(int(sys.argv[1]))'"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


def recorder(writer, tmp_path, **kw) -> AssertionRecorder:
    kw.setdefault("cwd", tmp_path)
    kw.setdefault("timeout_s", 10)
    return AssertionRecorder(writer, "exec-1", **kw)


def assertion_events(traced: Traced):
    return traced.events(c.EVENT_PREFIX + "assertion")


def test_chain_records_each_assertion_as_an_event_with_its_entry(traced, writer, tmp_path):
    rec = recorder(writer, tmp_path)
    writer.write({"entry_type": "task_start", "task_id": "T1"})
    chain_id = rec.start_chain("T1", "Validate CREATE")
    ok = rec.assert_custom("T1", "build", "exits 0", f"{EXIT} 0")
    bad = rec.assert_custom("T1", "build", "exits 2", f"{EXIT} 2")
    result = rec.end_chain(chain_id)
    writer.write({"entry_type": "task_end", "task_id": "T1"})
    writer.close()

    assert isinstance(ok, AssertionResult) and ok.result == "pass" and bad.result == "fail"
    assert ok.chain_id == bad.chain_id == chain_id and ok.task_id == "T1"
    assert bad.evidence["exit_code"] == 2
    assert isinstance(result, ChainResult)
    assert (result.overall_result, result.pass_count, result.fail_count) == ("fail", 1, 1)
    assert result.first_failure_id == bad.id
    assert [r.id for r in result.results] == [ok.id, bad.id]

    chain = traced.one(c.KIND_CHAIN)
    assert chain.name == "assertion_chain Validate CREATE"
    assert chain.parent.span_id == span_id(traced.one(c.KIND_TASK))
    assert chain.attributes[c.CHAIN_ID] == chain_id
    assert chain.attributes[c.TASK_ID] == "T1"
    assert chain.attributes[c.CHAIN_OVERALL_RESULT] == "fail"
    assert chain.attributes[c.CHAIN_PASS_COUNT] == 1
    assert chain.attributes[c.CHAIN_FAIL_COUNT] == 1
    assert chain.attributes[c.CHAIN_SKIP_COUNT] == 0
    assert chain.attributes[c.CHAIN_FIRST_FAILURE_ID] == bad.id

    events = assertion_events(traced)
    assert [span for span, _ in events] == [chain, chain]
    attrs = events[1][1]
    assert attrs[c.ASSERTION_ID] == bad.id
    assert attrs[c.ASSERTION_RESULT] == "fail"
    assert attrs[c.ASSERTION_CATEGORY] == "build"
    assert attrs[c.ASSERTION_DESCRIPTION] == "exits 2"
    assert attrs[c.CHAIN_ID] == chain_id and attrs[c.TASK_ID] == "T1"
    assert json.loads(attrs[c.ASSERTION_EVIDENCE])["exit_code"] == 2
    assert attrs[c.ASSERTION_DURATION_MS] == bad.duration_ms > 0
    assert attrs[c.ENTRY_TYPE] == "assertion" and attrs[c.ENTRY_CATEGORY] == "validation"
    assert len(attrs[c.ENTRY_ID]) == 32 and attrs[c.ENTRY_ID] != bad.id


@pytest.mark.parametrize(
    ("codes", "overall"),
    [((0, 0), "pass"), ((0, 1), "fail"), ((), "skip"), (("missing",), "skip")],
)
def test_chain_verdict(writer, tmp_path, codes, overall):
    rec = recorder(writer, tmp_path)
    chain_id = rec.start_chain("T1", "v")
    for code in codes:
        command = "no-such-exe-xyz" if code == "missing" else f"{EXIT} {code}"
        rec.assert_custom("T1", "x", str(code), command)
    result = rec.end_chain(chain_id)
    assert result.overall_result == overall
    assert result.pass_count == sum(1 for x in codes if x == 0)
    assert result.skip_count == sum(1 for x in codes if x == "missing")


def test_assertion_outside_a_chain_goes_on_the_task_span(traced, writer, tmp_path):
    rec = recorder(writer, tmp_path)
    writer.write({"entry_type": "task_start", "task_id": "T1"})
    result = rec.assert_custom("T1", "x", "ok", f"{EXIT} 0")
    writer.write({"entry_type": "task_end", "task_id": "T1"})
    writer.close()
    assert result.chain_id is None
    [(span, attrs)] = assertion_events(traced)
    assert span is traced.one(c.KIND_TASK)
    assert c.CHAIN_ID not in attrs


def test_end_chain_twice_returns_the_same_verdict_and_unknown_raises(writer, tmp_path):
    rec = recorder(writer, tmp_path)
    chain_id = rec.start_chain("T1", "v")
    first = rec.end_chain(chain_id)
    assert rec.end_chain(chain_id) == first
    with pytest.raises(ValueError, match="'nope'"):
        rec.end_chain("nope")


def test_close_ends_an_open_chain_with_its_verdict(traced, writer, tmp_path):
    rec = recorder(writer, tmp_path)
    chain_id = rec.start_chain("T1", "v")
    rec.assert_custom("T1", "x", "ok", f"{EXIT} 0")
    writer.close()
    chain = traced.one(c.KIND_CHAIN)
    assert chain.attributes[c.CLOSED_BY] == "close"
    assert chain.attributes[c.CHAIN_OVERALL_RESULT] == "pass"
    assert rec.end_chain(chain_id).overall_result == "pass"


def test_file_assertions_against_watched_snapshots(writer, tmp_path):
    rec = recorder(writer, tmp_path)
    (tmp_path / "keep.ts").write_text("old")
    (tmp_path / "doomed.ts").write_text("x")
    chain_id = rec.start_chain("T1", "files", watch=["new.ts", "keep.ts", "doomed.ts"])
    (tmp_path / "new.ts").write_text("fresh")
    (tmp_path / "doomed.ts").unlink()
    created = rec.assert_file_created("T1", "new.ts")
    not_created = rec.assert_file_created("T1", "keep.ts")
    unchanged = rec.assert_file_modified("T1", "keep.ts")
    deleted = rec.assert_file_deleted("T1", "doomed.ts")
    rec.end_chain(chain_id)
    assert created.result == "pass" and created.evidence["basis"] == "snapshot"
    assert created.evidence["file_path"] == str(tmp_path / "new.ts")
    assert not_created.result == "fail"
    assert unchanged.result == "fail" and unchanged.evidence["baseline"]["exists"]
    assert deleted.result == "pass" and deleted.evidence["baseline"]["exists"]
    assert [r.category for r in (created, unchanged, deleted)] == [
        "file_created",
        "file_modified",
        "file_deleted",
    ]


def test_the_tasks_declared_file_is_snapshotted_at_task_start(writer, tmp_path):
    target = tmp_path / "api.ts"
    target.write_text("v1")
    rec = recorder(writer, tmp_path)
    with writer.task("T1", "update api", action="UPDATE", file=str(target)):
        target.write_text("v2, longer")  # changed before the chain starts
        chain_id = rec.start_chain("T1", "after")
        modified = rec.assert_file_modified("T1", str(target))
        rec.end_chain(chain_id)
    assert modified.result == "pass" and modified.evidence["basis"] == "snapshot"
    assert modified.evidence["baseline"]["size"] == len("v1")


def test_unwatched_file_is_judged_by_mtime_against_the_chain_start(writer, tmp_path):
    rec = recorder(writer, tmp_path)
    stale = tmp_path / "stale.ts"
    stale.write_text("x")
    t = time.time() - 3600
    os.utime(stale, (t, t))
    chain_id = rec.start_chain("T1", "v")
    (tmp_path / "made.ts").write_text("y")
    made = rec.assert_file_created("T1", "made.ts")
    stale_result = rec.assert_file_created("T1", "stale.ts")
    rec.end_chain(chain_id)
    assert made.result == "pass" and made.evidence["basis"] == "mtime"
    assert stale_result.result == "fail"


def test_commands_are_configurable_with_placeholders(writer, tmp_path):
    echo = f"{PY} -c 'import sys, os; print(os.getcwd(), *sys.argv[1:])'"
    rec = recorder(
        writer,
        tmp_path,
        commands={
            "typescript": echo + " tsc",
            "lint": echo + " {file}",
            "tests": echo + " {pattern}",
        },
    )
    ts = rec.assert_typescript_compiles("T1")
    lint = rec.assert_lint_passes("T1", "src/a b.ts")
    tests = rec.assert_tests_pass("T1", "api")
    assert [r.result for r in (ts, lint, tests)] == ["pass"] * 3
    assert [r.category for r in (ts, lint, tests)] == [
        "typescript_compiles",
        "lint_passes",
        "tests_pass",
    ]
    assert ts.evidence["stdout_tail"].strip() == f"{tmp_path} tsc"
    assert lint.evidence["command"][-1] == "src/a b.ts"
    assert tests.evidence["stdout_tail"].strip() == f"{tmp_path} api"


def test_default_commands_and_unknown_names(writer, tmp_path):
    rec = recorder(writer, tmp_path)
    assert rec.commands["typescript"] == "npx tsc --noEmit"
    assert rec.commands["lint"] == "npx eslint {file}"
    assert rec.commands["tests"] == "npm test -- {pattern}"
    with pytest.raises(ValueError, match="'compile'.*typescript, lint, tests"):
        recorder(writer, tmp_path, commands={"compile": "make"})


def test_missing_toolchain_skips_and_timeout_fails(writer, tmp_path):
    rec = recorder(writer, tmp_path, commands={"typescript": "no-such-tsc-xyz"}, timeout_s=0.3)
    skipped = rec.assert_typescript_compiles("T1")
    assert skipped.result == "skip" and "no-such-tsc-xyz" in skipped.evidence["error"]
    started = time.monotonic()
    timed_out = rec.assert_custom("T1", "slow", "sleeps", "sleep 20")
    assert time.monotonic() - started < 5
    assert timed_out.result == "fail" and timed_out.evidence["timed_out"] is True


def test_api_responds(writer, tmp_path):
    rec = recorder(writer, tmp_path)
    with StatusServer() as server:
        ok = rec.assert_api_responds("T1", server.url + "/status/201", expected_status=201)
        wrong = rec.assert_api_responds("T1", server.url + "/status/503")
        slow = rec.assert_api_responds("T1", server.url + "/slow/2", timeout_s=0.2)
    assert (ok.result, ok.evidence["status"]) == ("pass", 201)
    assert (wrong.result, wrong.evidence["status"]) == ("fail", 503)
    assert slow.result == "fail" and "no response" in slow.evidence["error"]
    assert ok.category == "api_responds"
    with pytest.raises(ValueError, match="file:///etc"):
        rec.assert_api_responds("T1", "file:///etc/passwd")


def test_schema_valid(writer, tmp_path):
    rec = recorder(writer, tmp_path)
    schema = {"type": "object", "required": ["id"]}
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    (tmp_path / "good.json").write_text('{"id": 1}')
    (tmp_path / "bad.json").write_text("{}")
    assert rec.assert_schema_valid("T1", "good.json", "schema.json").result == "pass"
    bad = rec.assert_schema_valid("T1", "bad.json", schema)
    assert bad.result == "fail" and bad.category == "schema_valid"
    with pytest.raises(ValueError, match="not a valid JSON Schema"):
        rec.assert_schema_valid("T1", "good.json", {"type": 12})


def test_dependency_met_from_tasks_this_writer_ended(writer, tmp_path):
    rec = recorder(writer, tmp_path)
    with writer.task("A"):
        pass
    writer.write({"entry_type": "task_start", "task_id": "B"})
    writer.write({"entry_type": "task_end", "task_id": "B", "details": {"status": "blocked"}})
    with writer.task("C"):
        met = rec.assert_dependency_met("C", "A")
        blocked = rec.assert_dependency_met("C", "B")
        unknown = rec.assert_dependency_met("C", "Z")
    assert met.result == "pass" and met.category == "dependency_met"
    assert blocked.result == "fail" and "'blocked'" in blocked.evidence["error"]
    assert unknown.result == "fail"


def test_bad_arguments_raise(writer, tmp_path):
    rec = recorder(writer, tmp_path)
    with pytest.raises(ValueError, match="category"):
        rec.assert_custom("T1", "", "d", "true")
    with pytest.raises(ValueError, match="task_id"):
        rec.assert_custom("", "x", "d", "true")
    with pytest.raises(ValueError, match="timeout_s"):
        recorder(writer, tmp_path, timeout_s=0)
