"""The SQLite schema of the store, as numbered migrations.

``PRAGMA user_version`` records how many migrations a database has had, so an
old store is brought forward in place and a newer one is never touched by an
older library. Every timestamp is ISO-8601 UTC with microseconds and a ``Z``
(``2026-01-02T03:04:05.123456Z``): one format, so ``julianday()`` compares it
as a time value and text order equals time order. Durations are milliseconds.

Tables come in two groups: the spec's six (``transcript_entries``,
``tool_uses``, ``skill_traces``, ``assertion_results``, ``assertion_chains``,
``message_bus_log``) and the ones the SQL tools read about executions, tasks,
waves and agents. All are filled from spans by the mapping; none is written by
hand.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

MIGRATIONS: Sequence[str] = (
    # 1: the whole first schema
    """
    CREATE TABLE task_list_execution_runs (
        id              TEXT PRIMARY KEY,          -- the execution id
        task_list_id    TEXT,
        status          TEXT NOT NULL DEFAULT 'running',  -- running / completed / failed
        started_at      TEXT NOT NULL,
        completed_at    TEXT,
        trace_id        TEXT,
        service_name    TEXT,
        error           TEXT
    );
    CREATE INDEX idx_runs_task_list ON task_list_execution_runs(task_list_id, started_at);

    CREATE TABLE transcript_entries (
        id              TEXT PRIMARY KEY,
        execution_id    TEXT NOT NULL,
        sequence        INTEGER NOT NULL,          -- 1..n per execution, handed out by the store
        timestamp       TEXT NOT NULL,
        instance_id     TEXT,
        wave_number     INTEGER,
        task_id         TEXT,
        entry_type      TEXT NOT NULL,
        category        TEXT NOT NULL,
        summary         TEXT NOT NULL DEFAULT '',
        details         TEXT,                      -- JSON object
        skill_ref       TEXT,                      -- JSON object
        skill_trace_id  TEXT,                      -- enclosing skill, if any
        tool_use_id     TEXT,                      -- for entry_type tool_use
        duration_ms     REAL,
        token_estimate  INTEGER,
        trace_id        TEXT,
        span_id         TEXT,
        UNIQUE (execution_id, sequence)
    );
    CREATE INDEX idx_entries_exec_type ON transcript_entries(execution_id, entry_type, sequence);
    CREATE INDEX idx_entries_exec_time ON transcript_entries(execution_id, timestamp);
    CREATE INDEX idx_entries_task ON transcript_entries(task_id, execution_id, sequence);

    CREATE TABLE tool_uses (
        id                   TEXT PRIMARY KEY,     -- the tool_use block id
        execution_id         TEXT NOT NULL,
        transcript_entry_id  TEXT,                 -- the tool_use transcript entry
        instance_id          TEXT,
        wave_number          INTEGER,
        task_id              TEXT,
        tool                 TEXT NOT NULL,
        tool_category        TEXT NOT NULL,
        input                TEXT,                 -- JSON, redacted and capped
        input_summary        TEXT,
        output               TEXT,
        output_summary       TEXT,
        result_status        TEXT,                 -- NULL while running; done / error / blocked
        is_error             INTEGER NOT NULL DEFAULT 0,
        is_blocked           INTEGER NOT NULL DEFAULT 0,
        block_reason         TEXT,
        error_message        TEXT,
        file_path            TEXT,
        within_skill         TEXT,                 -- skill trace id
        start_time           TEXT NOT NULL,
        end_time             TEXT,
        duration_ms          REAL,
        trace_id             TEXT,
        span_id              TEXT
    );
    CREATE INDEX idx_tool_uses_exec_tool ON tool_uses(execution_id, tool, duration_ms);
    CREATE INDEX idx_tool_uses_exec_status ON tool_uses(execution_id, result_status);
    CREATE INDEX idx_tool_uses_exec_time ON tool_uses(execution_id, start_time);
    CREATE INDEX idx_tool_uses_task ON tool_uses(task_id, execution_id);
    CREATE INDEX idx_tool_uses_entry ON tool_uses(transcript_entry_id);
    -- the tool uses of a skill trace (its tool_use_count is recounted per batch)
    CREATE INDEX idx_tool_uses_skill ON tool_uses(within_skill);

    CREATE TABLE skill_traces (
        id               TEXT PRIMARY KEY,         -- the id trace_start returned
        execution_id     TEXT NOT NULL,
        instance_id      TEXT,
        task_id          TEXT,
        skill_name       TEXT NOT NULL,
        skill_file       TEXT,
        line_number      INTEGER,
        section_title    TEXT,
        parent_trace_id  TEXT,                     -- the enclosing skill (sub-skill)
        status           TEXT,                     -- NULL while running; success / partial / failed
        error            TEXT,
        start_time       TEXT NOT NULL,
        end_time         TEXT,
        duration_ms      REAL,
        tool_use_count   INTEGER NOT NULL DEFAULT 0,
        trace_id         TEXT,
        span_id          TEXT
    );
    CREATE INDEX idx_skill_traces_exec ON skill_traces(execution_id, skill_name);

    CREATE TABLE assertion_chains (
        id                TEXT PRIMARY KEY,
        execution_id      TEXT NOT NULL,
        task_id           TEXT,
        instance_id       TEXT,
        description       TEXT NOT NULL DEFAULT '',
        overall_result    TEXT,                    -- NULL while open; pass / fail / partial / skip
        pass_count        INTEGER NOT NULL DEFAULT 0,
        fail_count        INTEGER NOT NULL DEFAULT 0,
        skip_count        INTEGER NOT NULL DEFAULT 0,
        first_failure_id  TEXT,
        start_time        TEXT NOT NULL,
        end_time          TEXT,
        duration_ms       REAL,
        trace_id          TEXT,
        span_id           TEXT
    );
    CREATE INDEX idx_chains_exec ON assertion_chains(execution_id, task_id);

    CREATE TABLE assertion_results (
        id                   TEXT PRIMARY KEY,
        execution_id         TEXT NOT NULL,
        task_id              TEXT,
        chain_id             TEXT,
        instance_id          TEXT,
        category             TEXT NOT NULL,
        description          TEXT NOT NULL DEFAULT '',
        result               TEXT NOT NULL,        -- pass / fail / skip / warn
        evidence             TEXT,                 -- JSON object
        tool_use_id          TEXT,                 -- supporting tool use, if known
        transcript_entry_id  TEXT,
        timestamp            TEXT NOT NULL,
        duration_ms          REAL
    );
    CREATE INDEX idx_assertions_exec ON assertion_results(execution_id, category, result);
    CREATE INDEX idx_assertions_chain ON assertion_results(chain_id);
    CREATE INDEX idx_assertions_task ON assertion_results(task_id, category, description);
    -- the assertion an entry records (task paths, first-error context)
    CREATE INDEX idx_assertions_entry ON assertion_results(transcript_entry_id);

    CREATE TABLE message_bus_log (
        id              TEXT PRIMARY KEY,          -- the transcript entry id it mirrors
        execution_id    TEXT NOT NULL,
        event_type      TEXT NOT NULL,             -- the entry type
        source          TEXT,                      -- instance id
        task_id         TEXT,
        correlation_id  TEXT,
        payload         TEXT,                      -- JSON (the entry details)
        timestamp       TEXT NOT NULL
    );
    CREATE INDEX idx_bus_correlation ON message_bus_log(correlation_id, timestamp);
    CREATE INDEX idx_bus_exec ON message_bus_log(execution_id, event_type);

    CREATE TABLE tasks (
        id              TEXT NOT NULL,
        execution_id    TEXT NOT NULL,
        title           TEXT,
        action          TEXT,                      -- CREATE / UPDATE / DELETE / READ
        file            TEXT,
        status          TEXT NOT NULL DEFAULT 'pending',
        instance_id     TEXT,
        wave_number     INTEGER,
        started_at      TEXT,
        completed_at    TEXT,
        duration_ms     REAL,
        error           TEXT,
        trace_id        TEXT,
        span_id         TEXT,
        PRIMARY KEY (execution_id, id)
    );
    CREATE INDEX idx_tasks_id ON tasks(id, started_at);
    CREATE INDEX idx_tasks_wave ON tasks(execution_id, wave_number, status);

    CREATE TABLE task_relationships (
        execution_id       TEXT NOT NULL,
        source_task_id     TEXT NOT NULL,          -- the task that depends ...
        target_task_id     TEXT NOT NULL,          -- ... on this one
        relationship_type  TEXT NOT NULL DEFAULT 'depends_on',
        PRIMARY KEY (execution_id, source_task_id, target_task_id, relationship_type)
    );
    CREATE INDEX idx_relationships_target ON task_relationships(execution_id, target_task_id);

    CREATE TABLE task_file_impacts (
        id            TEXT PRIMARY KEY,            -- the tool use id, or 'task:<exec>:<task>'
        execution_id  TEXT NOT NULL,
        task_id       TEXT,
        file_path     TEXT NOT NULL,
        operation     TEXT NOT NULL,               -- READ / CREATE / UPDATE / DELETE
        tool_use_id   TEXT,                        -- NULL when declared by the task itself
        instance_id   TEXT,
        wave_number   INTEGER,
        timestamp     TEXT NOT NULL
    );
    CREATE INDEX idx_impacts_exec_file ON task_file_impacts(execution_id, file_path, operation);
    CREATE INDEX idx_impacts_task ON task_file_impacts(execution_id, task_id);

    CREATE TABLE parallel_execution_waves (
        execution_id   TEXT NOT NULL,
        wave_number    INTEGER NOT NULL,
        status         TEXT NOT NULL DEFAULT 'running',   -- running / completed
        task_count     INTEGER NOT NULL DEFAULT 0,        -- kept equal to its assignments
        started_at     TEXT NOT NULL,
        completed_at   TEXT,
        trace_id       TEXT,
        span_id        TEXT,
        PRIMARY KEY (execution_id, wave_number)
    );

    CREATE TABLE wave_task_assignments (
        execution_id  TEXT NOT NULL,
        wave_number   INTEGER NOT NULL,
        task_id       TEXT NOT NULL,
        instance_id   TEXT,
        assigned_at   TEXT NOT NULL,
        PRIMARY KEY (execution_id, wave_number, task_id)
    );

    CREATE TABLE build_agent_instances (
        id                 TEXT NOT NULL,          -- the instance id
        execution_id       TEXT NOT NULL,
        wave_number        INTEGER,
        pid                INTEGER,
        hostname           TEXT,
        status             TEXT NOT NULL DEFAULT 'executing',
        current_task_id    TEXT,
        spawned_at         TEXT NOT NULL,
        last_heartbeat_at  TEXT NOT NULL,          -- last activity seen from the instance
        terminated_at      TEXT,
        error              TEXT,
        trace_id           TEXT,
        span_id            TEXT,
        PRIMARY KEY (execution_id, id)
    );
    CREATE INDEX idx_agents_status ON build_agent_instances(execution_id, status);

    CREATE TABLE wave_statistics (
        execution_id     TEXT NOT NULL,
        wave_number      INTEGER NOT NULL,
        task_count       INTEGER NOT NULL DEFAULT 0,
        completed_count  INTEGER NOT NULL DEFAULT 0,
        failed_count     INTEGER NOT NULL DEFAULT 0,
        blocked_count    INTEGER NOT NULL DEFAULT 0,
        agent_count      INTEGER NOT NULL DEFAULT 0,
        started_at       TEXT,
        completed_at     TEXT,
        duration_ms      REAL,
        mean_task_ms     REAL,
        PRIMARY KEY (execution_id, wave_number)
    );
    """,
    # 2: a tool-call id is unique only within its execution (replays, frameworks that
    # number calls call_0, call_1, ...): tool uses are keyed per execution.
    """
    CREATE TABLE tool_uses_v2 (
        id                   TEXT NOT NULL,        -- the tool_use block id (unique per execution)
        execution_id         TEXT NOT NULL,
        transcript_entry_id  TEXT,                 -- the tool_use transcript entry
        instance_id          TEXT,
        wave_number          INTEGER,
        task_id              TEXT,
        tool                 TEXT NOT NULL,
        tool_category        TEXT NOT NULL,
        input                TEXT,                 -- JSON, redacted and capped
        input_summary        TEXT,
        output               TEXT,
        output_summary       TEXT,
        result_status        TEXT,                 -- NULL while running; done / error / blocked
        is_error             INTEGER NOT NULL DEFAULT 0,
        is_blocked           INTEGER NOT NULL DEFAULT 0,
        block_reason         TEXT,
        error_message        TEXT,
        file_path            TEXT,
        within_skill         TEXT,                 -- skill trace id
        start_time           TEXT NOT NULL,
        end_time             TEXT,
        duration_ms          REAL,
        trace_id             TEXT,
        span_id              TEXT,
        PRIMARY KEY (execution_id, id)
    );
    INSERT INTO tool_uses_v2 SELECT * FROM tool_uses;
    DROP TABLE tool_uses;
    ALTER TABLE tool_uses_v2 RENAME TO tool_uses;
    CREATE INDEX idx_tool_uses_exec_tool ON tool_uses(execution_id, tool, duration_ms);
    CREATE INDEX idx_tool_uses_exec_status ON tool_uses(execution_id, result_status);
    CREATE INDEX idx_tool_uses_exec_time ON tool_uses(execution_id, start_time);
    CREATE INDEX idx_tool_uses_task ON tool_uses(task_id, execution_id);
    CREATE INDEX idx_tool_uses_entry ON tool_uses(transcript_entry_id);
    -- the tool uses of a skill trace (its tool_use_count is recounted per batch)
    CREATE INDEX idx_tool_uses_skill ON tool_uses(within_skill);
    """,
    # 3: the lineage of spans of other instrumentations (exporters/lineage.py): each
    # span's decided place in its trace, the spans still waiting for their parent, and
    # the spans no source knows, counted by instrumentation scope and name.
    """
    CREATE TABLE span_links (
        trace_id       TEXT NOT NULL,
        span_id        TEXT NOT NULL,
        parent_span_id TEXT,
        kind           TEXT,                       -- tool / agent / NULL (any other span)
        execution_id   TEXT NOT NULL,
        instance_id    TEXT,
        task_id        TEXT,
        call_id        TEXT,
        PRIMARY KEY (trace_id, span_id)
    ) WITHOUT ROWID;
    CREATE TABLE pending_spans (
        trace_id       TEXT NOT NULL,
        span_id        TEXT NOT NULL,
        parent_span_id TEXT NOT NULL,
        record         TEXT NOT NULL,              -- the span, as JSON
        PRIMARY KEY (trace_id, span_id)
    ) WITHOUT ROWID;
    CREATE TABLE unmapped_spans (
        scope          TEXT NOT NULL,              -- instrumentation scope name
        name           TEXT NOT NULL,              -- span name
        span_count     INTEGER NOT NULL,
        first_seen_at  TEXT NOT NULL,
        last_seen_at   TEXT NOT NULL,
        PRIMARY KEY (scope, name)
    ) WITHOUT ROWID;
    """,
    # 4: the usage of language models: one row per model call (an LLM span of another
    # instrumentation) or per agent run that states its usage as a whole (the Claude
    # Agent SDK's session totals, an agent span's aggregated usage).
    """
    CREATE TABLE llm_calls (
        execution_id           TEXT NOT NULL,
        id                     TEXT NOT NULL,      -- the span id
        kind                   TEXT NOT NULL,      -- call / agent (a run's total)
        instance_id            TEXT,
        task_id                TEXT,
        model                  TEXT,
        provider               TEXT,
        input_tokens           INTEGER,            -- every input token, cached ones included
        output_tokens          INTEGER,
        cache_read_tokens      INTEGER,
        cache_creation_tokens  INTEGER,
        cost_usd               REAL,
        cost_source            TEXT,               -- reported / computed / NULL (unknown price)
        source                 TEXT,               -- the instrumentation (or 'otel-obs')
        start_time             TEXT NOT NULL,
        end_time               TEXT,
        duration_ms            REAL,
        trace_id               TEXT,
        span_id                TEXT,
        PRIMARY KEY (execution_id, id)
    );
    CREATE INDEX idx_llm_calls_instance ON llm_calls(execution_id, instance_id, start_time);
    CREATE INDEX idx_llm_calls_task ON llm_calls(execution_id, task_id);
    """,
    # 5: every row is keyed per execution (an id is unique only within its execution,
    # and no client can change or hide another execution's rows by reusing its ids):
    # entries, skill traces, chains, assertions, bus rows and file impacts are keyed by
    # (execution_id, id), and the indexes that follow a reference start with the execution.
    """
    CREATE TABLE transcript_entries_v5 (
        id              TEXT NOT NULL,             -- unique per execution
        execution_id    TEXT NOT NULL,
        sequence        INTEGER NOT NULL,          -- 1..n per execution, handed out by the store
        timestamp       TEXT NOT NULL,
        instance_id     TEXT,
        wave_number     INTEGER,
        task_id         TEXT,
        entry_type      TEXT NOT NULL,
        category        TEXT NOT NULL,
        summary         TEXT NOT NULL DEFAULT '',
        details         TEXT,                      -- JSON object
        skill_ref       TEXT,                      -- JSON object
        skill_trace_id  TEXT,                      -- enclosing skill, if any
        tool_use_id     TEXT,                      -- for entry_type tool_use
        duration_ms     REAL,
        token_estimate  INTEGER,
        trace_id        TEXT,
        span_id         TEXT,
        PRIMARY KEY (execution_id, id),
        UNIQUE (execution_id, sequence)
    );
    INSERT INTO transcript_entries_v5 SELECT * FROM transcript_entries;
    DROP TABLE transcript_entries;
    ALTER TABLE transcript_entries_v5 RENAME TO transcript_entries;
    CREATE INDEX idx_entries_exec_type ON transcript_entries(execution_id, entry_type, sequence);
    CREATE INDEX idx_entries_exec_time ON transcript_entries(execution_id, timestamp);
    CREATE INDEX idx_entries_task ON transcript_entries(task_id, execution_id, sequence);

    CREATE TABLE skill_traces_v5 (
        id               TEXT NOT NULL,            -- the id trace_start returned
        execution_id     TEXT NOT NULL,
        instance_id      TEXT,
        task_id          TEXT,
        skill_name       TEXT NOT NULL,
        skill_file       TEXT,
        line_number      INTEGER,
        section_title    TEXT,
        parent_trace_id  TEXT,                     -- the enclosing skill (sub-skill)
        status           TEXT,                     -- NULL while running; success / partial / failed
        error            TEXT,
        start_time       TEXT NOT NULL,
        end_time         TEXT,
        duration_ms      REAL,
        tool_use_count   INTEGER NOT NULL DEFAULT 0,
        trace_id         TEXT,
        span_id          TEXT,
        PRIMARY KEY (execution_id, id)
    );
    INSERT INTO skill_traces_v5 SELECT * FROM skill_traces;
    DROP TABLE skill_traces;
    ALTER TABLE skill_traces_v5 RENAME TO skill_traces;
    CREATE INDEX idx_skill_traces_exec ON skill_traces(execution_id, skill_name);

    CREATE TABLE assertion_chains_v5 (
        id                TEXT NOT NULL,
        execution_id      TEXT NOT NULL,
        task_id           TEXT,
        instance_id       TEXT,
        description       TEXT NOT NULL DEFAULT '',
        overall_result    TEXT,                    -- NULL while open; pass / fail / partial / skip
        pass_count        INTEGER NOT NULL DEFAULT 0,
        fail_count        INTEGER NOT NULL DEFAULT 0,
        skip_count        INTEGER NOT NULL DEFAULT 0,
        first_failure_id  TEXT,
        start_time        TEXT NOT NULL,
        end_time          TEXT,
        duration_ms       REAL,
        trace_id          TEXT,
        span_id           TEXT,
        PRIMARY KEY (execution_id, id)
    );
    INSERT INTO assertion_chains_v5 SELECT * FROM assertion_chains;
    DROP TABLE assertion_chains;
    ALTER TABLE assertion_chains_v5 RENAME TO assertion_chains;
    CREATE INDEX idx_chains_exec ON assertion_chains(execution_id, task_id);

    CREATE TABLE assertion_results_v5 (
        id                   TEXT NOT NULL,
        execution_id         TEXT NOT NULL,
        task_id              TEXT,
        chain_id             TEXT,
        instance_id          TEXT,
        category             TEXT NOT NULL,
        description          TEXT NOT NULL DEFAULT '',
        result               TEXT NOT NULL,        -- pass / fail / skip / warn
        evidence             TEXT,                 -- JSON object
        tool_use_id          TEXT,                 -- supporting tool use, if known
        transcript_entry_id  TEXT,
        timestamp            TEXT NOT NULL,
        duration_ms          REAL,
        PRIMARY KEY (execution_id, id)
    );
    INSERT INTO assertion_results_v5 SELECT * FROM assertion_results;
    DROP TABLE assertion_results;
    ALTER TABLE assertion_results_v5 RENAME TO assertion_results;
    CREATE INDEX idx_assertions_exec ON assertion_results(execution_id, category, result);
    CREATE INDEX idx_assertions_chain ON assertion_results(execution_id, chain_id);
    CREATE INDEX idx_assertions_task ON assertion_results(task_id, category, description);
    -- the assertion an entry records (task paths, first-error context)
    CREATE INDEX idx_assertions_entry ON assertion_results(execution_id, transcript_entry_id);

    CREATE TABLE message_bus_log_v5 (
        id              TEXT NOT NULL,             -- the transcript entry id it mirrors
        execution_id    TEXT NOT NULL,
        event_type      TEXT NOT NULL,             -- the entry type
        source          TEXT,                      -- instance id
        task_id         TEXT,
        correlation_id  TEXT,
        payload         TEXT,                      -- JSON (the entry details)
        timestamp       TEXT NOT NULL,
        PRIMARY KEY (execution_id, id)
    );
    INSERT INTO message_bus_log_v5 SELECT * FROM message_bus_log;
    DROP TABLE message_bus_log;
    ALTER TABLE message_bus_log_v5 RENAME TO message_bus_log;
    CREATE INDEX idx_bus_correlation ON message_bus_log(correlation_id, timestamp);
    CREATE INDEX idx_bus_exec ON message_bus_log(execution_id, event_type);

    CREATE TABLE task_file_impacts_v5 (
        id            TEXT NOT NULL,               -- 'tool:<exec>:<tool>' or 'task:<exec>:<task>'
        execution_id  TEXT NOT NULL,
        task_id       TEXT,
        file_path     TEXT NOT NULL,
        operation     TEXT NOT NULL,               -- READ / CREATE / UPDATE / DELETE
        tool_use_id   TEXT,                        -- NULL when declared by the task itself
        instance_id   TEXT,
        wave_number   INTEGER,
        timestamp     TEXT NOT NULL,
        PRIMARY KEY (execution_id, id)
    );
    INSERT INTO task_file_impacts_v5 SELECT * FROM task_file_impacts;
    DROP TABLE task_file_impacts;
    ALTER TABLE task_file_impacts_v5 RENAME TO task_file_impacts;
    CREATE INDEX idx_impacts_exec_file ON task_file_impacts(execution_id, file_path, operation);
    CREATE INDEX idx_impacts_task ON task_file_impacts(execution_id, task_id);

    DROP INDEX idx_tool_uses_skill;
    -- the tool uses of a skill trace (its tool_use_count is recounted per batch)
    CREATE INDEX idx_tool_uses_skill ON tool_uses(execution_id, within_skill);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)

