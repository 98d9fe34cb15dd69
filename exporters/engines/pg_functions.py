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

-- json_minify(j): a JSON value as SQLite writes one it takes out of a document:
-- no blanks between tokens, strings and numbers as they were written.
CREATE OR REPLACE FUNCTION json_minify(j json) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    CASE json_typeof(j)
        WHEN 'object' THEN
            RETURN '{' || COALESCE(
                (SELECT string_agg(to_json(key)::text || ':' || json_minify(value), ',' ORDER BY n)
                 FROM json_each(j) WITH ORDINALITY AS e(key, value, n)), '') || '}';
        WHEN 'array' THEN
            RETURN '[' || COALESCE(
                (SELECT string_agg(json_minify(value), ',' ORDER BY n)
                 FROM json_array_elements(j) WITH ORDINALITY AS e(value, n)), '') || ']';
        ELSE
            RETURN btrim(j::text, E' \t\n\r');
    END CASE;
END
$$;

-- json_extract(doc, path): SQLite's value at a '$.a.b' path of a JSON text, as text: a
-- string's value, NULL for null or a missing key, 1 / 0 for true / false, a number as
-- written, an object or array minified. A malformed document fails, as in SQLite.
CREATE OR REPLACE FUNCTION json_extract(doc text, path text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE json_typeof(v)
               WHEN 'string' THEN v #>> '{}'
               WHEN 'null' THEN NULL
               WHEN 'boolean' THEN CASE WHEN v::text = 'true' THEN '1' ELSE '0' END
               WHEN 'number' THEN btrim(v::text, E' \t\n\r')
               ELSE json_minify(v)
           END
    FROM (SELECT doc::json #> CASE WHEN path = '$' THEN '{}'::text[]
                                   ELSE string_to_array(substr(path, 3), '.') END AS v) AS x
$$;

-- json_valid(doc): 1 when the text is well-formed JSON, else 0 (NULL for NULL), as SQLite.
CREATE OR REPLACE FUNCTION json_valid(doc text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF doc IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM doc::json;
    RETURN 1;
EXCEPTION WHEN others THEN
    RETURN 0;
END
$$;
"""

__all__ = ["SQL"]
