"""What the command line checks of a store before it reads or writes it, and of a
tool call before it runs (the reads themselves are in :mod:`otel_obs.queries.listings`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..exporters import schema
from ..exporters.engines import engine_for
from ..queries.readonly import StoreUnavailableError
from ..queries.readonly import connect_read_only as read_only
from ..store_location import ServerStore, StoreLocation


def server_store_problem(store: ServerStore) -> str | None:
    """Why ``store`` cannot be read as an otel-obs store (None when it can): one line
    naming the server and the database, never the password."""
    try:
        read_only(store).close()
    except StoreUnavailableError as error:
        return str(error)
    return None


def store_problem(db_path: Path) -> str | None:
    """Why ``db_path`` is not an otel-obs store (None when it is one).

    A store has a schema version (``PRAGMA user_version``) and every table of
    the schema. An empty file, another application's SQLite database or a file
    that is not SQLite at all would otherwise surface as "no such table" deep
    inside a query.
    """
    try:
        conn = read_only(db_path)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        return f"not a SQLite database: {error}"
    if version < 1:
        return "no otel-obs schema version" if tables else "an empty database"
    missing = [t for t in schema.TABLES if t not in tables]
    if missing:
        return f"it lacks the table(s) {', '.join(missing)}"
    return None


def unwritable_store_problem(db_path: StoreLocation) -> str | None:
    """Why a command that writes ``db_path`` must not (None when it may): what the
    engine's writer would meet (see ``Engine.writable_problem``), checked before the
    command starts, since the writer would otherwise refuse the store in the
    background and the command "succeed" with nothing stored."""
    return engine_for(db_path).writable_problem(db_path)


def check_tool_call(tool_id: str, params: dict[str, str]) -> None:
    """Refuse an unknown tool id or a bad parameter before opening any store.

    The registry's ValueError already names the bad value and the valid ones;
    checking first means the agent learns that even when ``--db`` is wrong too.
    """
    from ..queries.registry import get_tool

    get_tool(tool_id).bind(params)
