"""The tools' SQL in each engine's dialect: written once for SQLite, translated for PostgreSQL.

Every tool (and every other read of the store) is one SQLite text. On SQLite it
runs as written; on PostgreSQL :func:`postgres_sql` translates it once (cached)
with sqlglot (SQLite → PostgreSQL) and a few rewrites that make the answers
equal, not just the query valid:

- **Truth values.** A comparison used as a value (``SUM(status = 'failed')``,
  ``a = b AS is_first``) is an integer 1 / 0 / NULL, as in SQLite; a number
  used as a condition (``CASE WHEN json_valid(x)``) is true when not 0.
- **Numbers.** A decimal literal (``100.0``) is a double, so arithmetic is
  done in doubles as SQLite does (not in PostgreSQL's exact ``numeric``);
  ``AVG`` is a double; ``ROUND(x, n)`` rounds ``x`` as a decimal of its 15
  significant digits, half away from zero (SQLite's rule), back to a double;
  ``MAX(a, b)`` / ``MIN(a, b)`` of two values is NULL when either is.
- **Texts.** ``strftime`` becomes ``to_char`` with its literal characters
  quoted; ``json_extract`` / ``json_valid`` / ``julianday`` are SQL
  functions of the store's database that answer as SQLite's
  (:mod:`otel_obs.exporters.engines.pg_functions`); ``group_concat`` is
  ``string_agg`` of text, ordered as the SQLite text orders its rows (see
  :func:`_group_concat`).
- **Shape.** A CTE that names itself is ``WITH RECURSIVE``; a subquery in
  ``FROM`` gets an alias; a CTE named with a word PostgreSQL reserves is renamed.
- **Parameters.** ``:name`` becomes ``%(name)s`` cast to the parameter's
  declared type, ``?`` becomes ``%s``; a ``%`` in the text is doubled.

A read of a ``postgresql://`` store gets its SQL from here; nothing else in
the package knows which dialect it speaks (see :mod:`.readonly`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import sqlglot
from sqlglot import exp

#: The SQL type a declared tool parameter is bound as on PostgreSQL.
PARAM_TYPES: Mapping[str, str] = {
    "text": "TEXT",
    "timestamp": "TEXT",
    "int": "BIGINT",
    "float": "DOUBLE PRECISION",
}

#: Words PostgreSQL reserves that SQLite takes as names (a CTE or alias so named is renamed).
_RESERVED = frozenset(
    {
        "window",
        "order",
        "user",
        "group",
        "offset",
        "limit",
        "desc",
        "asc",
        "end",
        "using",
        "overlaps",
        "analyse",
        "analyze",
        "both",
        "leading",
        "trailing",
        "only",
        "verbose",
    }
)

#: SQLite's strftime fields and PostgreSQL's to_char fields.
_STRFTIME = {
    "%Y": "YYYY",
    "%m": "MM",
    "%d": "DD",
    "%H": "HH24",
    "%M": "MI",
    "%S": "SS",
    "%f": "SS.MS",
    "%j": "DDD",
    "%%": "%",
}

_PREDICATES = (
    exp.Predicate,
    exp.Connector,
    exp.Not,
    exp.Exists,
    exp.Boolean,
)


class DialectError(ValueError):
    """A SQLite text the PostgreSQL translation cannot take (a bug of the text, said at load)."""


# --------------------------------------------------------------------------
# The rewrites, each on the SQLite tree (before it is written as PostgreSQL)
# --------------------------------------------------------------------------


def _is_truth(node: exp.Expression) -> bool:
    """Whether ``node`` is a truth value in PostgreSQL (a comparison, AND/OR/NOT, EXISTS …)."""
    return isinstance(node, _PREDICATES)


def _wants_truth(node: exp.Expression) -> bool:
    """Whether ``node`` sits where PostgreSQL needs a truth value (a condition)."""
    parent = node.parent
    while isinstance(parent, exp.Paren):
        node, parent = parent, parent.parent
    if parent is None:
        return False
    key = node.arg_key
    if isinstance(parent, exp.Where | exp.Having | exp.Qualify | exp.Connector | exp.Not):
        return True
    if isinstance(parent, exp.Join) and key == "on":
        return True
    if isinstance(parent, exp.If) and key == "this":
        # CASE WHEN <this> THEN …, but not the value of a simple CASE x WHEN <this>
        case = parent.parent
        return not (isinstance(case, exp.Case) and case.this is not None)
    return False


def _truth_values(tree: Any) -> None:
    """Comparisons used as values become 1 / 0 / NULL; numbers used as conditions, ``<> 0``."""
    for node in reversed(list(tree.walk())):
        if node.parent is None or isinstance(node, exp.Paren):
            continue
        if isinstance(node, exp.Is) and not isinstance(node.expression, exp.Null | exp.Boolean):
            # SQLite's ``a IS b`` compares NULLs as equal values.
            same = exp.NullSafeEQ(this=node.this.copy(), expression=node.expression.copy())
            node.replace(same)
            node = same
        wants = _wants_truth(node)
        if _is_truth(node) and not wants:
            node.replace(exp.Cast(this=exp.paren(node.copy()), to=exp.DataType.build("INT")))
        elif wants and not _is_truth(node):
            node.replace(exp.NEQ(this=exp.paren(node.copy()), expression=exp.Literal.number(0)))


def _literals(tree: Any) -> None:
    """Decimal literals as doubles: SQLite's arithmetic on them is in doubles."""
    for node in reversed(list(tree.find_all(exp.Literal))):
        if not node.is_string and re.fullmatch(r"\d+\.\d*(e[+-]?\d+)?|\d+e[+-]?\d+", node.this):
            if isinstance(node.parent, exp.Cast):
                continue
            node.replace(exp.Cast(this=node.copy(), to=exp.DataType.build("DOUBLE")))


