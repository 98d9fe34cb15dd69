"""Small pure helpers every mapping module shares: times, JSON details, numbers, ids.

Also :class:`SpanLike`, what the mapping reads from a span.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Protocol

from otel_obs.redaction import finite_json


class SpanLike(Protocol):
    """What the mapping reads from a span: an SDK ``ReadableSpan`` (live or ended) fits."""

    @property
    def name(self) -> str: ...

    @property
    def attributes(self) -> Mapping[str, Any] | None: ...

    @property
    def context(self) -> Any: ...

    @property
    def start_time(self) -> int | None: ...

    @property
    def end_time(self) -> int | None: ...

    @property
    def events(self) -> Iterable[Any]: ...

    @property
    def resource(self) -> Any: ...


@lru_cache(maxsize=4096)
def _second_prefix(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def iso_from_ns(ns: int) -> str:
    """Nanoseconds since the epoch as the store's one timestamp format."""
    seconds, micros = divmod(ns // 1000, 1_000_000)
    return "%s.%06dZ" % (_second_prefix(seconds), micros)  # noqa: UP031 - the fastest form


def ms_between(start_ns: int | None, end_ns: int | None) -> float | None:
    if start_ns is None or end_ns is None:
        return None
    return (end_ns - start_ns) / 1_000_000


def json_object_text(raw: Any) -> str | None:
    """``raw`` as the text of a JSON object, so SQL ``json_extract`` never meets bad JSON.

    Producers send details as JSON text; anything else (plain text, a JSON
    list, a malformed string) is kept under ``{"value": ...}`` rather than lost.
    """
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        return _object_text_of_str(raw)
    if isinstance(raw, Mapping):
        return finite_json(_OBJECT_ENCODER, dict(raw))
    return finite_json(_OBJECT_ENCODER, {"value": raw})


#: Details as ``json.dumps`` writes them, refusing NaN (see redaction.finite_json).
_OBJECT_ENCODER = json.JSONEncoder(default=str, allow_nan=False)


@lru_cache(maxsize=1024)
def _object_text_of_str(raw: str) -> str:
    """:func:`json_object_text` of a string. Remembered: producers send the same details
    text again and again (a tool's fixed details), and parsing it is most of the cost."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return json.dumps({"value": raw})
    if isinstance(parsed, dict):
        # One line per entry in the JSONL file: pretty-printed text is written
        # again; so is text with NaN or Infinity, which is not JSON to SQLite.
        if "\n" in raw or "\r" in raw or "NaN" in raw or "Infinity" in raw:
            return finite_json(_OBJECT_ENCODER, parsed)
        return raw
    return finite_json(_OBJECT_ENCODER, {"value": parsed})


def as_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def as_float(value: Any) -> float | None:
    """A float column's value; None for what is not a finite number (SQL has no NaN)."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def str_list(value: Any) -> list[str]:
    """A sequence attribute (or JSON / comma text of one) as a list of strings."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return [str(v) for v in json.loads(text) if v not in (None, "")]
            except ValueError:
                pass
        return [part.strip() for part in text.split(",") if part.strip()]
    return [str(v) for v in value if v not in (None, "")]


def hex_ids(span_context: Any) -> tuple[str | None, str | None]:
    if span_context is None:
        return None, None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


def span_label(span: SpanLike, prefix: str) -> str | None:
    name = span.name or ""
    return name[len(prefix) :] if name.startswith(prefix) else None


_RESOURCE_FACTS: dict[int, tuple[Any, dict[str, Any]]] = {}


def resource_attr(span: SpanLike, key: str) -> Any:
    resource = getattr(span, "resource", None)
    if resource is None:
        return None
    # A provider has one resource for all its spans: read its attributes once.
    known = _RESOURCE_FACTS.get(id(resource))
    if known is None or known[0] is not resource:
        if len(_RESOURCE_FACTS) > 64:
            _RESOURCE_FACTS.clear()
        known = _RESOURCE_FACTS[id(resource)] = (resource, dict(resource.attributes))
    return known[1].get(key)
