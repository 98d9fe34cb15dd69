"""Secret scrubbing and size caps for everything the producers put on spans.

Tool inputs and outputs, command output in assertion evidence and free-text
details all reach SQLite, JSONL and possibly an OTLP collector. Secrets are
removed here before the data reaches any of them (DESIGN invariant 7): on the
agent's thread, or, for a tool's input and output, where its span leaves the
agent's process (:mod:`otel_obs.deferred_payloads`); and every payload is
capped so one huge tool result cannot grow the store without bound (invariant
6). What a cap drops is counted in :func:`stats` and announced in the text
itself, so a reader knows the value is partial.

Redaction runs before any cap or cut (a cut never leaves half a secret) and
on decoded values, never on JSON text: a payload is walked, a secret key's
value is replaced whatever its type, each string is scanned by the patterns
of :mod:`otel_obs.secret_rules` (linear time), and ``["--password", "x"]``
loses the argument after the flag. The common payload holds no trigger word
at all; for it the cost is one JSON encoding and one substring pre-check.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping
from typing import Any

from .secret_rules import (
    REDACTED,
    configure_redaction,
    current_rules,
    flag_value_kept,
    is_secret_flag,
    is_secret_key,
    replacement,
    reset_redaction,
)

__all__ = [
    "REDACTED",
    "configure_redaction",
    "reset_redaction",
    "redact_text",
    "redact_value",
]

#: Caps, in characters. Summaries have their own, smaller limits.
INPUT_CAP = 16_384
OUTPUT_CAP = 16_384
DETAILS_CAP = 16_384
EVIDENCE_TAIL = 2_000
ERROR_MESSAGE_CAP = 1_000
#: Names another instrumentation gives (tools, agents, models, providers): a name, not a text.
NAME_CAP = 1_000
#: Text past a cap that is still scanned, so a secret crossing the cap is redacted whole.
REDACT_MARGIN = 4_096

_lock = threading.Lock()
_stats = {"redactions": 0, "truncated_values": 0, "truncated_chars": 0, "depth_capped": 0}


def might_hold_secret(text: str) -> bool:
    """False when ``text`` cannot match any secret rule (a cheap pre-check).

    One pass of RE2's DFA over ``text`` (an ``re2.Set``: no submatch, no match
    object) tests every pattern's trigger at once: the built-in fragments, the
    maintained rule set's patterns cut to what JSON escaping leaves whole, the
    extra patterns. On a short text it costs about what a loop of substring
    tests over the built-in fragments alone did; on 16 KB a sixth of it (each
    substring test is its own pass). ``text`` must hold no lone surrogate
    (:func:`clean_text`): RE2 takes UTF-8.
    """
    return current_rules().trigger.Match(text) is not None


def redact_text(text: str) -> str:
    """``text`` with every recognised secret replaced by ``[REDACTED]``.

    Lone surrogates (no sink can hold them) become U+FFFD on the way.
    """
    text = clean_text(text)
    if not might_hold_secret(text):
        return text
    return _redact_suspect(text)


def _redact_suspect(text: str) -> str:
    rules = current_rules()
    count = 0

    def replace(match: Any) -> str:
        nonlocal count
        out, redacted = replacement(match, rules)
        count += redacted
        return out

    # RE2 takes UTF-8: a lone surrogate cannot be passed (nor stored), so it goes first.
    redacted = rules.secret.sub(replace, clean_text(text))
    if count:
        _count("redactions", count)
    return redacted


def redact_value(value: Any) -> Any:
    """A JSON-ready copy of ``value`` with its secrets redacted (see the module doc).

    Runs on :func:`jsonable`'s copy, so a secret inside an object's text form
    is found too and the result always encodes.
    """
    return _redact_tree(jsonable(value))


def _redact_tree(value: Any) -> Any:
    kind = type(value)
    if kind is str:
        return redact_text(value)
    if kind is dict:
        out = {}
        redacted = 0
        for key, item in value.items():
            if item is not None and item != "" and is_secret_key(key):
                if not (type(item) is str and (item == REDACTED or current_rules().allowed(item))):
                    out[key] = REDACTED
                    redacted += 1
                    continue
            out[key] = _redact_tree(item)
        if redacted:
            _count("redactions", redacted)
        return out
    if kind is list:
        out_list = []
        secret_next = False
        flag = None
        for item in value:
            if secret_next and item is not None and item != REDACTED:
                kept = type(item) is str and (
                    current_rules().allowed(item) or flag_value_kept(flag, item)  # type: ignore[arg-type]
                )
                if not kept:
                    out_list.append(REDACTED)
                    _count("redactions", 1)
                    secret_next = False
                    continue
            secret_next = type(item) is str and item.startswith("-") and is_secret_flag(item)
            flag = item if secret_next else None
            out_list.append(_redact_tree(item))
        return out_list
    return value


def redact_and_cap(text: str, limit: int) -> str:
    """``text`` redacted, then cut to ``limit`` characters (counted, and said in the text).

    Only the kept head and :data:`REDACT_MARGIN` characters past it are
    scanned, so a megabyte of output costs no more than its head, yet a secret
    crossing the cut is seen whole before the cut.
    """
    window = limit + REDACT_MARGIN
    if len(text) <= window:
        return cap_text(redact_text(text), limit)
    head = redact_text(text[:window])
    kept = head[:limit]
    dropped = len(head) - len(kept) + len(text) - window
    _count_truncation(dropped)
    return f"{kept}…[truncated {dropped} chars]"


def redact_and_tail(text: str, limit: int, *, already_dropped: int = 0) -> str:
    """The last ``limit`` characters of ``text``, redacted before the cut (see above).

    ``already_dropped``: how much came before ``text`` and was never read
    (counted and reported with the rest).
    """
    window = limit + REDACT_MARGIN
    if len(text) <= window and not already_dropped:
        return tail_text(redact_text(text), limit)
    tail = redact_text(text[-window:])
    kept = tail[-limit:]
    dropped = len(tail) - len(kept) + max(0, len(text) - window) + already_dropped
    if not dropped:
        return kept
    _count_truncation(dropped)
    return f"[truncated {dropped} chars]…{kept}"


def cap_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was dropped (and counting it)."""
    if len(text) <= limit:
        return text
    dropped = len(text) - limit
    _count_truncation(dropped)
    return f"{text[:limit]}…[truncated {dropped} chars]"