#: Every table, in the order a reader would meet them.
TABLES: Sequence[str] = (
    "task_list_execution_runs",
    "transcript_entries",
    "tool_uses",
    "skill_traces",
    "assertion_chains",
    "assertion_results",
    "message_bus_log",
    "tasks",
    "task_relationships",
    "task_file_impacts",
    "parallel_execution_waves",
    "wave_task_assignments",
    "build_agent_instances",
    "wave_statistics",
    "span_links",
    "pending_spans",
    "unmapped_spans",
    "llm_calls",
)


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer otel-obs than this one."""


def migrate(conn: sqlite3.Connection) -> int:
    """Bring ``conn``'s database to :data:`SCHEMA_VERSION`; return the version.

    Each migration runs in one ``BEGIN IMMEDIATE`` transaction together with
    its ``user_version`` bump, so several processes opening a new store at
    once apply it exactly once.
    """
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"database schema version {current} is newer than this otel-obs "
            f"understands ({SCHEMA_VERSION})"
        )
    while current < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current < SCHEMA_VERSION:
                for statement in split_statements(MIGRATIONS[current]):
                    conn.execute(statement)
                current += 1
                conn.execute(f"PRAGMA user_version = {current}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return current


def split_statements(script: str) -> list[str]:
    """Split a migration into statements, the way SQLite's own tokenizer sees them."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
