"""The store's writer on a real PostgreSQL server keeps the SQLite writer's promises.

Several processes on one execution (with batches rolled back by the server),
a server restart in the middle of a run, the server down when the agent
starts, values PostgreSQL cannot hold, re-delivery, and receivers migrating
one new database at once.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pg_cluster
import psycopg
import pytest
from worker_support import start_sequence_workers

from otel_obs import ToolUseLogger, TranscriptEntry, TranscriptWriter
from otel_obs.config import close_private_pipelines
from otel_obs.exporters.engines.postgres import POSTGRES, schema_version
from otel_obs.exporters.jsonl import transcript_path
from otel_obs.exporters.schema import SCHEMA_VERSION
from otel_obs.store_location import parse_server_url

WRITERS = pytest.mark.parametrize("writer", ["thread", "process"])


def rows(url: str, sql: str, *params: object) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params or None).fetchall()


def create_schema(url: str) -> None:
    POSTGRES.open_writer(parse_server_url(url), busy_timeout_ms=10_000, dedicated=False).close()


def start_workers(
    url: str, tmp_path: Path, writer: str, workers: list[str], n: int, pause_s: float = 0.02
):
    env = {
        "OTEL_OBS_WRITER": writer,
        "STORE_WORKER_PAUSE_S": str(pause_s),
        "OTEL_OBS_FLUSH_INTERVAL_MS": "20",
    }
    return start_sequence_workers(url, tmp_path, "exec-pg", workers, n, env)


def assert_complete_and_gap_free(url: str, workers: list[str], n: int) -> None:
    found = rows(
        url,
        "SELECT sequence, entry_type, instance_id, summary FROM transcript_entries"
        " WHERE execution_id = 'exec-pg' ORDER BY sequence",
    )
    expected = len(workers) * (2 + 2 * n)  # task_start, n decisions, n tool uses, task_end
    assert [r[0] for r in found] == list(range(1, expected + 1))
    for name in workers:
        decisions = [r[3] for r in found if r[2] == name and r[1] == "decision"]
        assert decisions == [f"{name}:{i}" for i in range(n)]
    tools = rows(url, "SELECT count(*) FROM tool_uses WHERE execution_id = 'exec-pg'")
    assert tools == [(len(workers) * n,)]


@WRITERS
def test_four_processes_on_one_execution_get_gap_free_sequences_despite_rollbacks(
    pg_url: str, tmp_path: Path, writer: str
):
    """The server rolls back one batch in seven (a serialization failure raised by a
    trigger on the counter rows): those batches are kept and written again, and the
    numbers stay 1..n with no gap and no duplicate."""
    create_schema(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE counter_updates")
        conn.execute("CREATE SEQUENCE injected_faults")
        conn.execute(
            """CREATE FUNCTION inject_fault() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF nextval('counter_updates') % 7 = 3 THEN
                    PERFORM nextval('injected_faults');
                    RAISE EXCEPTION 'injected fault' USING ERRCODE = '40001';
                END IF;
                RETURN NULL;
            END $$"""
        )
        conn.execute(
            "CREATE TRIGGER inject_fault BEFORE UPDATE ON entry_counters"
            " FOR EACH STATEMENT EXECUTE FUNCTION inject_fault()"
        )
        # Each batch holds its transaction a while after taking its numbers, so the
        # writers' transactions overlap (numbers taken without the lock would collide).
        conn.execute(
            """CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_sleep(0.01); RETURN NULL; END $$"""
        )
        conn.execute(
            "CREATE TRIGGER slow_insert AFTER INSERT ON transcript_entries"
            " FOR EACH STATEMENT EXECUTE FUNCTION slow_insert()"
        )
    workers, n = [f"w{k}" for k in range(4)], 150
    # As fast as they can go, with small batches: the writers' transactions overlap.
    for proc in start_workers(pg_url, tmp_path, writer, workers, n, pause_s=0.002):
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    assert_complete_and_gap_free(pg_url, workers, n)
    injected = rows(pg_url, "SELECT last_value, is_called FROM injected_faults")[0]
    assert injected[1] and injected[0] >= 1, "no batch was rolled back: the test proves nothing"


@WRITERS
def test_a_server_restart_during_a_run_loses_nothing(
    pg_server, pg_url: str, tmp_path: Path, writer: str
):
    _, folder = pg_server
    if not folder:
        pytest.skip("the server was given from outside (no folder to restart it from)")
    workers, n = ["w0", "w1"], 60
    procs = start_workers(pg_url, tmp_path, writer, workers, n)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # restart once the run is under way
        try:
            if rows(pg_url, "SELECT count(*) FROM transcript_entries")[0][0] >= 10:
                break
        except psycopg.Error:
            pass
        time.sleep(0.05)
    pg_cluster.restart(Path(folder))
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err.decode()
    assert_complete_and_gap_free(pg_url, workers, n)


@WRITERS
def test_the_server_down_when_the_agent_starts_costs_the_agent_nothing(
    tmp_path: Path, writer: str, monkeypatch
):
    """Nothing listens: the producers do not raise, the batches wait out the retry window,
    then their rows are counted as dropped; the transcript still reaches JSONL."""
    monkeypatch.setenv("OTEL_OBS_WRITER", writer)
    monkeypatch.setenv("OTEL_OBS_RETRY_WINDOW_MS", "1500")
    port = pg_cluster._free_port()
    url = f"postgresql://someone:secret-pw@127.0.0.1:{port}/nowhere"
    agent = TranscriptWriter("exec-down", "agent", db_path=url, transcripts_dir=tmp_path / "t")
    log = ToolUseLogger(agent)
    for i in range(5):
        tool = log.log_start({"id": f"t{i}", "name": "Bash", "input": {"command": "ls"}})
        log.log_end(tool, {"tool_use_id": tool, "content": "ok", "is_error": False})
    started = time.monotonic()
    agent.close()
    stats = agent.pipeline.store.stats()
    close_private_pipelines()
    assert time.monotonic() - started < 30
    assert stats["dropped_rows"] > 0, stats
    assert stats["failures_by_kind"].get("unavailable", 0) >= 1, stats
    lines = transcript_path(tmp_path / "t", "exec-down").read_text().splitlines()
    assert len(lines) >= 5


@WRITERS
def test_values_postgresql_cannot_hold_are_made_safe_and_others_keep_their_rows(
    pg_url: str, tmp_path: Path, writer: str, monkeypatch
):
    monkeypatch.setenv("OTEL_OBS_WRITER", writer)
    transcripts = tmp_path / "t"
    bad = TranscriptWriter(
        "exec-bad", "agent-bad", wave_number=2**70, db_path=pg_url, transcripts_dir=transcripts
    )
    good = TranscriptWriter("exec-good", "agent-good", db_path=pg_url, transcripts_dir=transcripts)
    bad.write(TranscriptEntry(entry_type="discovery", summary="huge", token_estimate=2**70))
    bad.write(TranscriptEntry(entry_type="discovery", summary="nul \x00 inside"))
    log = ToolUseLogger(bad)
    for i in range(3):
        tool = log.log_start({"id": f"bad-{i}", "name": "Bash", "input": {"c": "lone \ud800"}})
        log.log_end(tool, {"tool_use_id": tool, "content": "nul \x00 out", "is_error": False})
    good_log = ToolUseLogger(good)
    for i in range(50):
        tool = good_log.log_start({"id": f"good-{i}", "name": "Bash", "input": {"c": "x"}})
        good_log.log_end(tool, {"tool_use_id": tool, "content": "ok", "is_error": False})
    bad.close()
    good.close()
    stats = bad.pipeline.store.stats()
    close_private_pipelines()
    count = "SELECT count(*) FROM {} WHERE execution_id = %s"
    assert rows(pg_url, count.format("tool_uses"), "exec-good") == [(50,)], str(stats)
    assert rows(pg_url, count.format("tool_uses"), "exec-bad") == [(3,)]
    summaries = [r[0] for r in rows(pg_url, "SELECT summary FROM transcript_entries")]
    assert "huge" in summaries
    assert not any("\x00" in s for s in summaries)
    # The wave number beyond 64 bits could not be held: the largest 64-bit one, counted.
    waves = rows(
        pg_url,
        "SELECT DISTINCT wave_number FROM build_agent_instances WHERE execution_id = 'exec-bad'",
    )
    assert waves == [(2**63 - 1,)]
    assert stats["dropped_rows"] == 0 and stats["values_made_safe"] > 0, stats


def test_several_receivers_starting_at_once_migrate_once(pg_url: str):
    location = parse_server_url(pg_url)
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def open_one() -> None:
        try:
            barrier.wait()
            POSTGRES.open_writer(location, busy_timeout_ms=10_000, dedicated=False).close()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with psycopg.connect(pg_url) as conn:
        assert schema_version(conn) == SCHEMA_VERSION
        assert conn.execute("SELECT count(*) FROM otel_obs_schema").fetchone() == (1,)


def test_a_claimed_execution_number_is_held_until_the_claiming_batch_ends(pg_url: str):
    """Two writers claiming one execution's numbers: the second waits for the first's
    commit and continues from the number it saved (never from a stale max)."""
    location = parse_server_url(pg_url)
    first = POSTGRES.open_writer(location, busy_timeout_ms=10_000, dedicated=False)
    second = POSTGRES.open_writer(location, busy_timeout_ms=10_000, dedicated=False)
    try:
        first.execute("BEGIN")  # an earlier batch: the counter row exists
        POSTGRES.claim_sequences(first, ["exec-a"])
        POSTGRES.save_sequences(first, {"exec-a": 3})
        first.execute("COMMIT")
        first.execute("BEGIN")
        assert POSTGRES.claim_sequences(first, ["exec-a"]) == {"exec-a": 3}
        got: dict[str, int] = {}

        def claim_second() -> None:
            second.execute("BEGIN")
            got.update(POSTGRES.claim_sequences(second, ["exec-a"]))
            second.execute("ROLLBACK")

        waiter = threading.Thread(target=claim_second)
        waiter.start()
        waiter.join(0.5)
        assert waiter.is_alive() and got == {}, "the second writer took a number meanwhile"
        POSTGRES.save_sequences(first, {"exec-a": 7})
        first.execute("COMMIT")
        waiter.join(10)
        assert got == {"exec-a": 7}
    finally:
        first.close()
        second.close()


def test_rows_another_writer_stores_while_a_group_is_copied_are_merged_not_lost(pg_url: str):
    """A large group is copied straight into its table when the keys are new. A key
    another writer commits after the look-up makes the copy fail: the group is then
    upserted instead, merged with that row by the rules (an end fills the start)."""
    from otel_obs.exporters.mapping.rows import END, START

    location = parse_server_url(pg_url)
    writer = POSTGRES.open_writer(location, busy_timeout_ms=10_000, dedicated=False)
    other = POSTGRES.open_writer(location, busy_timeout_ms=10_000, dedicated=False)
    head = ("id", "execution_id", "tool", "tool_category", "start_time")
    start_columns = (*head, "input_summary")
    end_columns = (*head, "result_status", "duration_ms")
    at = "2026-01-01T00:00:00Z"
    ends = [(f"tool-{n}", "exec-a", "Bash", "shell", at, "success", n) for n in range(40)]
    try:
        POSTGRES.begin(other)  # a start of tool-7, not committed yet: the look-up misses it
        other.executemany(
            POSTGRES.upsert_sql("tool_uses", START, start_columns, True),
            [("tool-7", "exec-a", "Bash", "shell", at, "ls -la")],
        )
        failure: list[BaseException] = []

        def write_ends() -> None:
            try:
                POSTGRES.begin(writer)
                POSTGRES.write_rows(
                    writer, POSTGRES.upsert_sql("tool_uses", END, end_columns, True), ends
                )
                writer.execute("COMMIT")
            except BaseException as exc:  # noqa: BLE001 - reported below
                failure.append(exc)

        copying = threading.Thread(target=write_ends)
        copying.start()
        copying.join(0.5)
        assert copying.is_alive(), "the copy did not wait for the other writer's key"
        other.execute("COMMIT")
        copying.join(10)
        assert not failure, failure
    finally:
        writer.close()
        other.close()
    got = rows(
        pg_url,
        "SELECT id, tool, input_summary, result_status, duration_ms FROM tool_uses ORDER BY id",
    )
    assert len(got) == 40
    assert ("tool-7", "Bash", "ls -la", "success", 7) in got
    assert all(r[3] == "success" for r in got)


def test_looking_up_a_group_s_keys_probes_the_primary_key_on_a_table_never_analyzed(pg_url: str):
    """A large group's keys are looked up in its table before the copy. On a table the
    server has no statistics of yet (a new store under its first load), a filter of every
    row against every key would cost each batch its size times the table's; each key must
    be one probe of the primary key."""
    import json

    from otel_obs.exporters.engines.postgres import stored_keys_sql

    create_schema(pg_url)
    columns = "id, execution_id, task_id, file_path, operation, timestamp"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE task_file_impacts SET (autovacuum_enabled = false)")
        with conn.cursor() as cur:
            with cur.copy(f"COPY task_file_impacts ({columns}) FROM STDIN") as copy:
                for n in range(7000):
                    copy.write_row((f"tool:{n}", "exec-a", "T1", f"f{n}", "READ", "2026-01-01"))
        keys = json.dumps([["exec-a", f"tool:{n}"] for n in range(7000, 14000)])
        sql = stored_keys_sql("task_file_impacts", ("execution_id", "id"))
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, (keys,)))
    assert "Hash" not in plan and "Seq Scan" not in plan, plan
    probe = [line for line in plan.splitlines() if "on task_file_impacts" in line]
    assert len(probe) == 1 and "_pkey" in probe[0], plan
    assert "Filter" not in plan, plan


def test_keys_postgresql_cannot_hold_in_a_large_group_are_made_safe_not_lost(
    pg_url: str, tmp_path: Path, monkeypatch
):
    """A group large enough to be copied (its keys looked up first) whose ids held a NUL
    or a lone surrogate (made U+FFFD on the agent's side, as every text), beside another
    agent's tool uses: every row stored under its own id, nothing dropped."""
    monkeypatch.setenv("OTEL_OBS_WRITER", "thread")
    monkeypatch.setenv("OTEL_OBS_FLUSH_INTERVAL_MS", "60000")  # one batch, at close
    transcripts = tmp_path / "t"
    bad = TranscriptWriter("exec-bad", "agent-bad", db_path=pg_url, transcripts_dir=transcripts)
    good = TranscriptWriter("exec-good", "agent-good", db_path=pg_url, transcripts_dir=transcripts)
    bad_log, good_log = ToolUseLogger(bad), ToolUseLogger(good)
    for i in range(40):
        odd = "\x00" if i % 2 else "\ud800"
        tool = bad_log.log_start({"id": f"bad{odd}{i}", "name": "Bash", "input": {"c": "x"}})
        bad_log.log_end(tool, {"tool_use_id": tool, "content": "ok", "is_error": False})
        tool = good_log.log_start({"id": f"good-{i}", "name": "Bash", "input": {"c": "x"}})
        good_log.log_end(tool, {"tool_use_id": tool, "content": "ok", "is_error": False})
    bad.close()
    good.close()
    stats = bad.pipeline.store.stats()
    close_private_pipelines()
    ids = [r[0] for r in rows(pg_url, "SELECT id FROM tool_uses WHERE execution_id = 'exec-bad'")]
    assert len(ids) == 40 and len(set(ids)) == 40, ids
    assert all("\ufffd" in i and "\x00" not in i for i in ids), ids
    good_ids = rows(pg_url, "SELECT count(*) FROM tool_uses WHERE execution_id = 'exec-good'")
    assert good_ids == [(40,)]
    assert stats["dropped_rows"] == 0 and stats["failures"] == 0, stats
