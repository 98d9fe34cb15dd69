"""Read-only connections to a store, and the time bound on every read.

A diagnosis must never change the store it diagnoses (and must add no load to
the writers): ``mode=ro`` opens the file without write access and never
creates a missing one.

A store in WAL mode on read-only media (a read-only mount, a folder the reader
may not write) cannot be opened that way when its ``-wal`` and ``-shm`` files
are not there already: SQLite would have to create them. Such a store has no
write-ahead log to read, so it is opened ``immutable=1`` instead (SQLite then
reads the main file only and takes no locks).

A PostgreSQL store (a ``postgresql://`` URL) is read through a
:class:`ServerReader`: every statement its own read-only transaction
(``default_transaction_read_only``), JIT off (compiling a plan costs more than
these queries run), the SQL written for SQLite translated once per text
(:mod:`.dialects`), and rows of the same Python types as SQLite's (numbers
as ``int`` / ``float``, never ``Decimal`` or ``bool``).

Every SQL tool, and every other read of the store, runs under a time bound
(:data:`~otel_obs.settings.TOOL_TIMEOUT_MS`): SQLite's progress handler stops a
read that runs past it (PostgreSQL's ``statement_timeout``), and
:class:`ReadTimeoutError` names what was stopped and the limit, so no query on
any data can keep a command or the MCP server busy for good.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from otel_obs import settings
from otel_obs.store_location import ServerStore

#: SQLite virtual-machine steps between two looks at the clock (about a millisecond).
_PROGRESS_STEPS = 10_000


class ReadTimeoutError(TimeoutError):
    """A read of the store ran past its time limit and was stopped."""


def _read_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


#: What a read of either engine may raise that is the store's answer, not a bug.
READ_ERRORS: tuple[type[BaseException], ...] = _read_errors()


_CONNECT_ERRORS: tuple[type[BaseException], ...] = (*READ_ERRORS, OSError)


class StoreUnavailableError(ValueError):
    """A store that cannot be read: one line naming it (never a password) and why."""


def connect_read_only(db_path: Path | str | ServerStore, *, rows: bool = True) -> Any:
    """A read-only connection (``mode=ro``), ``immutable=1`` on read-only media.

    Its rows are :class:`sqlite3.Row` unless ``rows`` is false (plain tuples).
    A :class:`~otel_obs.store_location.ServerStore` (or its URL) gives a
    :class:`ServerReader`, which answers the same calls with the same rows.
    """
    if isinstance(db_path, str):
        from otel_obs.store_location import is_server_url, parse_server_url

        if is_server_url(db_path):
            db_path = parse_server_url(db_path)
    if isinstance(db_path, ServerStore):
        return ServerReader.open(db_path, rows=rows)
    path = Path(db_path).resolve()
    uri = path.as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as error:
        conn.close()
        name = getattr(error, "sqlite_errorname", "")
        if not name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY")) or not _no_log_to_read(path):
            raise
        # The -wal/-shm could not be created: read-only media. Without a log
        # there is nothing but the main file to read.
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    if rows:
        conn.row_factory = sqlite3.Row
    return conn


def _no_log_to_read(path: Path) -> bool:
    """Whether ``path`` has no write-ahead log holding anything (a missing or empty ``-wal``)."""
    wal = path.with_name(path.name + "-wal")
    try:
        return wal.stat().st_size == 0
    except FileNotFoundError:
        return True
    except OSError:
        return False


def execute(conn: Any, sql: str, params: Any = (), types: tuple[tuple[str, str], ...] = ()) -> Any:
    """Run ``sql`` (SQLite's dialect) on either kind of read-only connection; the cursor.

    ``types``: the declared types of the named parameters (a tool's), which a
    server binds them as.
    """
    if isinstance(conn, ServerReader):
        return conn.execute(sql, params, types)
    return conn.execute(sql, params)


def _timeout_error(what: str, limit: int) -> ReadTimeoutError:
    return ReadTimeoutError(
        f"{what} was stopped: it ran longer than the limit of {limit} ms "
        f"({settings.TOOL_TIMEOUT_MS.env}; raise it for a very large store)"
    )


@contextmanager
def bounded(conn: Any, what: str, timeout_ms: int | None = None) -> Iterator[None]:
    """Run the reads inside on ``conn`` for at most ``timeout_ms`` (the setting when None).

    Past the limit SQLite stops the statement and :class:`ReadTimeoutError`
    says which read (``what``) was stopped and what the limit is.
    """
    limit = settings.TOOL_TIMEOUT_MS.resolve(timeout_ms)
    if isinstance(conn, ServerReader):
        with conn.bounded(what, limit):
            yield
        return
    deadline = time.monotonic() + limit / 1000
    conn.set_progress_handler(lambda: time.monotonic() > deadline, _PROGRESS_STEPS)
    try:
        yield
    except sqlite3.OperationalError as error:
        if "interrupted" in str(error) and time.monotonic() > deadline:
            raise _timeout_error(what, limit) from None
        raise
    finally:
        conn.set_progress_handler(None, 0)


# --------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------


class ServerRow(tuple[Any, ...]):
    """A row of a :class:`ServerReader` read by position or column name, as ``sqlite3.Row``."""

    _names: tuple[str, ...] = ()

    def keys(self) -> list[str]:
        return list(self._names)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))
        return tuple.__getitem__(self, key)


def _row_type(names: tuple[str, ...]) -> type[ServerRow]:
    return type("ServerRow", (ServerRow,), {"_names": names, "__slots__": ()})


class ServerReader:
    """A read-only connection to a PostgreSQL store that takes SQL written for SQLite.

    ``execute(sql, params)`` translates ``sql`` (:func:`.dialects.postgres_sql`,
    cached) and binds ``params`` (a mapping for ``:name``, a sequence for ``?``);
    the cursor it returns has ``fetchone`` / ``fetchall`` / ``description`` and
    iterates, as sqlite3's does.
    """

    def __init__(self, raw: Any, store: ServerStore, *, rows: bool) -> None:
        self.raw = raw
        self.store = store
        self.rows = rows

    @classmethod
    def open(cls, store: ServerStore, *, rows: bool = True) -> ServerReader:
        """Connect to ``store`` read-only; :class:`StoreUnavailableError` says why it can't."""
        from otel_obs.exporters.engines.postgres import POSTGRES, MissingDriverError

        try:
            import sqlglot  # noqa: F401  (the tools' SQL is translated with it)
        except ImportError:
            raise StoreUnavailableError(
                "a postgresql:// store needs the 'postgres' extra: pip install 'otel-obs[postgres]'"
            ) from None
        try:
            raw = POSTGRES.connect(store, application="otel-obs reader")
        except MissingDriverError as exc:
            raise StoreUnavailableError(str(exc)) from None
        except _CONNECT_ERRORS as exc:  # one line, no password
            raise StoreUnavailableError(_why(store, exc)) from None
        try:
            raw.execute("SET default_transaction_read_only = on")
            # Each tool planned for its own parameters: a prepared statement's generic
            # plan (psycopg prepares after a few runs) can miss an execution's skew.
            raw.prepare_threshold = None
            _python_numbers(raw)
            problem = _schema_problem(raw)
        except READ_ERRORS as exc:
            raw.close()
            raise StoreUnavailableError(_why(store, exc)) from None
        if problem:
            raw.close()
            raise StoreUnavailableError(f"{store.where} is not an otel-obs store ({problem})")
        return cls(raw, store, rows=rows)

    def execute(
        self, sql: str, parameters: Any = (), types: tuple[tuple[str, str], ...] = ()
    ) -> Any:
        """Run ``sql`` (SQLite's dialect) with ``parameters``; the cursor."""
        if isinstance(parameters, Mapping) and not types:
            # Untyped named parameters are bound as their values' types (``:x IS NULL``
            # alone gives the server no type to take).
            types = tuple((name, _kind(value)) for name, value in sorted(parameters.items()))
        from .dialects import postgres_sql

        text = postgres_sql(sql, types)
        cursor = self.raw.cursor(row_factory=self._row_factory)
        if isinstance(parameters, Mapping):
            cursor.execute(text, dict(parameters))
        else:
            cursor.execute(text, tuple(parameters) or None)
        return cursor

    def _row_factory(self, cursor: Any) -> Any:
        if not self.rows:
            return tuple
        names = tuple(c.name for c in cursor.description or ())
        row_type = _row_type(names)
        return lambda values: row_type(values)

    @contextmanager
    def bounded(self, what: str, limit_ms: int) -> Iterator[None]:
        """Statements inside stop at ``limit_ms`` (``statement_timeout``): ReadTimeoutError."""
        from psycopg import errors

        self.raw.execute(f"SET statement_timeout = {int(limit_ms)}")
        try:
            yield
        except errors.QueryCanceled:
            raise _timeout_error(what, limit_ms) from None
        finally:
            if not self.raw.closed:
                self.raw.execute("SET statement_timeout = 0")

    @property
    def broken(self) -> bool:
        """Whether the connection is lost (the server restarted, the network went)."""
        return bool(self.raw.closed or self.raw.broken)

    def close(self) -> None:
        self.raw.close()


def _kind(value: Any) -> str:
    """The declared type a parameter of this value is bound as."""
    if isinstance(value, bool | int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "text"


def _why(store: ServerStore, exc: BaseException) -> str:
    """One line: which database on which server, and what PostgreSQL said (no password)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if store.url and "@" in store.url:
        secret = store.url.split("@", 1)[0].rpartition(":")[2]
        if secret and not secret.startswith("//"):
            text = text.replace(secret, "***")
    return f"cannot read {store.where}: {text}"


def _schema_problem(raw: Any) -> str | None:
    """Why the database is no otel-obs store this role may read (None when it is one)."""
    from otel_obs.exporters import schema

    found = dict(
        raw.execute(
            "SELECT c.relname, has_table_privilege(c.oid, 'SELECT')"
            " FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
        ).fetchall()
    )
    if "otel_obs_schema" not in found:
        return "no otel-obs schema" if found else "an empty database"
    missing = [t for t in schema.TABLES if t not in found]
    if missing:
        return f"it lacks the table(s) {', '.join(missing)}"
    denied = [t for t in ("otel_obs_schema", *schema.TABLES) if not found[t]]
    if denied:
        user = raw.execute("SELECT current_user").fetchone()[0]
        return (
            f"the role {user} may not read {', '.join(denied[:3])}"
            + (f" and {len(denied) - 3} more table(s)" if len(denied) > 3 else "")
            + f"; grant it: GRANT SELECT ON ALL TABLES IN SCHEMA public TO {user}"
        )
    return None


def _python_numbers(raw: Any) -> None:
    """Numbers as SQLite gives them: ``numeric`` as ``int`` when whole, else ``float``;
    ``boolean`` as 1 / 0."""
    from psycopg.adapt import Loader

    class NumericLoader(Loader):
        def load(self, data: Any) -> Any:
            text = bytes(data).decode()
            if "." in text or "e" in text.lower() or "n" in text.lower():
                return float(text)
            return int(text)

    class BooleanLoader(Loader):
        def load(self, data: Any) -> Any:
            return 1 if bytes(data) == b"t" else 0

    raw.adapters.register_loader("numeric", NumericLoader)
    raw.adapters.register_loader("bool", BooleanLoader)
