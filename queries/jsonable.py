"""Plain JSON values from what the diagnoses return (models, dataclasses, paths, times).

The command line's JSON, the MCP server's structured results and the HTML
report all show the same answers; converting them in one place keeps them equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

#: Values already plain, by exact type (subclasses take the general path below).
_PLAIN = frozenset({str, int, float, bool, type(None)})


def to_jsonable(value: Any) -> Any:
    """Plain JSON types from models, dataclasses, paths and datetimes.

    Plain values, dicts and lists are recognised by their exact type first: a
    report converts millions of them, and the general checks below (an ABC
    ``isinstance``, two ``hasattr``) cost several times the conversion.
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): to_jsonable(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [to_jsonable(v) for v in value]
    if hasattr(value, "model_dump"):
        return to_jsonable(value.model_dump(mode="json"))
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return to_jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
