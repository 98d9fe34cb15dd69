"""The store's engines: SQLite (embedded, the default) and PostgreSQL (a server for a team).

Each engine is one module holding what differs between them — how a writer
connects, the schema's bookkeeping, the statements' dialect, how sequence
numbers are claimed, which failures pass — behind :class:`.base.Engine`.
:func:`engine_for` is the one place that chooses.
"""

from __future__ import annotations

from typing import Any

from otel_obs.store_location import ServerStore

from .base import Engine


def engine_for(location: Any) -> Engine:
    """The engine of a store location (a :class:`ServerStore` or a SQLite path)."""
    if isinstance(location, ServerStore):
        from .postgres import POSTGRES

        return POSTGRES
    from .sqlite import SQLITE

    return SQLITE


__all__ = ["Engine", "engine_for"]
