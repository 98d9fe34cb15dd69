"""What a tool use's input says about it: the field a reader wants to see, and the file it touches.

Both follow from the tool's name and its input, so the store derives them
(``exporters/mapping/`` parses the stored input JSON) instead of the agent
putting them on every tool span: three span attributes and their computation
fewer on the agent's thread, which is the hot path of the whole library. The
producer still states what the store cannot know afterwards — whether a
``Write`` created or replaced its file (it looks when the tool starts) — and,
for an input too large to store whole, the facts themselves.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from .conventions import DEFAULT_FILE_OPERATION
from .redaction import shorten

INPUT_SUMMARY_MAX = 200
#: How long a tool's output summary is (the store shortens the output to it).
OUTPUT_SUMMARY_MAX = 500

#: Input keys naming the file a file tool touches, in the order they are tried.
FILE_KEYS = ("file_path", "path", "notebook_path")
#: Input keys a summary shows first, in this order; else the input's JSON.
SALIENT_KEYS = (
    "command",
    "file_path",
    "notebook_path",
    "path",
    "pattern",
    "url",
    "query",
    "description",
    "prompt",
)
READ_TOOLS = frozenset({"Read", "Glob", "Grep", "LS"})
UPDATE_TOOLS = frozenset({"Edit", "MultiEdit", "NotebookEdit"})
#: Tools whose input may name a file they touch.
FILE_TOOLS = READ_TOOLS | UPDATE_TOOLS | {"Write", "Bash"}
#: The JSON decoder's C scanner: ``json.loads`` wraps it in about a microsecond of
#: Python, which the store would pay for every tool use it maps.
_SCAN: Callable[[str, int], tuple[Any, int]] = (
    # Set by JSONDecoder.__init__, which typeshed does not declare.
    json.decoder.JSONDecoder().scan_once  # type: ignore[attr-defined]
)
# ``rm [-f] <one file>``: a plain single-file removal (not -r, no globs, not a directory).
_RM_RE = re.compile(r"^\s*rm\s+(?:-f\s+)?(?P<path>[^\s;&|<>*?'\"`$-][^\s;&|<>*?'\"`$]*)\s*$")


def salient_text(tool_input: Any, fallback: str, redact: Callable[[str], str] | None = None) -> str:
    """The one input field a reader wants to see (the command, the file), else ``fallback``.

    ``redact`` scrubs the field when it may hold a secret (the input's JSON,
    the fallback, is redacted already).
    """
    if type(tool_input) is dict or isinstance(tool_input, Mapping):  # exact type: no ABC check
        for key in SALIENT_KEYS:
            value = tool_input.get(key)
            if isinstance(value, str) and value:
                return redact(value) if redact is not None else value
    return fallback


def file_facts(
    name: str, tool_input: Mapping[str, Any], exists: Callable[[str], bool] | None = os.path.exists
) -> tuple[str | None, str | None]:
    """The file a file tool touches and how: READ / CREATE / UPDATE / DELETE.

    A ``Write`` creates its file or replaces it; ``exists`` tells which (None:
    not known here, the operation is left None for the caller to fill).
    """
    if name in READ_TOOLS or name == "Write" or name in UPDATE_TOOLS:
        for key in FILE_KEYS:
            path = tool_input.get(key)
            if isinstance(path, str) and path:
                break
        else:
            return None, None
        if name in READ_TOOLS:
            return path, "READ"
        if name == "Write":
            if exists is None:
                return path, None
            return path, ("UPDATE" if exists(path) else "CREATE")
        return path, "UPDATE"
    if name == "Bash":
        command = tool_input.get("command")
        if isinstance(command, str):
            match = _RM_RE.match(command)
            if match and not match.group("path").endswith("/"):
                return match.group("path"), "DELETE"
    return None, None


def input_facts(name: str, input_json: str | None) -> tuple[str | None, str | None, str | None]:
    """(input summary, file path, file operation) from a tool's stored input JSON.

    The JSON is the producer's, already redacted. A ``Write``'s operation
    comes back None (only the producer knew whether the file existed).
    """
    if not input_json:
        return None, None, None
    try:
        tool_input = _parse(input_json)
    except ValueError:
        return shorten(input_json, INPUT_SUMMARY_MAX), None, None
    summary = shorten(salient_text(tool_input, input_json), INPUT_SUMMARY_MAX)
    if name in FILE_TOOLS and isinstance(tool_input, dict):
        return (summary, *file_facts(name, tool_input, None))
    return summary, None, None


def tool_span_facts(
    name: str,
    category: str | None,
    summary: str | None,
    path: str | None,
    operation: str | None,
    input_json: str | None,
) -> tuple[str | None, str | None, str | None]:
    """(input summary, file path, file operation) of a tool span: what it states, else derived.

    The one place both readers of tool spans (the store's mapping, the OTLP
    view) complete them. A file without an operation takes its category's
    default (a read reads, a write updates).
    """
    if summary is None or (path is None and name in FILE_TOOLS):
        derived_summary, derived_path, derived_operation = input_facts(name, input_json)
        if summary is None:
            summary = derived_summary
        if path is None and derived_path is not None:
            path = derived_path
            operation = operation or derived_operation
    if path is not None and operation is None and category is not None:
        operation = DEFAULT_FILE_OPERATION.get(category)
    return summary, path, operation


def _parse(text: str) -> Any:
    """``json.loads(text)``, by the C scanner when the text is one value and nothing else."""
    try:
        value, end = _SCAN(text, 0)
    except StopIteration:  # no value at the start (say, leading whitespace)
        return json.loads(text)
    if end != len(text):
        return json.loads(text)  # trailing text: json.loads decides (and raises on garbage)
    return value


__all__ = [
    "FILE_KEYS",
    "FILE_TOOLS",
    "INPUT_SUMMARY_MAX",
    "OUTPUT_SUMMARY_MAX",
    "READ_TOOLS",
    "SALIENT_KEYS",
    "UPDATE_TOOLS",
    "file_facts",
    "input_facts",
    "salient_text",
    "tool_span_facts",
]
