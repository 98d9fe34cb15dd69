"""SQL functions that give PostgreSQL the SQLite functions the store's SQL uses.

Created (``CREATE OR REPLACE``) by the PostgreSQL migration whenever this text
changes, so the statements and the SQL tools keep one source for both engines.
Each returns what SQLite returns for the store's values (fixed-format ISO-8601
UTC timestamps, JSON texts).
"""

from __future__ import annotations

SQL = r"""
-- julianday(t): SQLite's Julian day number of an ISO-8601 timestamp, to the
-- millisecond as SQLite computes it (whole milliseconds, seconds rounded half up).
CREATE OR REPLACE FUNCTION julianday(t text) RETURNS double precision
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT ((extract(epoch FROM date_trunc('minute', t::timestamptz)) * 1000)::bigint
            + floor(extract(second FROM t::timestamptz)::double precision * 1000 + 0.5)::bigint
            + 210866760000000)::double precision / 86400000.0
$$;
"""

__all__ = ["SQL"]
