"""OTLP trace requests (protobuf or OTLP/JSON) into the span records the mapping reads.

The receiver hands the store :class:`~otel_obs.exporters.span_record.SpanRecord`
objects, the same snapshots a writer process maps, so a span that arrives over
OTLP lands in exactly the rows the local processor would write. Only what the
mapping reads is kept: name, attributes, ids, start and end time, events and
the resource's attributes, the parent span id and the instrumentation scope's name
(a span of another instrumentation takes its agent and execution from its
ancestors); an ERROR status becomes the ``otel.status_code`` /
``otel.status_description`` attributes.

A span that cannot be keyed (missing or all-zero trace or span id, no start
time) is rejected and counted, never raised: the request still succeeds for the
others, and the sender learns the count through OTLP's partial success.

A span with no end time (``end_time_unix_nano`` 0) is a *start marker*: a client
may send one when a span starts (see :mod:`.start_markers`), so a worker that is
killed before the span ends still leaves its start rows. The mapping writes
only start rows for it; the finished span, when it comes, completes them.

OTLP/JSON is parsed by protobuf's own JSON parser, after the one difference the
OTLP specification makes: trace and span ids are hex strings there, not base64.
Unknown fields are ignored, as the specification asks of receivers. A lone
surrogate, which JSON can spell (``"\\ud800"``) and protobuf refuses, becomes
U+FFFD as NUL does, so one such span does not cost the request; a body nested
too deeply for the JSON parser is malformed (400), like any other bad body.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from otel_obs import conventions as c
from otel_obs.exporters.span_record import (
    RecordContext,
    RecordEvent,
    RecordResource,
    RecordScope,
    SpanRecord,
)
from otel_obs.redaction import (
    DETAILS_CAP,
    ERROR_MESSAGE_CAP,
    INPUT_CAP,
    OUTPUT_CAP,
    REDACT_MARGIN,
    clean_text,
    dumps,
    redact_and_cap,
    redact_text,
)


class MalformedRequest(ValueError):
    """The request body is not an OTLP trace request at all (answered 400 / INVALID_ARGUMENT)."""


#: Longest id or span name a received span keeps, in characters. A longer one keeps its
#: head and a hash of the whole (``<head>#<16 hex digits>``), so two ids stay two.
ID_CAP = 1_000
#: Longest other text of our namespace (``obs.*``) a received span keeps, in characters.
TEXT_CAP = DETAILS_CAP
#: Attributes holding an id (or a name the store keys rows by): ``*.id``, ``*_id``, and
#: the agent and tool names of other instrumentations.
_ID_KEY = re.compile(r"(?:^|[._])id$")
_ID_KEYS = frozenset({*c.FOREIGN_AGENT_KEYS, *c.FOREIGN_TOOL_NAME_KEYS})
#: Payloads held as JSON text, with the producers' caps (cut, they stay JSON).
_JSON_PAYLOADS = {
    c.TOOL_INPUT: INPUT_CAP,
    c.ENTRY_DETAILS: DETAILS_CAP,
    c.END_ENTRY_DETAILS: DETAILS_CAP,
    c.ASSERTION_EVIDENCE: DETAILS_CAP,
    c.ENTRY_SKILL_REF: DETAILS_CAP,
    c.END_ENTRY_SKILL_REF: DETAILS_CAP,
}
#: Payloads held as plain text, with the producers' caps.
_TEXT_PAYLOADS = {c.TOOL_OUTPUT: OUTPUT_CAP, c.TOOL_ERROR_MESSAGE: ERROR_MESSAGE_CAP}
if not c.PAYLOAD_ATTRIBUTES <= _JSON_PAYLOADS.keys() | _TEXT_PAYLOADS.keys():  # pragma: no cover
    raise RuntimeError("a payload attribute has no cap for received spans")
#: What the producers' own cut adds to a text (``…[truncated N chars]``): a text within
#: its cap and this is theirs, kept as it came.
_CUT_NOTE = 64
#: How the producers' cut JSON starts (redaction.safe_json): kept as it came while no
#: longer than such a text can be (its head escaped in a JSON string).
_CUT_JSON = '{"_truncated":true,"_original_chars":'


@dataclass
class Decoded:
    """The records of one request, what was rejected (with the first reason) and what
    was cut to the caps (:data:`ID_CAP`, the payload caps, :data:`TEXT_CAP`)."""

    records: list[SpanRecord] = field(default_factory=list)
    rejected: int = 0
    reason: str = ""
    ids_capped: int = 0
    texts_capped: int = 0
    capped_chars: int = 0

    def reject(self, why: str) -> None:
        self.rejected += 1
        if not self.reason:
            self.reason = why

    def capped(self, key: str, text: str) -> str:
        """``text`` of attribute ``key`` within its cap (called for texts over ``ID_CAP``).

        The producers cap every payload before it leaves the agent; a sender over OTLP
        may not, and one 15 MiB id would be stored in every row it keys. Payloads are
        cut as the producers cut them (redacted before the cut; JSON stays JSON), ids
        keep a hash of the whole, other ``obs.*`` texts are cut at :data:`TEXT_CAP`.
        """
        limit = _JSON_PAYLOADS.get(key)
        if limit is not None:
            if len(text) <= limit or (
                text.startswith(_CUT_JSON) and len(text) <= 6 * limit + _CUT_NOTE
            ):
                return text
            head = redact_text(text[: limit + REDACT_MARGIN])[:limit]
            out = dumps({"_truncated": True, "_original_chars": len(text), "head": head})
            return self._cut(text, out, ids=False)
        limit = _TEXT_PAYLOADS.get(key)
        if limit is None and key.startswith("obs.") and not is_id_key(key):
            limit = TEXT_CAP
        if limit is not None:
            if len(text) <= limit + _CUT_NOTE:
                return text
            return self._cut(text, redact_and_cap(text, limit), ids=False)
        if is_id_key(key):
            return self.capped_id(text)
        return text

    def capped_id(self, text: str) -> str:
        """An id (or span name) within :data:`ID_CAP`: its head and a hash of the whole."""
        if len(text) <= ID_CAP:
            return text
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return self._cut(text, f"{text[: ID_CAP - 17]}#{digest}", ids=True)

    def _cut(self, text: str, out: str, *, ids: bool) -> str:
        if ids:
            self.ids_capped += 1
        else:
            self.texts_capped += 1
        self.capped_chars += max(0, len(text) - len(out))
        return out


def is_id_key(key: str) -> bool:
    """Whether attribute ``key`` holds an id (capped at :data:`ID_CAP` when received)."""
    return key in _ID_KEYS or _ID_KEY.search(key) is not None


def parse_protobuf(body: bytes) -> ExportTraceServiceRequest:
    """An ``ExportTraceServiceRequest`` from its binary encoding (MalformedRequest if not one)."""
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, ValueError) as exc:
        raise MalformedRequest(f"not a protobuf ExportTraceServiceRequest: {exc}") from None
    return request


#: A JSON escape of a surrogate (``\ud800``-``\udfff``): only a body holding one can hold
#: a lone surrogate (a proper pair is joined by the parser).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def parse_json(body: bytes) -> ExportTraceServiceRequest:
    """An ``ExportTraceServiceRequest`` from OTLP/JSON (hex ids; MalformedRequest if not one)."""
    try:
        document = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MalformedRequest(f"body is not UTF-8: {exc}") from None
    except ValueError as exc:
        raise MalformedRequest(f"body is not JSON: {exc}") from None
    except RecursionError:
        raise MalformedRequest(
            "body is nested too deeply for a JSON parser (OTLP/JSON needs a few levels)"
        ) from None
    if not isinstance(document, dict):
        raise MalformedRequest(f"OTLP/JSON body must be an object, got {type(document).__name__}")
    if _SURROGATE_ESCAPE.search(body) is not None:
        document = _storable(document)
    for resource_spans in _objects(document.get("resourceSpans", document.get("resource_spans"))):
        for scope_spans in _objects(
            resource_spans.get("scopeSpans", resource_spans.get("scope_spans"))
        ):
            for span in _objects(scope_spans.get("spans")):
                _hex_ids_to_base64(span)
                for link in _objects(span.get("links")):
                    _hex_ids_to_base64(link)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError) as exc:
        raise MalformedRequest(f"not an OTLP/JSON trace request: {exc}") from None
    return request


def _storable(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with every text (keys too) as the store takes it: a lone surrogate, which
    JSON can spell and protobuf refuses (the whole request with it), becomes U+FFFD.

    Iterative, so a document as deep as the parser took costs no recursion.
    """
    root: dict[str, Any] = {}
    stack: list[tuple[Any, Any]] = [(document, root)]
    while stack:
        source, target = stack.pop()
        items: Iterable[tuple[Any, Any]] = (
            source.items() if isinstance(source, dict) else enumerate(source)
        )
        for key, value in items:
            if isinstance(value, str):
                value = clean_text(value)
            elif isinstance(value, (dict, list)):
                copy: Any = {} if isinstance(value, dict) else [None] * len(value)
                stack.append((value, copy))
                value = copy
            if isinstance(target, dict):
                target[clean_text(key)] = value
            else:
                target[key] = value
    return root


