"""The MCP tools otel-obs offers: every SQL tool, and the spec's ObservabilitySkills methods.

Each tool's input schema is generated from the registry's typed parameters
(the ``-- param:`` lines of its ``.sql`` header), its description from the
header's title and purpose; a spec method takes the parameters of the SQL
tool it is built on, as far as its signature names them. Arguments are
checked against that schema (``jsonschema``) and then coerced by the
registry, so a bad call is refused with a message naming the parameter before
any SQL runs. This module knows nothing of MCP itself (:mod:`.server` does).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from ..queries.jsonable import to_jsonable
from ..queries.registry import Param, Tool, get_tool, load_tools
from ..queries.runner import ObservabilitySkills

#: The spec's methods, each with the SQL tool whose parameters it takes.
SPEC_METHODS: Mapping[str, str] = {
    "validate": "V001",
    "find_errors": "T001",
    "find_blocked": "T002",
    "find_incomplete": "T004",
    "parallel_health": "P002",
    "find_wave_bottlenecks": "P005",
    "detect_anomalies": "D001",
    "execution_summary": "A001",
    "tool_usage_stats": "I002",
    "trace_task": "I001",
}

#: ``:class:`Name``` in a docstring reads as ``Name`` in a description.
_RST_ROLE = re.compile(r":\w+:`([^`]+)`")
_JSON_TYPES = {"text": "string", "int": "integer", "float": "number", "timestamp": "string"}


class BadArguments(ValueError):
    """A call whose arguments do not fit the tool's schema; the message names them."""


def param_schema(param: Param) -> dict[str, Any]:
    """One parameter as JSON Schema: its type, ``null`` when optional, its default."""
    schema: dict[str, Any] = {"type": _JSON_TYPES[param.type]}
    if param.type in ("int", "float"):
        schema["minimum"] = 0  # counts, windows and thresholds (the registry refuses < 0)
    if param.type == "timestamp":
        schema["format"] = "date-time"
        schema["description"] = "ISO-8601 time (UTC when no offset)"
    if not param.required and param.default is None:
        schema["type"] = [schema["type"], "null"]
    if param.default is not None:
        if param.default == "now":
            schema["description"] = "ISO-8601 time; default: the current time"
        else:
            schema["default"] = param.default
    return schema


def input_schema(params: tuple[Param, ...]) -> dict[str, Any]:
    """The input schema of a tool taking ``params``."""
    return {
        "type": "object",
        "properties": {p.name: param_schema(p) for p in params},
        "required": [p.name for p in params if p.required],
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class McpTool:
    """One MCP tool: its name, title, description, parameters and what runs it."""

    name: str
    title: str
    description: str
    params: tuple[Param, ...]
    run: Callable[[ObservabilitySkills, dict[str, Any]], Any]

    @property
    def input_schema(self) -> dict[str, Any]:
        return input_schema(self.params)

    def check(self, arguments: Mapping[str, Any] | None) -> dict[str, Any]:
        """The arguments coerced for the registry; BadArguments naming every bad one."""
        given = dict(arguments or {})
        validator = jsonschema.Draft202012Validator(self.input_schema)
        problems = sorted(validator.iter_errors(given), key=lambda e: list(e.path))
        valid = ", ".join(p.describe() for p in self.params) or "(none)"
        if problems:
            named = "; ".join(
                f"parameter {e.path[0]!r}: {e.message}" if e.path else e.message for e in problems
            )
            raise BadArguments(f"{self.name}: {named}; valid parameters: {valid}")
        by_name = {p.name: p for p in self.params}
        try:
            return {k: by_name[k].coerce(v) for k, v in given.items() if v is not None}
        except ValueError as error:
            raise BadArguments(f"{self.name}: {error}; valid parameters: {valid}") from None

    def call(self, skills: ObservabilitySkills, arguments: Mapping[str, Any] | None) -> Any:
        """Check the arguments, run the tool, return plain JSON values."""
        return to_jsonable(self.run(skills, self.check(arguments)))


def _describe(tool: Tool, lead: str | None = None) -> str:
    parts = [lead] if lead else []
    parts.append(f"{tool.id} {tool.title}: {tool.purpose}")
    parts.append(f"Returns rows with: {', '.join(tool.returns)}.")
    return "\n".join(parts)


def _sql_tool(tool: Tool) -> McpTool:
    tool_id = tool.id
    return McpTool(
        name=tool.id,
        title=f"{tool.id} {tool.title}",
        description=_describe(tool),
        params=tool.params,
        run=lambda skills, args: skills.run(tool_id, **args),
    )


def _spec_method(name: str, tool_id: str) -> McpTool:
    method = getattr(ObservabilitySkills, name)
    accepted = set(inspect.signature(method).parameters) - {"self"}
    tool = get_tool(tool_id)
    params = tuple(p for p in tool.params if p.name in accepted)
    lead = (inspect.getdoc(method) or name).split("\n\n")[0].replace("\n", " ")
    lead = _RST_ROLE.sub(r"\1", lead)
    return McpTool(
        name=name,
        title=name.replace("_", " "),
        description=f"{lead}\nBuilt on {_describe(tool)}",
        params=params,
        run=lambda skills, args: getattr(skills, name)(**args),
    )


def catalog() -> dict[str, McpTool]:
    """Every MCP tool by name: the SQL tools by id, then the spec's methods."""
    tools = {tool.id: _sql_tool(tool) for tool in load_tools().values()}
    tools.update({name: _spec_method(name, tid) for name, tid in SPEC_METHODS.items()})
    return tools
