"""What counts as a secret: the patterns, the secret key names, and their configuration.

Every pattern runs on RE2 (``google-re2``), whose matching time is linear in
the text whatever the text is. Python's backtracking ``re`` is not: the former
single pattern took 3.5 s on a 17 KB minified SVG path and 95 s on 64 KB of
``a-a-a-…``, on the agent's thread. RE2 has no look-around, so the rules that
need context (keep the key, keep the quotes, skip what is already redacted)
are decided in the replacement function instead.

The token shapes of well-known services (Stripe, Twilio, SendGrid, npm, PyPI,
Azure, Discord, Telegram, Mailchimp, Square, Artifactory, …) come from a
maintained rule set, the regex plugins of ``detect-secrets``, read from its
plugin registry when the rules are first built (:func:`library_patterns`): a
pattern RE2 cannot compile (look-around, a repetition over RE2's bound) is
skipped, listed in ``library().skipped`` and logged. Each library match is redacted whole, together
with the rest of the token it ends in (a newer, longer key of the same shape).

Configuration: :func:`configure_redaction` (``extra_patterns``: more regular
expressions whose matches are secrets; ``allow``: regular expressions for
values that are never redacted, e.g. placeholders) or the environment
variables ``OTEL_OBS_REDACT_PATTERNS`` / ``OTEL_OBS_REDACT_ALLOW`` (a JSON list
of expressions, or a single one). Both use RE2 syntax.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import re2

from . import settings

# The parser of ``re`` and its opcodes, which read detect-secrets' patterns:
# ``re._parser`` since Python 3.11, ``sre_parse`` (deprecated since) before it.
if sys.version_info >= (3, 11):
    import re._constants as _sre_constants
    import re._parser as _sre_parse
else:
    import sre_constants as _sre_constants
    import sre_parse as _sre_parse

REDACTED = "[REDACTED]"


# Names whose value is a secret: the last word of a key or an assignment's name.
_WORDS = (
    r"password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|"
    r"private[_-]?key|secret[_-]?key|client[_-]?secret|credentials?|cookie|authorization"
)
#: A key naming a secret: ends with a secret word (``PASSWORD``, ``X-API-KEY``,
#: ``Cookie``, ``accessToken``), or is ``pass`` / ends with ``_pass``.
_KEY = re2.compile(rf"(?i)(?:{_WORDS})$|(?:^|[^A-Za-z])pass$")
#: Flag names that say secret besides :data:`_WORDS`: a bare ``key`` (``deploy --key=…``)
#: and a few compounds (``--signing-key``). Other ``--*-key`` flags (``--sort-key``,
#: ``--partition-key``) name no secret and keep their value.
_FLAG_KEY = r"(?:(?:signing|encryption|master|license|auth|account)[_-]?)?key"
#: An argument that announces a secret as the next argument: ``--password``, ``-token``, ``--key``.
_FLAG = re2.compile(rf"(?i)^--?(?:[A-Za-z0-9_-]*(?:{_WORDS})|{_FLAG_KEY})$")
#: A sort key definition (``sort --key 2``, ``--key=1,2n``): kept after a bare ``--key``.
_SORT_KEY = re2.compile(r"[0-9]+(?:\.[0-9]+)?[bdfgiMhnRrV]*(?:,[0-9]+(?:\.[0-9]+)?[bdfgiMhnRrV]*)?")

# A value after a name: quoted (kept quoted) or a bare word.
_VALUE = r"\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'|(?:[^\s'\",;&\\]|\\.)+"
_PATTERNS = [
    # Authorization: Bearer x / Authorization: Basic x (headers, curl -H)
    r"(?P<ah>(?i:(?:proxy-)?authorization)[\"']?\s*[:=]\s*[\"']?"
    r"(?:(?i:bearer|basic|token|digest|negotiate)\s+)?)(?P<ahv>[^\s'\",;]+)",
    # Bearer tokens anywhere
    r"(?P<br>(?i:bearer)\s+)(?P<brv>[A-Za-z0-9._~+/=-]{8,})",
    # --password x, --api-key=x
    rf"(?P<fl>--(?i:[A-Za-z0-9_-]*(?:{_WORDS})|{_FLAG_KEY})(?:=|\s+))(?P<flv>{_VALUE})",
    # PASSWORD=x, export API_KEY="x", api_key: x, "password": "x" (inside text)
    rf"(?P<kv>\b(?i:[A-Za-z0-9_.-]*(?:{_WORDS}))[\"']?\s*[=:]\s*)(?P<kvv>{_VALUE})",
    # Credentials in URLs: scheme://user:pass@host (the password may hold '@')
    r"(?P<url>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@'\"]*:)(?P<urlv>[^/\s'\"]*)@",
    # Well-known token shapes
    r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}",
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bglpat-[A-Za-z0-9_-]{20,}",
    r"\bAKIA[0-9A-Z]{16}\b",
    r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    r"\bAIza[0-9A-Za-z_-]{35}",
    r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",  # JWT
    # PEM and PGP private key blocks (a block cut short is redacted to the end)
    r"-----BEGIN[A-Z0-9 ]* PRIVATE KEY(?: BLOCK)?-----(?s:.*?)"
    r"(?:-----END[A-Z0-9 ]* PRIVATE KEY(?: BLOCK)?-----|\z)",
]
#: (prefix group, value group): the prefix is kept, the value replaced.
_GROUPS = (("ah", "ahv"), ("br", "brv"), ("fl", "flv"), ("kv", "kvv"), ("url", "urlv"))

# Every built-in pattern needs one of these (lower-cased) fragments in the text.
# Plain substring tests are far cheaper than any pattern, and most tool inputs
# and outputs contain none of them, so they skip the patterns entirely.
TRIGGERS = (
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
    "glpat-",
    "akia",
    "xox",
    "aiza",
    "eyj",
)

_log = logging.getLogger(__name__)

#: detect-secrets plugins whose matches are no secret (a public IP address is not one).
_LIBRARY_EXCLUDED = frozenset({"IPPublicDetector"})
#: What follows a library match that ends in a token's characters: the rest of that token.
_TOKEN_TAIL = r"[A-Za-z0-9_-]*"
#: Characters JSON escapes (``json.dumps`` with ``ensure_ascii=False``): a trigger holds none,
#: so it finds in a payload's JSON text what the pattern finds in one of its strings.
_ESCAPED = frozenset([*range(0x20), ord('"'), ord("\\")])


@dataclass(frozen=True)
class Library:
    """The maintained rule set in use: its patterns (RE2), their triggers, what was skipped."""

    patterns: tuple[str, ...] = ()
    #: One RE2 expression per pattern, matched by every text the pattern matches in,
    #: and by that text's JSON form too (see :func:`_trigger`).
    triggers: tuple[str, ...] = ()
    #: ``(plugin, pattern, why)`` for each pattern not used.
    skipped: tuple[tuple[str, str, str], ...] = field(default=())


def _trigger(items: Any, ignore_case: bool) -> str | None:
    """The pre-check of one library pattern (parsed by ``re``), as an RE2 expression.

    The pattern itself minus what JSON escaping could break: its longest run of
    parts that match no character JSON escapes (quotes, backslashes, white space
    and other control characters), anchors left out. Each such part matches the
    same characters in a JSON text as in the string it encodes, so the run is
    found wherever the pattern matches, in a text or in its JSON. Runs are ranked
    by their literal characters first (``AKC``, ``aws``: rare in ordinary text),
    then by their shortest match. None when no run exists (then the pattern's
    matches cannot be pre-checked: :func:`library_patterns` skips it).
    """
    k = _sre_constants

    items = list(items)
    while len(items) == 1 and items[0][0] is k.SUBPATTERN and not any(items[0][1][1:3]):
        items = list(items[0][1][3])  # a pattern that is one group: its parts
    best: tuple[tuple[int, int], str] | None = None
    run: list[str] = []
    score = [0, 0]

    def close() -> None:
        nonlocal best, run, score
        if run and (best is None or tuple(score) > best[0]):
            best = ((score[0], score[1]), "".join(run))
        run, score = [], [0, 0]

    for op, arg in items:
        if op is k.AT:  # an anchor: leaving it out only widens the run's matches
            continue
        emitted = _emit(op, arg)
        if emitted is None:
            close()
            continue
        run.append(emitted)
        literals, width = _weight(op, arg)
        score[0] += literals
        score[1] += width
    close()
    if best is None or best[0][0] * 4 + best[0][1] < 3:
        return None
    return f"(?i:{best[1]})" if ignore_case else best[1]


def _ends_in_token_characters(items: Any) -> bool:
    k = _sre_constants

    items = list(items)
    if not items:
        return False
    op, arg = items[-1]
    return op in (k.MAX_REPEAT, k.MIN_REPEAT) and all(o is k.IN for o, _ in arg[2])


def _char(code: int) -> str:
    return chr(code) if chr(code).isalnum() and code < 128 else f"\\x{{{code:x}}}"


def _emit(op: Any, arg: Any) -> str | None:
    """``(op, arg)`` of ``re``'s parser in RE2 syntax, or None when it may match a
    character JSON escapes (or is something a trigger does not need)."""
    k = _sre_constants

    if op is k.LITERAL:
        return None if arg in _ESCAPED else _char(arg)
    if op is k.IN:
        parts = []
        for kind, value in arg:
            if kind is k.LITERAL and value not in _ESCAPED:
                parts.append(_char(value))
            elif kind is k.RANGE and not any(value[0] <= c <= value[1] for c in _ESCAPED):
                parts.append(f"{_char(value[0])}-{_char(value[1])}")
            elif kind is k.CATEGORY and value in (k.CATEGORY_DIGIT, k.CATEGORY_WORD):
                parts.append(r"\d" if value is k.CATEGORY_DIGIT else r"\w")
            else:
                return None  # negated, white space, a quote or a backslash
        return f"[{''.join(parts)}]"
    if op in (k.MAX_REPEAT, k.MIN_REPEAT):
        low, high, body = arg
        if high is k.MAXREPEAT and len(body) == 1 and body[0][0] is k.IN:
            negated = _negated_class(body[0][1])
            if negated is not None:
                return f"{negated}{{{low},}}"
        inner = _emit_all(body)
        if inner is None:
            return None
        return f"(?:{inner}){{{low},{'' if high is k.MAXREPEAT else high}}}"
    if op is k.SUBPATTERN:
        _, add, remove, body = arg
        inner = _emit_all(body)
        return None if inner is None or add or remove else f"(?:{inner})"
    if op is k.BRANCH:
        branches = [_emit_all(b) for b in arg[1]]
        return None if None in branches else f"(?:{'|'.join(branches)})"  # type: ignore[arg-type]
    return None


#: What JSON escapes are made of: an unbounded negated class excluding none of them
#: still matches a run of characters after JSON has escaped some of them.
_ESCAPE_PARTS = frozenset(map(ord, '\\"0123456789abcdefABCDEFnrtbfu'))


def _negated_class(members: Any) -> str | None:
    """``[^…]`` under an unbounded repetition, made JSON-proof: white space and control
    characters dropped from the excluded set (a wider class), or None."""
    k = _sre_constants

    if not members or members[0][0] is not k.NEGATE:
        return None
    parts = []
    for kind, value in members[1:]:
        if kind is k.CATEGORY and value is k.CATEGORY_SPACE:
            continue
        if kind is not k.LITERAL or value in _ESCAPE_PARTS:
            return None
        if value not in _ESCAPED:
            parts.append(_char(value))
    return f"[^{''.join(parts)}]" if parts else None


def _emit_all(items: Any) -> str | None:
    parts = [_emit(op, arg) for op, arg in items]
    return None if None in parts else "".join(parts)  # type: ignore[arg-type]


def _weight(op: Any, arg: Any) -> tuple[int, int]:
    """(literal characters every match holds, shortest match) of one parsed part."""
    k = _sre_constants

    if op is k.LITERAL:
        return 1, 1
    if op is k.IN:
        return 0, 1
    if op in (k.MAX_REPEAT, k.MIN_REPEAT):
        literals, width = _weights(arg[2])
        return literals * arg[0], width * arg[0]
    if op is k.SUBPATTERN:
        return _weights(arg[-1])
    if op is k.BRANCH:
        return min(_weights(b) for b in arg[1])
    return 0, 0


def _weights(items: Any) -> tuple[int, int]:
    pairs = [_weight(op, arg) for op, arg in items]
    return sum(p[0] for p in pairs), sum(p[1] for p in pairs)


def library_patterns() -> Library:
    """The regex rules of detect-secrets' plugins, as RE2 patterns with their triggers.

    Read from its plugin registry, so a new release's rules come with it. A pattern is
    used when RE2 compiles it (flags carried over; a verbose pattern only if it holds no
    whitespace or comment to strip); the others are skipped, counted and logged.
    """
    try:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
    except ImportError as exc:  # pragma: no cover - a dependency; said, never raised
        _log.warning("detect-secrets is not importable (%s): its token shapes are not used", exc)
        return Library()
    patterns: list[str] = []
    triggers: list[str] = []
    skipped: list[tuple[str, str, str]] = []
    plugins: Iterable[type[BasePlugin]] = get_mapping_from_secret_type_to_class().values()
    for plugin in sorted(plugins, key=lambda p: p.__name__):
        if not issubclass(plugin, RegexBasedDetector) or plugin.__name__ in _LIBRARY_EXCLUDED:
            continue
        # An abstract property on RegexBasedDetector, a tuple on each of its subclasses.
        denylist = cast("Iterable[re.Pattern[Any]]", plugin.denylist)
        for compiled in denylist:
            source, flags = compiled.pattern, compiled.flags
            if not isinstance(source, str):
                skipped.append((plugin.__name__, repr(source), "not a text pattern"))
                continue
            if flags & re.VERBOSE and re.search(r"\s|#", source):
                skipped.append((plugin.__name__, source, "verbose pattern"))
                continue
            modes = "".join(
                m
                for f, m in ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"))
                if flags & f
            )
            parsed = _sre_parse.parse(source, flags)
            pattern = f"(?{modes}:{source})" if modes else f"(?:{source})"
            if _ends_in_token_characters(parsed):
                pattern += _TOKEN_TAIL
            try:
                re2.compile(pattern, _options())
            except re2.error as exc:
                skipped.append((plugin.__name__, source, str(exc)))
                continue
            trigger = _trigger(parsed, bool(flags & re.IGNORECASE))
            if trigger is None:
                skipped.append((plugin.__name__, source, "no part to pre-check it by"))
                continue
            patterns.append(pattern)
            triggers.append(trigger)
    if skipped:
        _log.info(
            "detect-secrets: %d of %d patterns skipped (RE2 cannot compile them): %s",
            len(skipped),
            len(skipped) + len(patterns),
            ", ".join(sorted({name for name, _, _ in skipped})),
        )
    return Library(tuple(patterns), tuple(triggers), tuple(skipped))


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    return options


def _compile(pattern: str, what: str) -> Any:
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(f"{what} must be a non-empty regular expression string, got {pattern!r}")
    try:
        return re2.compile(pattern, _options())
    except re2.error as exc:
        raise ValueError(
            f"{what} {pattern!r} is not a valid RE2 regular expression: {exc}"
        ) from None


@functools.cache
def library() -> Library:
    """The maintained rule set, read once, when the rules are first built (importing
    detect-secrets takes a tenth of a second; a process that redacts nothing never pays)."""
    return library_patterns()


#: The built-in patterns' pre-check: one of these fragments, in any case (every built-in
#: pattern holds one), a GitHub token's prefix, or a URL with credentials (``://…@``).
#: None holds a character JSON escapes, so they find in a payload's JSON what the
#: patterns find in its strings.
_BUILTIN_TRIGGER = (
    "(?i:" + "|".join(t.replace(".", r"\.") for t in TRIGGERS) + r"|gh[pousr]_)|://[^/\s]*@"
)


@dataclass(frozen=True)
class Rules:
    """The compiled rules in force; replaced as a whole, so readers need no lock."""

    secret: Any  # the built-in, library and extra patterns, in one RE2 pattern
    extra: Any | None  # the extra patterns alone
    allow: Any | None
    extra_patterns: tuple[str, ...]
    allow_patterns: tuple[str, ...]
    #: Every pattern's pre-check in one ``re2.Set``: its ``Match`` (one pass over the text,
    #: RE2's DFA, no submatch) is None when no pattern can match.
    trigger: Any = None

    def allowed(self, value: str) -> bool:
        return self.allow is not None and self.allow.fullmatch(value) is not None


def build_rules(extra_patterns: Iterable[str] = (), allow: Iterable[str] = ()) -> Rules:
    """Compile the rules; a bad expression raises ``ValueError`` naming it."""
    extras = settings.text_list(extra_patterns, settings.REDACT_PATTERNS.name)
    allows = settings.text_list(allow, settings.REDACT_ALLOW.name)
    for pattern in extras:
        _compile(pattern, "extra redaction pattern")
    for pattern in allows:
        _compile(pattern, "redaction allow pattern")
    known = library()
    secret = re2.compile(
        "|".join([*_PATTERNS, *known.patterns, *(f"(?:{p})" for p in extras)]), _options()
    )
    extra = re2.compile("|".join(f"(?:{p})" for p in extras), _options()) if extras else None
    allowed = re2.compile("|".join(f"(?:{p})" for p in allows), _options()) if allows else None
    # One expression for the whole pre-check (extra patterns are their own trigger).
    trigger = re2.Set.SearchSet(_options())
    trigger.Add("|".join([_BUILTIN_TRIGGER, *known.triggers, *(f"(?:{p})" for p in extras)]))
    trigger.Compile()
    return Rules(secret, extra, allowed, extras, allows, trigger)


def rules_from_environment() -> Rules:
    """The rules ``OTEL_OBS_REDACT_PATTERNS`` / ``OTEL_OBS_REDACT_ALLOW`` ask for."""
    return build_rules(settings.REDACT_PATTERNS.resolve(None), settings.REDACT_ALLOW.resolve(None))


_rules: Rules | None = None
_rules_lock = threading.Lock()


def current_rules() -> Rules:
    """The rules in force (from the environment until :func:`configure_redaction` is called)."""
    rules = _rules
    if rules is None:
        with _rules_lock:
            if _rules is None:
                _set(rules_from_environment())
            rules = _rules
    assert rules is not None
    return rules


def _set(rules: Rules) -> None:
    global _rules
    _rules = rules


def configure_redaction(
    extra_patterns: Iterable[str] | None = None, allow: Iterable[str] | None = None
) -> None:
    """Set the extra secret patterns and the allowlist for this process.

    ``None`` keeps what the environment says for that list; ``[]`` clears it.
    Matches of ``extra_patterns`` are replaced whole by ``[REDACTED]``; a
    candidate secret that ``allow`` matches in full is kept.
    """
    rules = build_rules(
        settings.REDACT_PATTERNS.resolve(extra_patterns),  # type: ignore[arg-type]
        settings.REDACT_ALLOW.resolve(allow),  # type: ignore[arg-type]
    )
    with _rules_lock:
        _set(rules)


def reset_redaction() -> None:
    """Forget the configured rules: the environment decides again at the next use."""
    with _rules_lock:
        _set(None)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a secret (case-insensitive; its value is redacted whole)."""
    return _KEY.search(key) is not None


