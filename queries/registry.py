"""Loads the SQL tools (``queries/*.sql``) and binds their parameters.

Each tool is one ``.sql`` file whose header of ``-- key: value`` lines names
its id, title, family, parameters and output columns (format below). The
header is the tool's whole contract, so it is checked when the tools load: a
malformed header fails loudly, naming the file and the problem, rather than
surfacing later as a wrong answer in an agent's diagnosis.

Header format::

    -- id: T003
    -- title: First error and what followed
    -- family: troubleshooting
    -- param: execution_id text
    -- param: window int = 5
    -- param: now timestamp = now
    -- param: task_list_id text?
    -- returns: sequence, timestamp, entry_type, summary, is_first_error
    -- purpose: Where the run first went wrong and the entries right after it.

``param: <name> <type>[?] [= default]`` with type text / int / float /
timestamp; ``?`` makes it optional (NULL when not given); ``= now`` on a
timestamp means the current UTC time. A line ``--   more words`` (two or more
spaces after ``--``) continues the previous value. The header ends at the
first line that is not a ``--`` comment; the SQL after it is exactly one
SELECT (CTEs allowed) that binds ``:name`` parameters only.

Files are read through :mod:`importlib.resources`, so the same code works from
a wheel and from an editable install.
"""

from __future__ import annotations

import functools
import math
import re
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from otel_obs.exporters import schema

#: Family name by the letter its tool ids start with.
FAMILIES: Mapping[str, str] = {
    "V": "validation",
    "T": "troubleshooting",
    "I": "investigation",
    "A": "aggregation",
    "P": "parallel",
    "D": "anomaly",
    "C": "cost",
}
PARAM_TYPES = ("text", "int", "float", "timestamp")
HEADER_KEYS = ("id", "title", "family", "param", "returns", "purpose")
_REQUIRED_KEYS = ("id", "title", "family", "returns", "purpose")
_SINGLE_KEYS = ("id", "title", "family", "returns", "purpose")

_ID_RE = re.compile(rf"^[{''.join(FAMILIES)}]\d{{3}}$")
_HEADER_RE = re.compile(r"^--\s?([a-z_]+):\s*(.*?)\s*$")
_CONTINUATION_RE = re.compile(r"^--\s{2,}(\S.*?)\s*$")
_PARAM_RE = re.compile(
    r"^(?P<name>[A-Za-z_]\w*)\s+(?P<type>[a-z]+)(?P<optional>\?)?(?:\s*=\s*(?P<default>.+))?$"
)
_IDENT_RE = re.compile(r"^[A-Za-z_]\w*$")
# SQL text with string literals, quoted identifiers and comments removed, so
# a ':' inside '%H:%M' or a comment is not taken for a parameter.
_SQL_NOISE_RE = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.DOTALL)
_BIND_RE = re.compile(r"(?<![\w:]):([A-Za-z_]\w*)")
_OTHER_BIND_RE = re.compile(r"(?<![\w:])(?:\?\d*|[@$][A-Za-z_]\w*)")

#: Timestamps in the store: ISO-8601 UTC, microseconds, ``Z``.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
NOW = "now"


class ToolDefinitionError(ValueError):
    """A ``.sql`` tool file whose header or SQL breaks the format."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


@dataclass(frozen=True)
class Param:
    """One declared parameter of a tool."""

    name: str
    type: str
    required: bool
    default: Any = None

    def describe(self) -> str:
        """The parameter as a person would write it: ``window int = 5``."""
        text = f"{self.name} {self.type}"
        if self.default is not None:
            return f"{text} = {self.default}"
        return text if self.required else f"{text}?"

    def coerce(self, value: Any) -> Any:
        """``value`` as the SQL expects it; ValueError naming the parameter if it can't be."""
        if value is None:
            return None
        try:
            if self.type == "int":
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError
                number: int | float = int(value)
            elif self.type == "float":
                if isinstance(value, bool):
                    raise ValueError
                number = float(value)
            elif self.type == "timestamp":
                return format_timestamp(value)
            else:
                return str(value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(
                f"parameter {self.name!r} must be {self.type}, got {value!r}"
            ) from None
        # Every numeric parameter is a count, a window or a threshold: a negative
        # one (SQLite reads LIMIT -1 as "no limit") or NaN would answer quietly wrong.
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"parameter {self.name!r} must be a {self.type} >= 0, got {value!r}")
        return number

    def default_value(self) -> Any:
        """The value bound when the caller gives none (``now`` is evaluated per call)."""
        if self.default == NOW:
            return format_timestamp(datetime.now(timezone.utc))
        return self.default


