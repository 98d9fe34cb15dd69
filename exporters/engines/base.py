"""What an engine gives the store's writer (see :mod:`exporters.engines`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Statements:
    """The fixed statements of a batch, in an engine's dialect (``?`` / ``?N`` placeholders)."""

    heartbeat: str
    wave_count: str
    wave_statistics: str
    skill_count: str
    link: str
    waiting: str
    released: str
    unmapped: str
    link_lookup: str
    pending: str


class Connection(Protocol):
    """The part of a DB-API connection the writer uses (``sqlite3.Connection`` has it)."""

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Any = ...) -> Any: ...

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> Any: ...

    def close(self) -> None: ...


class Engine(Protocol):
    """One engine of the store: connections, schema, dialect, sequences, failures."""

    #: ``sqlite`` or ``postgresql``.
    name: str
    statements: Statements

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        """Every error a write may meet that is not a bug (counted by :meth:`failure_kind`)."""

    #: Failure kinds that pass: the batch is kept and tried again.
    transient: frozenset[str]
    #: Whether a dedicated writer checkpoints a write-ahead log on a thread of its own.
    checkpoints: bool

    def begin(self, conn: Any) -> None:
        """Start a batch's transaction (taking the write lock where the engine has one)."""

    def open_writer(self, location: Any, *, busy_timeout_ms: int, dedicated: bool) -> Any:
        """A connection for writing, its schema up to date (raises on failure)."""

    def writable_problem(self, location: Any) -> str | None:
        """Why a writer could not write this store (None when it can), in one line."""

    def identity(self, location: Any) -> Any:
        """What tells whether the store is still the one opened (None: it is gone)."""

    def binds_rows(self, dedicated: bool) -> bool:
        """Whether a group of rows is bound row by row (executemany), else sent as one
        JSON array (:meth:`rows_text`) that one statement unpacks."""

    def write_rows(self, conn: Any, sql: str, params: list[Any]) -> None:
        """Bind ``params`` to the bound statement ``sql``, row by row or as the engine's
        bulk path does it (the same rows written either way)."""

    def rows_text(self, params: list[Any]) -> str:
        """A group's rows as the JSON array the unbound statement unpacks."""

    def upsert_sql(self, table: str, phase: str, columns: tuple[str, ...], bound: bool) -> str:
        """The statement that writes rows of ``columns`` into ``table``."""

    def claim_sequences(self, conn: Any, executions: Iterable[str]) -> dict[str, int]:
        """The last sequence number of each execution, held for this transaction."""

    def stored_entries(self, conn: Any, execution_id: str, ids: list[str]) -> set[str]:
        """Which of ``ids`` the execution's transcript entries hold already."""

    def save_sequences(self, conn: Any, last: Mapping[str, int]) -> None:
        """Record the batch's last sequence numbers (inside its transaction)."""

    def safe_row(self, table: str, row: dict[str, Any] | list[Any]) -> int:
        """Replace in place what the engine cannot hold; how many values were replaced."""

    def failure_kind(self, exc: BaseException) -> str:
        """A short name for a storage failure, so each kind is warned about once."""


@contextmanager
def transaction(conn: Any, engine: Engine | None = None) -> Iterator[None]:
    """One transaction on an autocommit connection (begun as ``engine`` begins a
    batch's, else with a plain ``BEGIN``): committed when the block ends, rolled
    back (and the error raised) when it raises."""
    if engine is None:
        conn.execute("BEGIN")
    else:
        engine.begin(conn)
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


__all__ = ["Connection", "Engine", "Statements", "transaction"]