def _numbers(tree: Any) -> None:
    """AVG as a double, ROUND as SQLite rounds, MAX/MIN of two values NULL when either is."""
    for node in reversed(list(tree.find_all(exp.Avg))):
        whole = node.parent if isinstance(node.parent, exp.Window) else node
        whole.replace(exp.Cast(this=whole.copy(), to=exp.DataType.build("DOUBLE")))
    for node in reversed(list(tree.find_all(exp.Round))):
        digits = node.args.get("decimals")
        decimal = exp.Cast(this=node.this.copy(), to=exp.DataType.build("DECIMAL"))
        rounded = exp.Anonymous(
            this="ROUND", expressions=[decimal] + ([digits.copy()] if digits else [])
        )
        node.replace(exp.Cast(this=rounded, to=exp.DataType.build("DOUBLE")))
    for kind in (exp.Greatest, exp.Least):
        for node in reversed(list(tree.find_all(kind))):
            values = [node.this, *node.expressions]
            some_null = exp.or_(*(exp.Is(this=v.copy(), expression=exp.Null()) for v in values))
            node.replace(
                exp.Case(ifs=[exp.If(this=some_null, true=exp.Null())], default=node.copy())
            )


def _strftime_format(fmt: str) -> str:
    """A strftime format as a to_char one, the literal characters quoted."""
    out: list[str] = []
    literal: list[str] = []
    index = 0
    while index < len(fmt):
        field = fmt[index : index + 2]
        if field in _STRFTIME:
            if literal:
                out.append('"' + "".join(literal) + '"')
                literal = []
            out.append(_STRFTIME[field])
            index += 2
        elif fmt[index] == "%":
            raise DialectError(f"strftime field {field!r} has no translation")
        else:
            literal.append(fmt[index])
            index += 1
    if literal:
        out.append('"' + "".join(literal) + '"')
    return "".join(out)


def _texts(tree: Any) -> None:
    """strftime, json_extract, LIKE, GLOB and group_concat as SQLite answers them."""
    for node in reversed(list(tree.find_all(exp.TimeToStr))):
        fmt = node.args["format"]
        if not isinstance(fmt, exp.Literal) or not fmt.is_string:
            raise DialectError("strftime needs a literal format")
        value = node.this
        if isinstance(value, exp.TsOrDsToTimestamp):
            value = value.this
        stamp = exp.Cast(this=value.copy(), to=exp.DataType.build("TIMESTAMP"))
        node.replace(
            exp.Anonymous(
                this="TO_CHAR",
                expressions=[stamp, exp.Literal.string(_strftime_format(fmt.this))],
            )
        )
    for node in reversed(list(tree.find_all(exp.JSONExtractScalar, exp.JSONExtract))):
        path = node.expression
        text = path.sql(dialect="sqlite") if isinstance(path, exp.JSONPath) else None
        if text is None and isinstance(path, exp.Literal):
            text = path.this
        if text is None:
            raise DialectError("json_extract needs a literal path")
        text = text.strip("'")
        node.replace(
            exp.Anonymous(
                this="json_extract", expressions=[node.this.copy(), exp.Literal.string(text)]
            )
        )
    for node in reversed(list(tree.find_all(exp.Like))):
        # SQLite's LIKE ignores the case of ASCII letters.
        node.replace(exp.ILike(this=node.this.copy(), expression=node.expression.copy()))
    if tree.find(exp.Glob) is not None:
        raise DialectError("GLOB has no translation; use LIKE or =")
    for node in reversed(list(tree.find_all(exp.GroupConcat))):
        _group_concat(node)


