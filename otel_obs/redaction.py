"""Secret scrubbing and size caps for everything the producers put on spans.

Tool inputs and outputs, command output in assertion evidence and free-text
details all reach SQLite, JSONL and possibly an OTLP collector. Secrets are
removed here, before the data leaves the agent's process (DESIGN invariant 7),
and every payload is capped so one huge tool result cannot grow the store
without bound (invariant 6). What a cap drops is counted in :func:`stats` and
announced in the text itself, so a reader knows the value is partial.

Redaction works on text (one compiled pattern, one pass) rather than by
walking objects: producers serialise a payload once and scrub the string, which
keeps the tool hot path cheap and also catches secrets inside free text.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"

#: Caps, in characters. Summaries have their own, smaller limits.
INPUT_CAP = 16_384
OUTPUT_CAP = 16_384
DETAILS_CAP = 16_384
EVIDENCE_TAIL = 2_000
ERROR_MESSAGE_CAP = 1_000

# Names whose value is a secret wherever they appear as a key or an assignment.
_SECRET_NAME = (
    r"(?:[A-Za-z0-9]+[_-])*"
    r"(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|"
    r"private[_-]?key|client[_-]?secret|auth[_-]?token|credentials?|cookie|authorization)"
)

_PATTERNS = [
    # "password": "x"  (JSON key with a string value)
    rf'(?P<jk>"{_SECRET_NAME}"\s*:\s*)"(?:[^"\\]|\\.)*"',
    # Authorization: Bearer x / Authorization: Basic x (headers, curl -H)
    r"(?P<ah>(?i:authorization)\s*[:=]\s*(?:(?i:bearer|basic|token|digest)\s+)?)[^\s'\",;]+",
    # Bearer tokens anywhere
    r"(?P<br>(?i:bearer)\s+)[A-Za-z0-9._~+/=-]{8,}",
    # PASSWORD=x, api_key: x, --token x
    rf"(?P<kv>(?i:\b{_SECRET_NAME})\s*[=:]\s*)(?!\[REDACTED\])[^\s'\",;&]+",
    rf"(?P<fl>--(?i:{_SECRET_NAME})[= ])[^\s'\",;&]+",
    # Well-known token shapes
    r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}",
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bAKIA[0-9A-Z]{16}\b",
    r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    r"\bAIza[0-9A-Za-z_-]{35}\b",
    r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",  # JWT
    # Credentials in URLs: scheme://user:pass@host
    r"(?P<url>://[^/\s:@'\"]+:)[^/\s@'\"]+(?=@)",
    # PEM private keys
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
]
_SECRET_RE = re.compile("|".join(_PATTERNS))
_PREFIX_GROUPS = ("jk", "ah", "br", "kv", "fl", "url")

_lock = threading.Lock()
_stats = {"redactions": 0, "truncated_values": 0, "truncated_chars": 0, "depth_capped": 0}


def _replace(match: re.Match[str]) -> str:
    for group in _PREFIX_GROUPS:
        prefix = match.group(group)
        if prefix is not None:
            if group == "jk":
                return f'{prefix}"{REDACTED}"'
            return prefix + REDACTED
    return REDACTED


# Every pattern above needs one of these (lower-cased) fragments in the text.
# Plain substring tests are far cheaper than the full pattern, and most tool
# inputs and outputs contain none of them, so they skip the regex entirely.
_TRIGGERS = (
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "auth",
    "bearer",
    "cookie",
    "credential",
    "sk-",
    "github_pat_",
    "akia",
    "xox",
    "aiza",
    "eyj",
    "@",
)
#: The GitHub token prefixes (ghp_, gho_, ghu_, ghs_, ghr_) in one scan instead of five.
_GH_TRIGGER = re.compile("gh[pousr]_")


def might_hold_secret(text: str) -> bool:
    """False when ``text`` cannot match any secret pattern (a cheap pre-check).

    A plain loop: on the short texts of a tool use it is about twice as fast
    as ``any(map(...))`` (no iterator objects to build) and far faster than one
    case-insensitive regex over the triggers.
    """
    lowered = text.lower()
    for trigger in _TRIGGERS:
        if trigger in lowered:
            return True
    return _GH_TRIGGER.search(lowered) is not None


def redact_text(text: str) -> str:
    """``text`` with every recognised secret replaced by ``[REDACTED]``."""
    if not might_hold_secret(text):
        return text
    return _redact_suspect(text)


def cap_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was dropped (and counting it)."""
    if len(text) <= limit:
        return text
    dropped = len(text) - limit
    _count_truncation(dropped)
    return f"{text[:limit]}…[truncated {dropped} chars]"


def tail_text(text: str, limit: int) -> str:
    """The last ``limit`` characters of ``text`` (command output matters at its end)."""
    if len(text) <= limit:
        return text
    dropped = len(text) - limit
    _count_truncation(dropped)
    return f"[truncated {dropped} chars]…{text[-limit:]}"


def shorten(text: str, limit: int) -> str:
    """A one-line summary of at most ``limit`` characters (not counted: summaries are views)."""
    text = " ".join(text[: limit * 2].split())
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


# One encoder for every call: json.dumps with options builds a new one each time.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False)


def dumps(value: Any) -> str:
    """Compact JSON of any value: never raises (see :func:`jsonable` for what it fixes).

    The text holds no lone surrogate either, so every sink can encode it.
    """
    return clean_text(finite_json(_ENCODER, value))