def capped_name(value: object) -> str:
    """A name of another instrumentation as the store keeps it: cleaned (NUL and lone
    surrogates as U+FFFD), at most NAME_CAP characters (what is cut is counted)."""
    return cap_text(clean_text(str(value)), NAME_CAP)


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
            _count("depth_capped", 1)
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


def clean_attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    """``attrs`` with every string made storable by :func:`clean_text`.

    The redaction patterns (RE2) take UTF-8 only, and NUL is cut by SQLite but
    kept by the JSONL, so texts are fixed here, on the agent's side; values the
    store can still not hold (an integer beyond 64 bits) are the store's to
    make safe, and it counts them. Changes ``attrs`` in place only when
    something needs fixing (rarely): the common case costs one ``isascii``
    and one NUL search per string.
    """
    for key, value in attrs.items():
        kind = type(value)
        if kind is str:
            if not value.isascii() or "\x00" in value:
                attrs[key] = clean_text(value)
        elif kind is list or kind is tuple:
            attrs[key] = [clean_text(v) if type(v) is str else v for v in value]
    return attrs


def clean_text(text: str) -> str:
    """``text`` as every sink can hold it: lone surrogates and NUL replaced by U+FFFD.

    UTF-8 cannot encode a lone surrogate (the writer would fail on it), and
    SQLite cuts a text value at NUL while the JSONL keeps it whole. JSON text
    is unaffected (it escapes NUL), so this may run on JSON too.
    """
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
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
        text = dumps(redact_value(value))
    return cap_json(text, limit), suspect


def cap_json(text: str, limit: int) -> str:
    """JSON ``text`` kept valid when over ``limit``: an object holding its head and size
    (the cut counted)."""
    if len(text) <= limit:
        return text
    dropped = len(text) - limit
    _count_truncation(dropped)
    return dumps({"_truncated": True, "_original_chars": len(text), "head": text[:limit]})


def _count(name: str, n: int) -> None:
    with _lock:
        _stats[name] += n


def _count_truncation(dropped: int) -> None:
    with _lock:
        _stats["truncated_values"] += 1
        _stats["truncated_chars"] += dropped


#: The counts of writer processes, each as its latest totals, by the store that owns it.
_writers: dict[object, dict[str, int]] = {}


def add_writer_counts(writer: object, counts: Mapping[str, Any] | None) -> None:
    """Take a writer process's totals into :func:`stats` (``writer`` names it).

    A writer process redacts and caps the tool payloads the agent's thread
    left raw (see :mod:`otel_obs.deferred_payloads`); what it did is counted
    as if done here. Its totals are kept when it ends.
    """
    if not counts:
        return
    with _lock:
        _writers[writer] = {key: int(counts.get(key, 0)) for key in _stats}


def stats() -> dict[str, int]:
    """Counts since start: secrets redacted, values truncated, characters dropped,
    values nested too deep to keep (this process's and its writer processes')."""
    with _lock:
        out = dict(_stats)
        for counts in _writers.values():
            for key, n in counts.items():
                out[key] += n
        return out