def _group_concat(node: Any) -> None:
    """``group_concat`` as ``string_agg`` of text, in the order the SQLite text gives its rows.

    SQLite (before 3.44) takes no ORDER BY inside an aggregate: a list's order is
    the order of the rows it reads, which the tools fix with an ordered subquery
    in ``FROM`` (SQLite keeps that order: it never flattens an ordered subquery
    into an aggregate). PostgreSQL promises no such thing, so the subquery's
    ORDER BY (after the GROUP BY keys) moves inside ``string_agg``; a
    ``DISTINCT`` list, which PostgreSQL orders by its value only, is ordered by
    its value (the tools list distinct values in order).
    """
    arg = node.this
    distinct = isinstance(arg, exp.Distinct)
    value = arg.expressions[0] if distinct else arg
    separator = node.args.get("separator") or exp.Literal.string(",")
    text = exp.Cast(this=value.copy(), to=exp.DataType.build("TEXT"))
    order: list[exp.Ordered] = []
    if distinct:
        order = [exp.Ordered(this=text.copy(), nulls_first=True)]
    else:
        order = _feeding_order(node)
        if not order:
            raise DialectError(
                "a list (group_concat) must read ordered rows: a subquery or CTE with ORDER BY"
            )
    agg_value: exp.Expression = exp.Distinct(expressions=[text]) if distinct else text
    tail: exp.Expression = separator.copy()
    if order:
        tail = exp.Order(this=tail, expressions=order)
    node.replace(exp.Anonymous(this="STRING_AGG", expressions=[agg_value, tail]))


def _feeding_order(node: exp.Expression) -> list[exp.Ordered]:
    """The ORDER BY of the ordered rows (a subquery or CTE) the aggregate's SELECT reads,
    less its GROUP BY keys."""
    select = node.find_ancestor(exp.Select)
    if select is None:
        return []
    source = select.args.get("from_")
    feeding = source.this if source is not None else None
    if isinstance(feeding, exp.Subquery):
        feeding = feeding.this
    elif isinstance(feeding, exp.Table):
        feeding = _cte(select, feeding.name)
    if not isinstance(feeding, exp.Select) or feeding.args.get("order") is None:
        return []
    group = select.args.get("group")
    keys = {g.name for g in group.expressions} if group is not None else set()
    kept = []
    for ordered in feeding.args["order"].expressions:
        column = ordered.this
        if not isinstance(column, exp.Column):
            raise DialectError(
                f"a list (group_concat) reads rows ordered by {column.sql()}: order them by "
                "a column the rows carry"
            )
        if column.name in keys:
            continue
        # The aggregate sees the ordered rows' columns by name.
        kept.append(
            exp.Ordered(
                this=exp.column(column.name),
                desc=ordered.args.get("desc"),
                nulls_first=not ordered.args.get("desc"),  # SQLite: NULLs are the smallest
            )
        )
    return kept


def _cte(node: Any, name: str) -> Any:
    """The query of the CTE ``name`` that ``node`` can see."""
    scope = node
    while scope is not None:
        with_ = scope.args.get("with_")
        if with_ is not None:
            for cte in with_.expressions:
                if cte.args["alias"].name == name:
                    return cte.this
        scope = scope.parent
    return None


@functools.lru_cache(maxsize=1)
def _not_null() -> dict[str, frozenset[str]]:
    """The columns of each table of the schema that never hold NULL."""
    import sqlite3

    from otel_obs.exporters import schema

    conn = sqlite3.connect(":memory:")
    try:
        schema.migrate(conn)
        return {
            table: frozenset(
                row[1] for row in conn.execute(f"PRAGMA table_info({table})") if row[3] or row[5]
            )
            for table in schema.TABLES
        }
    finally:
        conn.close()