def finite_json(encoder: json.JSONEncoder, value: Any) -> str:
    """``encoder.encode(value)``, made safe when the fast encoding refuses ``value``.

    JSON has no NaN or infinite numbers: Python writes ``NaN`` / ``Infinity``
    anyway, which SQLite's JSON functions reject ("malformed JSON"), so one NaN
    in an entry's details would break every SQL tool reading them. ``encoder``
    must refuse them (``allow_nan=False``). Cycles, nesting too deep for the
    encoder, keys JSON cannot hold and values without a JSON form fail the same
    way; for all of them the value is copied through :func:`jsonable` (only
    then: the common value is encoded once, by the C encoder).
    """
    try:
        return encoder.encode(value)
    except (ValueError, TypeError, RecursionError):
        return encoder.encode(jsonable(value))


#: How deep :func:`jsonable` copies; anything deeper becomes :data:`DEPTH_MARKER`.
MAX_DEPTH = 64
CYCLE_MARKER = "[cycle]"
DEPTH_MARKER = "[depth limit]"


def jsonable(value: Any, _depth: int = 0, _path: frozenset[int] = frozenset()) -> Any:
    """A copy of ``value`` that JSON can encode and the store can hold, whatever it was.

    NaN and ±inf become None; mapping keys become strings (a tuple key ``('a', 1)``
    is stored as ``"('a', 1)"``); tuples and sets become lists; a container met
    again inside itself becomes ``"[cycle]"`` and anything nested deeper than
    :data:`MAX_DEPTH` ``"[depth limit]"`` (counted in :func:`stats` as
    ``depth_capped``); lone surrogates in strings become U+FFFD (SQLite and
    UTF-8 files cannot hold them); any other object becomes its ``str``.
    """
    if value is None or value is True or value is False:
        return value
    kind = type(value)
    if kind is str:
        return clean_text(value)
    if kind is int:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if isinstance(value, (dict, list, tuple, set, frozenset)) or _is_mapping(value):
        ident = id(value)
        if ident in _path:
            return CYCLE_MARKER
        if _depth >= MAX_DEPTH:
            with _lock:
                _stats["depth_capped"] += 1
            return DEPTH_MARKER
        path = _path | {ident}
        depth = _depth + 1
        if isinstance(value, (dict, Mapping)):
            return {_key_text(k): jsonable(v, depth, path) for k, v in list(value.items())}
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v, depth, path) for v in items]
    if isinstance(value, str):
        return clean_text(str.__str__(value))
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        number = float(value)
        return number if math.isfinite(number) else None
    return clean_text(_str(value))


#: Kept for callers of the old name: NaN and ±inf replaced, and now every other fix too.
finite = jsonable


def _is_mapping(value: Any) -> bool:
    return isinstance(value, Mapping)


def _key_text(key: Any) -> str:
    if type(key) is str:
        return clean_text(key)
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key) if not isinstance(key, float) or math.isfinite(key) else str(key)
    return clean_text(_str(key))


def _str(value: Any) -> str:
    """``str(value)``, or a placeholder naming its type when its ``__str__`` fails."""
    try:
        text = str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"
    return text if type(text) is str else str.__str__(text)


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def clean_attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    """``attrs`` made storable: strings by :func:`clean_text`, integers beyond 64 bits as text.

    SQLite and UTF-8 files hold neither a lone surrogate nor a 70-bit integer;
    the writer would fail on them, so they are fixed here, on the agent's side.
    Changes ``attrs`` in place only when something needs fixing (rarely):
    the common case costs one ``isascii`` per string.
    """
    for key, value in attrs.items():
        kind = type(value)
        if kind is str:
            if not value.isascii():
                attrs[key] = clean_text(value)
        elif kind is int:
            if not _INT64_MIN <= value <= _INT64_MAX:
                attrs[key] = str(value)
        elif kind is list or kind is tuple:
            attrs[key] = [
                clean_text(v)
                if type(v) is str
                else (str(v) if type(v) is int and not _INT64_MIN <= v <= _INT64_MAX else v)
                for v in value
            ]
    return attrs


def clean_text(text: str) -> str:
    """``text`` with lone surrogates (which UTF-8 cannot encode) replaced by U+FFFD."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # utf-16 with surrogatepass joins proper pairs into their character;
        # what stays lone becomes U+FFFD on the way back.
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def safe_json(value: Any, limit: int) -> str:
    """``value`` as redacted JSON that stays valid JSON when it has to be capped.

    A cut JSON text would not parse, so an oversized payload is replaced by an
    object holding its head and the original size.
    """
    return safe_json_checked(value, limit)[0]


def safe_json_checked(value: Any, limit: int) -> tuple[str, bool]:
    """:func:`safe_json`, and whether the JSON could hold a secret before redaction.

    False means no string inside ``value`` can either (each one appears in the
    JSON with only quotes, backslashes and control characters escaped, and no
    secret trigger contains those), so a caller may use such strings without
    redacting them again: one pre-check per payload instead of one per field.
    """
    text = dumps(value)
    suspect = might_hold_secret(text)
    if suspect:
        text = _redact_suspect(text)
    return _cap_json(text, limit), suspect


def _redact_suspect(text: str) -> str:
    redacted, count = _SECRET_RE.subn(_replace, text)
    if count:
        with _lock:
            _stats["redactions"] += count
    return redacted


def _cap_json(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    dropped = len(text) - limit
    _count_truncation(dropped)
    return dumps({"_truncated": True, "_original_chars": len(text), "head": text[:limit]})


def _count_truncation(dropped: int) -> None:
    with _lock:
        _stats["truncated_values"] += 1
        _stats["truncated_chars"] += dropped


def stats() -> dict[str, int]:
    """Counts since start: secrets redacted, values truncated, characters dropped,
    values nested too deep to keep."""
    with _lock:
        return dict(_stats)