@dataclass(frozen=True)
class Tool:
    """A SQL tool: its header and the one SELECT it runs."""

    id: str
    title: str
    family: str
    params: tuple[Param, ...]
    returns: tuple[str, ...]
    purpose: str
    sql: str
    source: str = field(default="", compare=False)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def param_types(self) -> tuple[tuple[str, str], ...]:
        """``(name, type)`` of each parameter: what a server binds them as."""
        return tuple((p.name, p.type) for p in self.params)

    def bind(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Named parameters for :meth:`sqlite3.Connection.execute`, coerced and defaulted.

        Unknown or missing names raise ValueError listing the valid ones: an
        agent calling a tool by hand learns the right call from the message.
        """
        valid = ", ".join(p.describe() for p in self.params) or "(none)"
        unknown = sorted(set(params) - set(self.param_names))
        if unknown:
            raise ValueError(
                f"{self.id} has no parameter {', '.join(map(repr, unknown))}; "
                f"valid parameters: {valid}"
            )
        bound: dict[str, Any] = {}
        for param in self.params:
            value = params.get(param.name)
            if value is None:
                if param.required:
                    raise ValueError(
                        f"{self.id} needs parameter {param.name!r}; valid parameters: {valid}"
                    )
                bound[param.name] = param.default_value()
            else:
                bound[param.name] = param.coerce(value)
        return bound


def format_timestamp(value: Any) -> str:
    """``value`` (datetime or ISO-8601 text) in the store's one timestamp format."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        raise ValueError(f"not a timestamp: {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime(TIMESTAMP_FORMAT)


#: A line of a tool's SQL that stands for a shared fragment (``queries/<name>.cte``).
_INCLUDE_RE = re.compile(r"^[ \t]*-- include: ([a-z_]+)[ \t]*$", re.M)


def _package_fragments() -> dict[str, str]:
    """The shared SQL fragments shipped beside the tools, by name (``<name>.cte``)."""
    package = resources.files("otel_obs.queries")
    return {
        p.name.removesuffix(".cte"): p.read_text(encoding="utf-8").strip()
        for p in package.iterdir()
        if p.name.endswith(".cte")
    }


def _expand(sql: str, source: str, fragments: Mapping[str, str]) -> str:
    """``sql`` with each ``-- include: NAME`` line replaced by that fragment: one text for
    what several tools share (the cost tools' counting rule), still one query per tool."""

    def fragment(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in fragments:
            known = ", ".join(sorted(fragments)) or "none"
            raise ToolDefinitionError(source, f"unknown include {name!r}; fragments: {known}")
        return fragments[name]

    return _INCLUDE_RE.sub(fragment, sql)


def parse_tool(text: str, source: str, fragments: Mapping[str, str] | None = None) -> Tool:
    """Parse and check one tool file's text; ToolDefinitionError names ``source``.

    ``fragments``: the shared SQL its ``-- include:`` lines name (default: the package's).
    """
    lines = text.splitlines()
    values: dict[str, list[str]] = {}
    order: list[str] = []
    body_start = len(lines)
    for index, line in enumerate(lines):
        stripped = line.rstrip()
        if not stripped.startswith("--"):
            body_start = index
            break
        continuation = _CONTINUATION_RE.match(stripped)
        if continuation and order:
            key = order[-1]
            values[key][-1] = f"{values[key][-1]} {continuation.group(1)}"
            continue
        match = _HEADER_RE.match(stripped)
        if not match:
            raise ToolDefinitionError(
                source, f"line {index + 1}: header line is not '-- key: value': {stripped!r}"
            )
        key, value = match.groups()
        if key not in HEADER_KEYS:
            raise ToolDefinitionError(
                source,
                f"line {index + 1}: unknown header key {key!r}; valid keys: "
                + ", ".join(HEADER_KEYS),
            )
        if key in _SINGLE_KEYS and key in values:
            raise ToolDefinitionError(source, f"line {index + 1}: header key {key!r} repeated")
        if not value:
            raise ToolDefinitionError(source, f"line {index + 1}: header key {key!r} is empty")
        values.setdefault(key, []).append(value)
        order.append(key)

    missing = [k for k in _REQUIRED_KEYS if k not in values]
    if missing:
        raise ToolDefinitionError(source, f"header lacks {', '.join(missing)}")

    tool_id = values["id"][0]
    if not _ID_RE.match(tool_id):
        raise ToolDefinitionError(
            source, f"id {tool_id!r} is not a family letter ({''.join(FAMILIES)}) and 3 digits"
        )
    name = Path(source).name
    if name.endswith(".sql") and not name.startswith(f"{tool_id}_"):
        raise ToolDefinitionError(source, f"file name must start with '{tool_id}_'")
    family = values["family"][0]
    if family != FAMILIES[tool_id[0]]:
        raise ToolDefinitionError(
            source,
            f"family {family!r} does not match id {tool_id} (expected {FAMILIES[tool_id[0]]!r})",
        )

    params = tuple(_parse_param(p, source) for p in values.get("param", []))
    seen: set[str] = set()
    for param in params:
        if param.name in seen:
            raise ToolDefinitionError(source, f"parameter {param.name!r} declared twice")
        seen.add(param.name)

    returns = tuple(c.strip() for c in values["returns"][0].split(","))
    bad = [c for c in returns if not _IDENT_RE.match(c)]
    if bad:
        raise ToolDefinitionError(source, f"returns lists non-identifiers: {bad}")
    if len(set(returns)) != len(returns):
        raise ToolDefinitionError(source, "returns lists a column twice")

    sql = "\n".join(lines[body_start:]).strip()
    if _INCLUDE_RE.search(sql):
        sql = _expand(sql, source, _package_fragments() if fragments is None else fragments)
    _check_sql(sql, params, source)
    return Tool(
        id=tool_id,
        title=values["title"][0],
        family=family,
        params=params,
        returns=returns,
        purpose=values["purpose"][0],
        sql=sql,
        source=source,
    )


def _parse_param(spec: str, source: str) -> Param:
    match = _PARAM_RE.match(spec)
    if not match:
        raise ToolDefinitionError(source, f"param {spec!r} is not '<name> <type>[?] [= default]'")
    name, type_, optional, default = match.group("name", "type", "optional", "default")
    if type_ not in PARAM_TYPES:
        raise ToolDefinitionError(
            source,
            f"param {name!r} has unknown type {type_!r}; valid types: {', '.join(PARAM_TYPES)}",
        )
    if optional and default is not None:
        raise ToolDefinitionError(source, f"param {name!r} is both optional and defaulted")
    probe = Param(name, type_, required=False)
    value: Any = None
    if default is not None:
        default = default.strip()
        if default == NOW:
            if type_ != "timestamp":
                raise ToolDefinitionError(
                    source, f"param {name!r}: default 'now' needs type timestamp"
                )
            value = NOW
        else:
            try:
                value = probe.coerce(default.strip("'\""))
            except ValueError as exc:
                raise ToolDefinitionError(source, f"param {name!r}: bad default: {exc}") from None
    required = not optional and default is None
    return Param(name=name, type=type_, required=required, default=value)


def _check_sql(sql: str, params: Iterable[Param], source: str) -> None:
    """One SELECT, named parameters only, declared ones all used and no others."""
    if not sql:
        raise ToolDefinitionError(source, "no SQL after the header")
    code = _SQL_NOISE_RE.sub(" ", sql).strip()
    first = code.split(None, 1)[0].upper() if code else ""
    if first not in ("SELECT", "WITH"):
        raise ToolDefinitionError(
            source, f"SQL must be a SELECT (or WITH …), starts with {first!r}"
        )
    body = code.rstrip().rstrip(";")
    if ";" in body:
        raise ToolDefinitionError(source, "SQL holds more than one statement")
    others = _OTHER_BIND_RE.findall(code)
    if others:
        raise ToolDefinitionError(source, f"bind with :name only, found {sorted(set(others))}")
    used = set(_BIND_RE.findall(code))
    declared = {p.name for p in params}
    if used - declared:
        raise ToolDefinitionError(
            source, f"SQL uses undeclared parameter(s): {', '.join(sorted(used - declared))}"
        )
    if declared - used:
        raise ToolDefinitionError(
            source, f"declared parameter(s) unused in the SQL: {', '.join(sorted(declared - used))}"
        )


def check_against_schema(tool: Tool, conn: sqlite3.Connection) -> None:
    """Run ``tool`` on an empty store: the SQL compiles and its columns equal ``returns``."""
    try:
        # Defaults where declared (a LIMIT can't take NULL), NULL otherwise.
        probe = {p.name: p.default_value() for p in tool.params}
        cursor = conn.execute(tool.sql, probe)
    except sqlite3.Error as exc:
        raise ToolDefinitionError(tool.source, f"SQL does not run: {exc}") from None
    columns = tuple(d[0] for d in cursor.description or ())
    cursor.fetchall()
    if columns != tool.returns:
        raise ToolDefinitionError(
            tool.source,
            f"returns header {list(tool.returns)} differs from the SELECT's "
            f"columns {list(columns)}",
        )


def _empty_store() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    schema.migrate(conn)
    return conn


def load_tools_from(paths: Iterable[Path | Any], *, check_schema: bool = True) -> dict[str, Tool]:
    """Parse tool files (paths or importlib Traversables) into tools by id."""
    tools: dict[str, Tool] = {}
    conn = _empty_store() if check_schema else None
    try:
        for path in sorted(paths, key=lambda p: p.name):
            tool = parse_tool(path.read_text(encoding="utf-8"), f"queries/{path.name}")
            if tool.id in tools:
                raise ToolDefinitionError(
                    tool.source, f"id {tool.id} already defined by {tools[tool.id].source}"
                )
            if conn is not None:
                check_against_schema(tool, conn)
            tools[tool.id] = tool
    finally:
        if conn is not None:
            conn.close()
    return dict(sorted(tools.items()))


@functools.lru_cache(maxsize=1)
def _cached_tools() -> dict[str, Tool]:
    package = resources.files("otel_obs.queries")
    files = [p for p in package.iterdir() if p.name.endswith(".sql")]
    return load_tools_from(files)


def load_tools() -> dict[str, Tool]:
    """Every tool shipped in ``otel_obs.queries``, by id (loaded and checked once)."""
    return dict(_cached_tools())


def get_tool(tool_id: str) -> Tool:
    """The tool with ``tool_id``; ValueError listing the valid ids otherwise."""
    tools = _cached_tools()
    tool = tools.get(str(tool_id).strip().upper())
    if tool is None:
        raise ValueError(f"unknown tool id {tool_id!r}; valid ids: {', '.join(tools)}")
    return tool