def _objects(value: Any) -> Iterable[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else ()


_ID_FIELDS = (("traceId", "trace_id"), ("spanId", "span_id"), ("parentSpanId", "parent_span_id"))


def _hex_ids_to_base64(obj: dict[str, Any]) -> None:
    """OTLP/JSON ids are hex; protobuf's JSON form of bytes is base64.

    An id that is not hex is emptied, so the span is rejected as one without
    that id (counted) instead of failing the whole request.
    """
    for camel, snake in _ID_FIELDS:
        name = camel if camel in obj else snake if snake in obj else None
        if name is None:
            continue
        value = obj[name]
        try:
            raw = bytes.fromhex(value) if isinstance(value, str) else b""
        except ValueError:
            raw = b""
        obj[name] = base64.b64encode(raw).decode("ascii")


def records_of(request: ExportTraceServiceRequest) -> Decoded:
    """The span records of a request; spans that cannot be keyed are counted as rejected."""
    out = Decoded()
    append = out.records.append
    for resource_spans in request.resource_spans:
        resource = RecordResource(attributes_dict(resource_spans.resource.attributes, out))
        for scope_spans in resource_spans.scope_spans:
            scope = RecordScope(_clean(scope_spans.scope.name))
            for span in scope_spans.spans:
                trace_id, span_id = span.trace_id, span.span_id
                if len(trace_id) != 16 or not any(trace_id):
                    out.reject("span without a valid trace id (16 bytes, not all zero)")
                    continue
                if len(span_id) != 8 or not any(span_id):
                    out.reject("span without a valid span id (8 bytes, not all zero)")
                    continue
                if not span.start_time_unix_nano:
                    out.reject(f"span {span_id.hex()} has no start time")
                    continue
                events = tuple(
                    RecordEvent(
                        _clean(e.name), attributes_dict(e.attributes, out), e.time_unix_nano
                    )
                    for e in span.events
                )
                attributes = attributes_dict(span.attributes, out)
                if span.status.code == Status.STATUS_CODE_ERROR:
                    # How a failed span's status reaches the mapping, which reads it
                    # for spans of other instrumentations (their errors live there).
                    attributes[c.OTEL_STATUS_CODE] = "ERROR"
                    attributes[c.OTEL_STATUS_DESCRIPTION] = span.status.message
                name = _clean(span.name)
                if len(name) > ID_CAP:
                    name = out.capped_id(name)
                trace = int.from_bytes(trace_id, "big")
                parent = span.parent_span_id
                append(
                    SpanRecord(
                        name,
                        attributes,
                        RecordContext(trace, int.from_bytes(span_id, "big")),
                        span.start_time_unix_nano,
                        span.end_time_unix_nano or None,
                        events,
                        resource,
                        RecordContext(trace, int.from_bytes(parent, "big"))
                        if len(parent) == 8 and any(parent)
                        else None,
                        None,
                        scope,
                    )
                )
    return out


def _clean(text: str) -> str:
    """NUL as U+FFFD, as in every text the store takes (SQLite cuts text at NUL)."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


_SCALARS = frozenset({"string_value", "int_value", "bool_value", "double_value"})


def attributes_dict(attributes: Iterable[KeyValue], caps: Decoded | None = None) -> dict[str, Any]:
    """OTLP key-values as the SDK holds attributes (arrays as tuples).

    NUL in a text becomes U+FFFD, as the producers make it: SQLite would cut
    the text there (an id cut so could name another one) while the JSONL kept
    it whole. Scalars, nearly every value, are read inline (one call each rather than
    three): this loop is most of what the receiver spends per span. Keys are
    interned: the same dozen names repeat in every span, and a burst the
    server holds (its queue full, requests waiting) then keeps one copy of
    each instead of one per span, about a third of a record's memory. With ``caps``, a
    text longer than :data:`ID_CAP` is held to its attribute's cap (:meth:`Decoded.capped`).
    """
    out: dict[str, Any] = {}
    scalars = _SCALARS
    intern = sys.intern
    for kv in attributes:
        value = kv.value
        kind = value.WhichOneof("value")
        if kind == "string_value":
            item = value.string_value
            if "\x00" in item:
                item = item.replace("\x00", "\ufffd")
            if len(item) > ID_CAP and caps is not None:
                item = caps.capped(kv.key, item)
        else:
            item = getattr(value, kind) if kind in scalars else any_value(value)
        out[intern(kv.key)] = item
    return out


def any_value(value: AnyValue) -> Any:
    """An ``AnyValue`` as a Python value the store can hold.

    Scalars stay scalars and arrays become tuples, as in the SDK. What the SDK
    has no attribute type for becomes text the store can keep: bytes as base64
    (their OTLP/JSON form), a key-value list as a JSON object, an array nested
    in an array as JSON.
    """
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value.replace("\x00", "\ufffd")
    if kind == "int_value":
        return value.int_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "double_value":
        return value.double_value
    if kind == "array_value":
        return tuple(_array_item(v) for v in value.array_value.values)
    if kind == "kvlist_value":
        return json.dumps(_plain(value), ensure_ascii=False, default=str)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None


def _array_item(value: AnyValue) -> Any:
    item = any_value(value)
    if isinstance(item, tuple):
        return json.dumps(_plain(value), ensure_ascii=False, default=str)
    return item


def _plain(value: AnyValue) -> Any:
    """An ``AnyValue`` as plain JSON data (lists and dicts), for nested values."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_plain(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _plain(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    if kind == "double_value" and value.double_value != value.double_value:
        return None  # NaN is not JSON
    return any_value(value)


def decode(body: bytes, content_type: str) -> Decoded:
    """Records of an HTTP body by its content type (MalformedRequest for a bad body)."""
    if is_json(content_type):
        return records_of(parse_json(body))
    return records_of(parse_protobuf(body))


#: The content types the HTTP receiver takes (OTLP/HTTP: binary protobuf or JSON).
PROTOBUF_TYPES = frozenset({"application/x-protobuf", "application/protobuf"})
JSON_TYPES = frozenset({"application/json"})


def media_type(content_type: str) -> str:
    """``application/json; charset=utf-8`` → ``application/json``."""
    return content_type.split(";", 1)[0].strip().lower()


def is_json(content_type: str) -> bool:
    return media_type(content_type) in JSON_TYPES


def is_supported(content_type: str) -> bool:
    return media_type(content_type) in PROTOBUF_TYPES | JSON_TYPES


__all__ = [
    "Decoded",
    "ID_CAP",
    "JSON_TYPES",
    "MalformedRequest",
    "PROTOBUF_TYPES",
    "any_value",
    "attributes_dict",
    "TEXT_CAP",
    "decode",
    "is_id_key",
    "is_json",
    "is_supported",
    "media_type",
    "parse_json",
    "parse_protobuf",
    "records_of",
]