def _table_of(column: Any, select: Any) -> str | None:
    """The schema table ``column`` reads in ``select`` (None: a CTE's, a subquery's, unknown)."""
    sources = []
    source = select.args.get("from_")
    if source is not None:
        sources.append(source.this)
    sources += [join.this for join in select.args.get("joins") or ()]
    tables = [t for t in sources if isinstance(t, exp.Table)]
    ctes = set()
    scope = select
    while scope is not None:
        with_ = scope.args.get("with_")
        if with_ is not None:
            ctes |= {cte.args["alias"].name for cte in with_.expressions}
        scope = scope.parent
    if column.table:
        found = [t for t in tables if (t.alias or t.name) == column.table]
    else:
        found = tables if len(sources) == 1 else []
    if len(found) != 1 or found[0].name in ctes or found[0].name not in _not_null():
        return None
    return str(found[0].name)


def _orders(tree: Any) -> None:
    """No NULLS FIRST / LAST on a column that holds no NULL: an index then serves the order.

    sqlglot places NULLs as SQLite does (first ascending, last descending), the
    opposite of PostgreSQL's default, which an index scan in either direction
    gives; on a NOT NULL column of the schema where NULLs go does not matter.
    """
    for ordered in tree.find_all(exp.Ordered):
        column = ordered.this
        select = ordered.find_ancestor(exp.Select)
        if not isinstance(column, exp.Column) or select is None:
            continue
        table = _table_of(column, select)
        if table is not None and column.name in _not_null()[table]:
            ordered.set("nulls_first", bool(ordered.args.get("desc")))


def _shape(tree: Any) -> None:
    """WITH RECURSIVE where a CTE names itself; aliases for subqueries; reserved names renamed."""
    with_ = tree.args.get("with_")
    if with_ is not None:
        for cte in with_.expressions:
            name = cte.args["alias"].name
            if any(t.name == name for t in cte.this.find_all(exp.Table)):
                with_.set("recursive", True)
    renames = {}
    for cte in tree.find_all(exp.CTE):
        alias = cte.args["alias"]
        if alias.name.lower() in _RESERVED:
            renames[alias.name] = f"{alias.name}_"
            alias.set("this", exp.to_identifier(renames[alias.name]))
    if renames:
        for table in tree.find_all(exp.Table):
            if table.name in renames:
                table.set("this", exp.to_identifier(renames[table.name]))
        for column in tree.find_all(exp.Column):
            if column.table in renames:
                column.set("table", exp.to_identifier(renames[column.table]))
    count = 0
    for sub in list(tree.find_all(exp.Subquery)):
        if sub.alias or not isinstance(sub.parent, exp.From | exp.Join):
            continue
        count += 1
        sub.set("alias", exp.TableAlias(this=exp.to_identifier(f"_sq{count}")))


def _parameters(tree: Any, types: Mapping[str, str]) -> None:
    """``:name`` as a placeholder cast to its declared type (kept plain where none is known)."""
    for node in reversed(list(tree.find_all(exp.Placeholder))):
        name = node.name
        if not name or name == "?":
            node.replace(exp.Var(this=_POSITIONAL))
            continue
        kind = types.get(name)
        marker = exp.Var(this=f"{_NAMED}{name}__")
        if kind is None:
            node.replace(marker)
        else:
            node.replace(exp.Cast(this=marker, to=exp.DataType.build(PARAM_TYPES[kind])))


# --------------------------------------------------------------------------
# The translation
# --------------------------------------------------------------------------

_NAMED = "pgparam__"
_POSITIONAL = "pgparam_positional__"
_MARKER = re.compile(rf"{_NAMED}([A-Za-z_]\w*?)__|{_POSITIONAL}")


def _placeholders(sql: str) -> str:
    """Every ``%`` doubled (psycopg reads ``%`` as a placeholder), then the placeholders."""
    return _MARKER.sub(
        lambda m: f"%({m.group(1)})s" if m.group(1) else "%s", sql.replace("%", "%%")
    )


@functools.lru_cache(maxsize=512)
def postgres_sql(sql: str, types: tuple[tuple[str, str], ...] = ()) -> str:
    """``sql`` (SQLite) as PostgreSQL, parameters ``%(name)s`` / ``%s``; cached.

    ``types``: the declared types of the named parameters (a tool's), cast to on the server.
    """
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.ParseError as exc:
        raise DialectError(f"the SQL does not parse: {exc}") from None
    _shape(tree)
    _texts(tree)
    _numbers(tree)
    _literals(tree)
    _truth_values(tree)
    _orders(tree)
    _parameters(tree, dict(types))
    return _placeholders(tree.sql(dialect="postgres", comments=False))


__all__ = ["PARAM_TYPES", "DialectError", "postgres_sql"]