@functools.lru_cache(maxsize=1024)
def is_secret_flag(arg: str) -> bool:
    """Whether a command argument announces a secret as the next one (``--password``)."""
    return _FLAG.search(arg) is not None


def flag_value_kept(flag: str, value: str) -> bool:
    """Whether ``value`` after ``flag`` stays: a sort key (``2``, ``1,2n``) after a bare
    ``--key``/``-key`` is no secret (``sort --key 2``); any other value after it is."""
    return flag.lstrip("-").lower() == "key" and _SORT_KEY.fullmatch(value) is not None


def replacement(match: Any, rules: Rules) -> tuple[str, bool]:
    """The text replacing ``match``, and whether it redacted anything."""
    for prefix_group, value_group in _GROUPS:
        prefix = match.group(prefix_group)
        if prefix is not None:
            value = match.group(value_group)
            suffix = "@" if prefix_group == "url" else ""
            bare = value[1:-1] if value[:1] in "\"'" and len(value) >= 2 else value
            if not bare or bare == REDACTED or rules.allowed(bare):
                return match.group(0), False
            if prefix_group == "fl" and flag_value_kept(prefix.rstrip("= \t\r\n"), bare):
                return match.group(0), False
            if value[:1] in "\"'" and len(value) >= 2:
                return f"{prefix}{value[0]}{REDACTED}{value[-1]}{suffix}", True
            return f"{prefix}{REDACTED}{suffix}", True
    whole = match.group(0)
    if rules.allowed(whole):
        return whole, False
    return REDACTED, True
