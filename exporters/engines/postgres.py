"""The PostgreSQL engine: a server many writers share (psycopg 3).

What differs from SQLite, and why:

- **Placeholders.** The statements are written once with SQLite's ``?`` /
  ``?N``; :class:`PgConnection` turns them into psycopg's ``%s`` (repeating
  a numbered one's value where it appears again).
- **Values.** Every parameter goes over as text of unknown type, so the
  server reads it as the column's type, as SQLite's column affinity does
  (``5`` into a text column is ``'5'``). What PostgreSQL cannot hold is made
  safe and counted: a NUL or a lone surrogate in a text becomes U+FFFD, an
  integer beyond 64 bits the nearest 64-bit one (SQLite keeps its digits as
  text), a word in a number column NULL.
- **Sequence numbers.** Writers on several machines write one execution at
  once, and the server has no single write lock: each execution has a
  counter row (``entry_counters``) locked inside the batch's transaction, in
  execution order (no deadlocks), so numbers are gap-free and unique; the
  unique constraint on ``(execution_id, sequence)`` stays as the safety net.
- **Schema.** The same numbered migrations as SQLite (64-bit integers,
  double precision), recorded in ``otel_obs_schema`` and applied under an
  advisory lock so several receivers starting at once migrate once.
- **Failures that pass.** A lost connection, a restart or failover, a lock or
  statement timeout, a full disk: the batch is kept and tried again on a new
  connection within the retry window.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from otel_obs.redaction import finite_json

from .. import schema, statements
from . import pg_functions
from .base import Statements

#: Groups of at least this many rows are copied into a staging table (write_rows).
COPY_FROM_ROWS = 32
#: The key of the advisory lock that serialises migrations (any fixed 64-bit number).
MIGRATION_LOCK = 0x6F74656C5F6F6273  # "otel_obs"
_INT_MIN, _INT_MAX = -(1 << 63), (1 << 63) - 1
_PARAMS_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False)
_SURROGATE = re.compile("[\ud800-\udfff]")
_NUMBERED = re.compile(r"\?(\d*)")
#: The server's read of a text as a number (what a bigint / double column accepts).
_INTEGER = re.compile(r"\s*[+-]?\d+\s*")


class MissingDriverError(RuntimeError):
    """psycopg (the PostgreSQL driver) is not installed."""


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise MissingDriverError(
            "a postgresql:// store needs the PostgreSQL driver: pip install 'otel-obs[postgres]'"
        ) from None
    return psycopg


def translate(sql: str) -> tuple[str, tuple[int, ...] | None]:
    """SQLite placeholders as psycopg's: the text, and which parameter fills each ``%s``.

    ``None`` when the parameters go in as given (only plain ``?``).
    """
    order: list[int] = []
    numbered = False
    plain = 0

    def place(match: re.Match[str]) -> str:
        nonlocal numbered, plain
        if match.group(1):
            numbered = True
            order.append(int(match.group(1)) - 1)
        else:
            order.append(plain)
            plain += 1
        return "%s"

    text = _NUMBERED.sub(place, sql.replace("%", "%%"))
    return text, (tuple(order) if numbered else None)


class PgConnection:
    """A psycopg connection that takes the statements as written for SQLite (see :func:`translate`).

    Autocommit, with explicit ``BEGIN`` / ``COMMIT``, as the SQLite writer runs.
    """

    def __init__(self, conn: Any) -> None:
        self.raw = conn
        self._cache: dict[str, tuple[str, tuple[int, ...] | None]] = {}
        #: Staging tables holding rows in this transaction (emptied at its commit).
        self.staged: set[str] = set()

    def _sql(self, sql: str) -> tuple[str, tuple[int, ...] | None]:
        found = self._cache.get(sql)
        if found is None:
            found = self._cache[sql] = translate(sql)
        return found

    @property
    def in_transaction(self) -> bool:
        return bool(self.raw.info.transaction_status != 0)  # 0: idle

    def execute(self, sql: str, parameters: Any = ()) -> Any:
        text, order = self._sql(sql)
        if order is not None:
            parameters = tuple(parameters[i] for i in order)
        return self.raw.execute(text, tuple(parameters) or None)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> Any:
        text, order = self._sql(sql)
        params: Iterable[Any] = seq_of_parameters
        if order is not None:
            params = [tuple(p[i] for i in order) for p in seq_of_parameters]
        else:
            params = list(params)
        if not params:
            return None
        with self.raw.cursor() as cur:
            cur.executemany(text, params)
        return None

    def close(self) -> None:
        self.raw.close()


def _copy(cur: Any, table: str, names: str, params: list[Any]) -> None:
    # COPY's text carries no types: the driver's own (compiled) number dumpers serve,
    # in place of the connection's unknown-typed ones (see _text_parameters).
    from psycopg.types.numeric import FloatDumper, IntDumper

    cur.adapters.register_dumper(int, IntDumper)
    cur.adapters.register_dumper(float, FloatDumper)
    with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in params:
            copy.write_row(row)


def _copy_new_rows(cur: Any, table: str, names: str, params: list[Any]) -> list[Any]:
    """Copy into ``table`` the rows whose keys it does not hold (nor an earlier row of
    ``params``); return the others, for the upsert.

    The copy runs under a savepoint: should a writer elsewhere store one of those keys
    between the look-up and the copy, the copy is undone and every row is returned.
    """
    keys = _TEXT_KEYS.get(table)
    columns = names.split(", ")
    if keys is None or not all(k in columns for k in keys):
        return params
    at = [columns.index(k) for k in keys]
    if not all(type(row[i]) is str for row in params for i in at):
        return params  # a key of another type: compared as the upsert compares it
    stored = {
        tuple(row)
        for row in cur.execute(
            stored_keys_sql(table, keys), (_json_list([[row[i] for i in at] for row in params]),)
        ).fetchall()
    }
    new: list[Any] = []
    rest: list[Any] = []
    for row in params:
        key = tuple(row[i] for i in at)
        if key in stored:
            rest.append(row)
        else:
            stored.add(key)
            new.append(row)
    if not new:
        return rest
    cur.execute("SAVEPOINT otel_obs_copy")
    try:
        _copy(cur, table, names, new)
    except _psycopg().errors.UniqueViolation:
        cur.execute("ROLLBACK TO SAVEPOINT otel_obs_copy")
        return params
    cur.execute("RELEASE SAVEPOINT otel_obs_copy")
    return rest


def stored_keys_sql(table: str, keys: tuple[str, ...]) -> str:
    """Which of the keys in one JSON list (of lists of ``keys``' values) ``table`` holds.

    Each key is probed on its own (a lateral subquery, LIMIT 1): one probe of the
    primary key, whatever the table's statistics say. A filter ``= ANY(list)``, which
    the planner may pick on a table not yet analyzed, compares every row with every
    key (measured: 0.5 s a batch at 7,000 rows).
    """
    found = ", ".join(f"j->>{n}" for n in range(len(keys)))
    probe = " AND ".join(f"t.{k} = j->>{n}" for n, k in enumerate(keys))
    return (
        f"SELECT {found} FROM json_array_elements(%s::json) AS j"
        f" CROSS JOIN LATERAL (SELECT 1 FROM {table} t WHERE {probe} LIMIT 1) AS found"
    )


def _json_list(values: list[Any]) -> str:
    """Keys to look up, as one JSON parameter: encoded in C, where psycopg's list dumper
    costs several µs a value."""
    return _PARAMS_ENCODER.encode(values)


def _or_ignore(sql: str) -> str:
    """SQLite's ``INSERT OR IGNORE`` as PostgreSQL's ``ON CONFLICT DO NOTHING``."""
    if "INSERT OR IGNORE INTO" not in sql:
        return sql
    return sql.replace("INSERT OR IGNORE INTO", "INSERT INTO").rstrip() + " ON CONFLICT DO NOTHING"


_HEARTBEAT = """
UPDATE build_agent_instances SET
    last_heartbeat_at = CASE WHEN last_heartbeat_at IS NULL THEN NULL
                             ELSE GREATEST(last_heartbeat_at, ?1) END,
    current_task_id = CASE WHEN ?1 >= last_heartbeat_at THEN ?2 ELSE current_task_id END
WHERE execution_id = ?3 AND id = ?4
"""

_WAVE_STATISTICS = (
    statements.WAVE_STATISTICS_SQL.replace("INSERT OR REPLACE INTO", "INSERT INTO")
    .replace("AND wave_number = ?2))", "AND wave_number = ?2) AS agents)")
    .rstrip()
    + """
ON CONFLICT (execution_id, wave_number) DO UPDATE SET
    task_count = excluded.task_count, completed_count = excluded.completed_count,
    failed_count = excluded.failed_count, blocked_count = excluded.blocked_count,
    agent_count = excluded.agent_count, started_at = excluded.started_at,
    completed_at = excluded.completed_at, duration_ms = excluded.duration_ms,
    mean_task_ms = excluded.mean_task_ms
"""
)


def migration_statements(script: str) -> list[str]:
    """A SQLite migration's statements in PostgreSQL's types (64-bit integers, doubles)."""
    out = []
    for statement in schema.split_statements(script):
        statement = re.sub(r"--[^\n]*", "", statement)
        statement = re.sub(r"\bINTEGER\b", "BIGINT", statement)
        statement = re.sub(r"\bREAL\b", "DOUBLE PRECISION", statement)
        statement = re.sub(r"\)\s*WITHOUT ROWID", ")", statement)
        out.append(statement.strip().rstrip(";"))
    return out


#: PostgreSQL's own bookkeeping beside the shared schema.
_BOOKKEEPING = (
    "CREATE TABLE IF NOT EXISTS otel_obs_schema ("
    " version BIGINT NOT NULL, functions TEXT NOT NULL DEFAULT '')",
    "CREATE TABLE IF NOT EXISTS entry_counters ("
    " execution_id TEXT PRIMARY KEY, last_sequence BIGINT NOT NULL)",
)


def schema_version(conn: Any) -> int | None:
    """The store's schema version (None: no otel-obs schema in this database)."""
    found = conn.execute("SELECT to_regclass('otel_obs_schema') IS NOT NULL").fetchone()[0]
    if not found:
        return None
    row = conn.execute("SELECT version FROM otel_obs_schema").fetchone()
    return None if row is None else int(row[0])


def migrate(conn: PgConnection) -> int:
    """Bring the database to :data:`schema.SCHEMA_VERSION` under the migration lock; the version.

    One transaction: the lock, the version, each missing migration, the SQL
    functions the tools use (re-created when they change). Several receivers
    starting at once apply each migration once.
    """
    functions_hash = hashlib.sha256(pg_functions.SQL.encode()).hexdigest()[:16]
    current = schema_version(conn)
    if current == schema.SCHEMA_VERSION:
        done = conn.execute("SELECT functions FROM otel_obs_schema").fetchone()[0]
        if done == functions_hash:
            return current
    if current is not None and current > schema.SCHEMA_VERSION:
        raise schema.SchemaTooNewError(
            f"database schema version {current} is newer than this otel-obs "
            f"understands ({schema.SCHEMA_VERSION})"
        )
    conn.execute("BEGIN")
    try:
        conn.execute(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        for statement in _BOOKKEEPING:
            conn.execute(statement)
        row = conn.execute("SELECT version, functions FROM otel_obs_schema").fetchone()
        if row is None:
            conn.execute("INSERT INTO otel_obs_schema (version) VALUES (0)")
            row = (0, "")
        current = int(row[0])
        if current > schema.SCHEMA_VERSION:
            raise schema.SchemaTooNewError(
                f"database schema version {current} is newer than this otel-obs "
                f"understands ({schema.SCHEMA_VERSION})"
            )
        while current < schema.SCHEMA_VERSION:
            for statement in migration_statements(schema.MIGRATIONS[current]):
                conn.execute(statement)
            current += 1
        if row[1] != functions_hash:
            conn.raw.execute(pg_functions.SQL)
        conn.execute(
            "UPDATE otel_obs_schema SET version = ?, functions = ?", (current, functions_hash)
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return current


#: Column types of the shared schema on PostgreSQL, by table (read once per process).
_COLUMN_TYPES: dict[str, dict[str, str]] = {}
_COLUMN_TYPES_LOCK = threading.Lock()


#: Primary-key columns by table, where all of them are text (write_rows looks rows up
#: by them; a table keyed otherwise always goes through its staging table).
_TEXT_KEYS: dict[str, tuple[str, ...]] = {}


def _load_column_types(conn: PgConnection) -> None:
    with _COLUMN_TYPES_LOCK:
        if _COLUMN_TYPES:
            return
        for table, column, kind in conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema()"
        ).fetchall():
            _COLUMN_TYPES.setdefault(table, {})[column] = kind
        keys: dict[str, list[str]] = {}
        for table, column in conn.execute(
            "SELECT c.relname, a.attname FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indrelid"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)"
            " WHERE i.indisprimary AND c.relnamespace = current_schema()::regnamespace"
            " ORDER BY c.relname, array_position(i.indkey, a.attnum)"
        ).fetchall():
            keys.setdefault(table, []).append(column)
        for table, columns in keys.items():
            if all(_COLUMN_TYPES.get(table, {}).get(c) == "text" for c in columns):
                _TEXT_KEYS[table] = tuple(columns)


def _text_safe(value: str) -> str:
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = _SURROGATE.sub("\ufffd", value)
    return value


def safe_value(value: Any, kind: str | None) -> Any:
    """``value`` if a column of type ``kind`` can hold it, else what it is stored as."""
    if value is None:
        return value
    if kind == "bigint":
        if type(value) is bool:
            return value
        if type(value) is int:
            # Beyond 64 bits: the nearest value a bigint holds (it may be part of a key).
            return value if _INT_MIN <= value <= _INT_MAX else max(_INT_MIN, min(value, _INT_MAX))
        if type(value) is float:
            return int(value) if value.is_integer() and _INT_MIN <= value <= _INT_MAX else None
        text = str(value)
        if _INTEGER.fullmatch(text):
            number = int(text)
            return value if _INT_MIN <= number <= _INT_MAX else max(_INT_MIN, min(number, _INT_MAX))
        return None
    if kind == "double precision":
        if type(value) in (int, float, bool):
            return value
        try:
            float(str(value))
            return value
        except ValueError:
            return None
    if type(value) is str:
        safe = _text_safe(value)
        return value if safe == value else safe
    if type(value) is int:
        if _INT_MIN <= value <= _INT_MAX:
            return value
        return str(value) if kind == "text" else max(_INT_MIN, min(value, _INT_MAX))
    if isinstance(value, int | float):
        return value
    return _text_safe(str(value))


class PostgresEngine:
    name = "postgresql"
    statements = Statements(
        heartbeat=_HEARTBEAT,
        wave_count=statements.WAVE_COUNT_SQL,
        wave_statistics=_WAVE_STATISTICS,
        skill_count=statements.SKILL_COUNT_SQL,
        link=_or_ignore(statements.LINK_SQL),
        waiting=_or_ignore(statements.WAITING_SQL),
        released=statements.RELEASED_SQL,
        unmapped=statements.UNMAPPED_SQL,
        link_lookup=statements.LINK_LOOKUP_SQL,
        pending=statements.PENDING_SQL,
    )
    transient = frozenset({"disk_full", "locked", "disconnected", "unavailable"})
    checkpoints = False

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        return (_psycopg().Error, OSError, OverflowError, UnicodeError, TypeError, ValueError)

    def connect(self, location: Any, *, timeout_s: float = 10.0, application: str) -> Any:
        """A raw psycopg connection (autocommit, JIT off) to the store's database."""
        psycopg = _psycopg()
        conn = psycopg.connect(
            location.url,
            autocommit=True,
            connect_timeout=max(1, round(timeout_s)),
            application_name=application,
        )
        conn.execute("SET jit = off")
        return conn

    def begin(self, conn: Any) -> None:
        """``BEGIN``; the staging tables start the transaction empty (ON COMMIT DELETE ROWS)."""
        conn.staged.clear()
        conn.execute("BEGIN")

    def open_writer(self, location: Any, *, busy_timeout_ms: int, dedicated: bool) -> Any:
        raw = self.connect(
            location, timeout_s=busy_timeout_ms / 1000, application="otel-obs writer"
        )
        try:
            _text_parameters(raw)
            raw.execute(f"SET lock_timeout = {int(busy_timeout_ms)}")
            conn = PgConnection(raw)
            migrate(conn)
            _load_column_types(conn)
            for table in schema.TABLES:  # where large groups are copied (write_rows)
                raw.execute(
                    f"CREATE TEMP TABLE otel_obs_stage_{table}"
                    f" (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                )
        except BaseException:
            raw.close()
            raise
        return conn

    def identity(self, location: Any) -> Any:
        return location.url

    def writable_problem(self, location: Any) -> str | None:
        """Why a writer could not write this store (None when it can), in one line.

        Connects, brings the schema up to date as the writer would, and checks the
        role may write every table: a command that "succeeded" while its writer
        dropped every row in the background would lose data silently.
        """
        try:
            conn = self.open_writer(location, busy_timeout_ms=10_000, dedicated=False)
        except MissingDriverError as exc:
            return str(exc)
        except schema.SchemaTooNewError as exc:
            return f"{location.where}: {exc}; upgrade otel-obs"
        except self.errors as exc:
            return f"{location.where}: {connection_problem(exc, location)}"
        try:
            denied = [
                table
                for table in schema.TABLES
                if not conn.execute(
                    "SELECT has_table_privilege(current_user, ?, 'INSERT, UPDATE, DELETE')",
                    (table,),
                ).fetchone()[0]
            ]
        finally:
            conn.close()
        if denied:
            return (
                f"{location.where}: role {location.user or '(default)'} may not write "
                f"{', '.join(denied)} (see the writer role's grants in the docs)"
            )
        return None

    def binds_rows(self, dedicated: bool) -> bool:
        # Bound rows (write_rows: COPY into a staging table for a large group): one JSON
        # array unpacked by one statement was measured costlier (its parsing and casts).
        return True

    def write_rows(self, conn: Any, sql: str, params: list[Any]) -> None:
        """A small group row by row (pipelined); a large one copied (``COPY``, the
        cheapest way rows reach the server). A plain insert (numbered entries) is
        copied straight into its table; so are an upsert's rows whose keys the table
        does not hold yet (what an upsert would do with them, at about two thirds of
        the server's work). The others go into the table's staging table and are
        written from there by the same statement, in one go."""
        if len(params) < COPY_FROM_ROWS:
            conn.executemany(sql, params)
            return
        head, _, tail = sql.partition(" VALUES (")
        table, _, names = head[len("INSERT INTO ") :].partition(" (")
        names = names.rstrip(")")
        tail = tail[tail.index(")") + 1 :]
        with conn.raw.cursor() as cur:
            if not tail.strip():
                _copy(cur, table, names, params)
                return
            params = _copy_new_rows(cur, table, names, params)
            if not params:
                return
            stage = f"otel_obs_stage_{table}"
            if stage in conn.staged:  # a second group of the table in this transaction
                cur.execute(f"TRUNCATE {stage}")
            conn.staged.add(stage)
            _copy(cur, stage, names, params)
            cur.execute(f"{head} SELECT {names} FROM {stage}{tail}")

    def rows_text(self, params: list[Any]) -> str:
        return finite_json(_PARAMS_ENCODER, params)

    def upsert_sql(self, table: str, phase: str, columns: tuple[str, ...], bound: bool) -> str:
        return _or_ignore(statements.upsert_sql(table, phase, columns, True))

    def claim_sequences(self, conn: Any, executions: Iterable[str]) -> dict[str, int]:
        ordered = sorted(set(executions))
        conn.raw.execute(
            "INSERT INTO entry_counters (execution_id, last_sequence)"
            " SELECT e, (SELECT COALESCE(MAX(sequence), 0) FROM transcript_entries"
            "   WHERE execution_id = e)"
            " FROM unnest(%s::text[]) WITH ORDINALITY AS u(e, n) ORDER BY n"
            " ON CONFLICT (execution_id) DO NOTHING",
            (ordered,),
        )
        rows = conn.raw.execute(
            "SELECT execution_id, last_sequence FROM entry_counters"
            " WHERE execution_id = ANY(%s::text[]) ORDER BY execution_id FOR UPDATE",
            (ordered,),
        ).fetchall()
        return {execution_id: int(last) for execution_id, last in rows}

    def stored_entries(self, conn: Any, execution_id: str, ids: list[str]) -> set[str]:
        rows = conn.raw.execute(
            "SELECT j FROM json_array_elements_text(%s::json) AS j CROSS JOIN LATERAL"
            " (SELECT 1 FROM transcript_entries t WHERE t.execution_id = %s AND t.id = j"
            " LIMIT 1) AS found",
            (_json_list(ids), execution_id),
        ).fetchall()
        return {r[0] for r in rows}

    def save_sequences(self, conn: Any, last: Mapping[str, int]) -> None:
        if last:
            conn.executemany(
                "UPDATE entry_counters SET last_sequence = ? WHERE execution_id = ?",
                [(n, execution_id) for execution_id, n in sorted(last.items())],
            )

    def safe_row(self, table: str, row: dict[str, Any] | list[Any]) -> int:
        kinds = _COLUMN_TYPES.get(table, {})
        made = 0
        keys: Iterable[Any] = row.keys() if isinstance(row, dict) else range(len(row))
        for key in list(keys):
            value = row[key]
            safe = safe_value(value, kinds.get(key) if isinstance(key, str) else None)
            if safe is not value:
                row[key] = safe
                made += 1
        return made

    def failure_kind(self, exc: BaseException) -> str:
        return failure_kind(exc)


def failure_kind(exc: BaseException) -> str:
    """A short name for a PostgreSQL failure (see the module docstring for which pass)."""
    try:
        from psycopg import errors as e
    except ImportError:  # pragma: no cover - no driver, no such failures
        return "error"
    if isinstance(exc, MissingDriverError):
        return "unavailable"
    if isinstance(exc, e.DiskFull | e.OutOfMemory):
        return "disk_full"
    if isinstance(
        exc,
        e.LockNotAvailable | e.DeadlockDetected | e.SerializationFailure | e.QueryCanceled,
    ):
        return "locked"
    if isinstance(exc, e.ReadOnlySqlTransaction):
        return "readonly"
    if isinstance(exc, e.InsufficientPrivilege | e.InvalidAuthorizationSpecification):
        return "denied"
    if isinstance(exc, e.DataError | UnicodeError | OverflowError | TypeError | ValueError):
        return "value"
    if isinstance(exc, e.AdminShutdown | e.CannotConnectNow | e.CrashShutdown):
        return "disconnected"
    if isinstance(exc, e.OperationalError):
        text = str(exc).lower()
        if "password" in text or "authentication" in text or "does not exist" in text:
            return "denied"  # a wrong password or database: no retry mends it
        if "connection failed" in text or "refused" in text or "could not" in text:
            return "unavailable"  # no server there (yet): tried again in the retry window
        return "disconnected"
    if isinstance(exc, e.InterfaceError) and "closed" in str(exc).lower():
        return "disconnected"
    return "error"


def connection_problem(exc: BaseException, location: Any) -> str:
    """The first line of a connection failure, with the password (if any) blotted out."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    password = _password_of(location.url)
    if password:
        text = text.replace(password, "***")
    return text


def _password_of(url: str) -> str | None:
    from urllib.parse import unquote, urlsplit

    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def _text_parameters(conn: Any) -> None:
    """Send numbers as text of unknown type: the server reads them as the column's type."""
    from psycopg.adapt import Dumper

    class AsText(Dumper):
        oid = 0

        def dump(self, obj: Any) -> bytes:
            if type(obj) is bool:
                return b"1" if obj else b"0"
            if type(obj) is float:
                return repr(obj).encode()
            return str(obj).encode()

    for kind in (int, bool, float):
        conn.adapters.register_dumper(kind, AsText)


POSTGRES = PostgresEngine()

__all__ = [
    "MIGRATION_LOCK",
    "POSTGRES",
    "MissingDriverError",
    "connection_problem",
    "PgConnection",
    "PostgresEngine",
    "migrate",
    "schema_version",
    "translate",
]
