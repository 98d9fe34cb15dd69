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
plugin registry at import (:func:`library_patterns`): a pattern RE2 cannot
compile (look-around, a repetition over RE2's bound) is skipped, counted in
:data:`LIBRARY` and logged. Each library match is redacted whole, together
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
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import re2

from . import settings

REDACTED = "[REDACTED]"


# Names whose value is a secret: the last word of a key or an assignment's name.
_WORDS = (
    r"password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|"
    r"private[_-]?key|secret[_-]?key|client[_-]?secret|credentials?|cookie|authorization"
)
#: A key naming a secret: ends with a secret word (``PASSWORD``, ``X-API-KEY``,
#: ``Cookie``, ``accessToken``), or is ``pass`` / ends with ``_pass``.
_KEY = re2.compile(rf"(?i)(?:{_WORDS})$|(?:^|[^A-Za-z])pass$")
#: Flags may also end in a bare ``key`` (``deploy --key=…``, ``--signing-key …``), which
#: as a mapping key or an assignment's name would be too common (``{"key": "name"}``).
_FLAG_WORDS = rf"{_WORDS}|key"
#: An argument that announces a secret as the next argument: ``--password``, ``-token``.
_FLAG = re2.compile(rf"(?i)^--?[A-Za-z0-9_-]*(?:{_FLAG_WORDS})$")

# A value after a name: quoted (kept quoted) or a bare word.
_VALUE = r"\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'|(?:[^\s'\",;&\\]|\\.)+"
_PATTERNS = [
    # Authorization: Bearer x / Authorization: Basic x (headers, curl -H)
    r"(?P<ah>(?i:(?:proxy-)?authorization)[\"']?\s*[:=]\s*[\"']?"
    r"(?:(?i:bearer|basic|token|digest|negotiate)\s+)?)(?P<ahv>[^\s'\",;]+)",
    # Bearer tokens anywhere
    r"(?P<br>(?i:bearer)\s+)(?P<brv>[A-Za-z0-9._~+/=-]{8,})",
    # --password x, --api-key=x
    rf"(?P<fl>--(?i:[A-Za-z0-9_-]*(?:{_FLAG_WORDS}))(?:=|\s+))(?P<flv>{_VALUE})",
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
#: The GitHub token prefixes (ghp_, gho_, ghu_, ghs_, ghr_) in one scan instead of five
#: (Python's re: no backtracking in this pattern, and it takes any str, RE2 only UTF-8).
GH_TRIGGER = re.compile("gh[pousr]_")

_log = logging.getLogger(__name__)

#: detect-secrets plugins whose matches are no secret (a public IP address is not one).
_LIBRARY_EXCLUDED = frozenset({"IPPublicDetector"})
#: What follows a library match that ends in a token's characters: the rest of that token.
_TOKEN_TAIL = r"[A-Za-z0-9_-]*"
#: The shortest literal that may serve as a library pattern's trigger.
_MIN_TRIGGER = 3


@dataclass(frozen=True)
class Library:
    """The maintained rule set in use: its patterns (RE2), their triggers, what was skipped."""

    patterns: tuple[str, ...] = ()
    #: Lower-cased fragments one of which every match of a triggered pattern holds.
    triggers: tuple[str, ...] = ()
    #: Patterns with no literal to pre-check by: searched in every text (one RE2 scan).
    untriggered: tuple[str, ...] = ()
    #: ``(plugin, pattern, why)`` for each pattern not used.
    skipped: tuple[tuple[str, str, str], ...] = field(default=())


def _required_literals(items: Any) -> set[str] | None:
    """Lower-cased texts one of which every match of the parsed ``items`` contains, or None.

    A run of literal characters is one such text; an alternation whose every branch has
    a set gives their union. The set whose shortest text is longest wins.
    """
    import re._constants as k  # the parser Python's re uses: the library's patterns are re's

    best: set[str] | None = None
    run = ""

    def consider(candidate: set[str] | None) -> None:
        nonlocal best
        if candidate and min(map(len, candidate)) >= _MIN_TRIGGER:
            if best is None or min(map(len, candidate)) > min(map(len, best)):
                best = candidate

    for op, arg in list(items) + [(None, None)]:
        if op is k.LITERAL:
            run += chr(arg)
            continue
        consider({run.lower()} if run else None)
        run = ""
        if op is k.SUBPATTERN:
            consider(_required_literals(arg[-1]))
        elif op is k.BRANCH:
            branches = [_required_literals(b) for b in arg[1]]
            if all(branches):
                consider(set().union(*branches))  # type: ignore[arg-type]
        elif op in (k.MAX_REPEAT, k.MIN_REPEAT) and arg[0] >= 1:
            consider(_required_literals(arg[2]))
    return best


def _ends_in_token_characters(items: Any) -> bool:
    import re._constants as k

    items = list(items)
    if not items:
        return False
    op, arg = items[-1]
    return op in (k.MAX_REPEAT, k.MIN_REPEAT) and all(o is k.IN for o, _ in arg[2])


def library_patterns() -> Library:
    """The regex rules of detect-secrets' plugins, as RE2 patterns with their triggers.

    Read from its plugin registry, so a new release's rules come with it. A pattern is
    used when RE2 compiles it (flags carried over; a verbose pattern only if it holds no
    whitespace or comment to strip); the others are skipped, counted and logged.
    """
    try:
        import re._parser as sre_parse

        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.plugins.base import RegexBasedDetector
    except ImportError as exc:  # pragma: no cover - a dependency; said, never raised
        _log.warning("detect-secrets is not importable (%s): its token shapes are not used", exc)
        return Library()
    patterns: list[str] = []
    triggers: list[str] = []
    untriggered: list[str] = []
    skipped: list[tuple[str, str, str]] = []
    plugins = get_mapping_from_secret_type_to_class().values()
    for plugin in sorted(plugins, key=lambda p: p.__name__):
        if not issubclass(plugin, RegexBasedDetector) or plugin.__name__ in _LIBRARY_EXCLUDED:
            continue
        for compiled in plugin.denylist:
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
            parsed = sre_parse.parse(source, flags)
            pattern = f"(?{modes}:{source})" if modes else f"(?:{source})"
            if _ends_in_token_characters(parsed):
                pattern += _TOKEN_TAIL
            try:
                re2.compile(pattern, _options())
            except re2.error as exc:
                skipped.append((plugin.__name__, source, str(exc)))
                continue
            patterns.append(pattern)
            literals = _required_literals(parsed)
            if literals is None:
                untriggered.append(pattern)
            else:
                triggers.extend(sorted(literals))
    if skipped:
        _log.info(
            "detect-secrets: %d of %d patterns skipped (RE2 cannot compile them): %s",
            len(skipped),
            len(skipped) + len(patterns),
            ", ".join(sorted({name for name, _, _ in skipped})),
        )
    return Library(
        tuple(patterns), tuple(dict.fromkeys(triggers)), tuple(untriggered), tuple(skipped)
    )


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


@dataclass(frozen=True)
class Rules:
    """The compiled rules in force; replaced as a whole, so readers need no lock."""

    secret: Any  # the built-in, library and extra patterns, in one RE2 pattern
    extra: Any | None  # the extra patterns alone (no trigger can pre-check them)
    allow: Any | None
    extra_patterns: tuple[str, ...]
    allow_patterns: tuple[str, ...]
    #: Built-in triggers, then the library's (those a built-in one covers left out).
    triggers: tuple[str, ...] = TRIGGERS
    #: The library patterns no trigger pre-checks, in one RE2 pattern (or None).
    untriggered: Any | None = None

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
    triggers = TRIGGERS + tuple(t for t in known.triggers if not any(b in t for b in TRIGGERS))
    untriggered = (
        re2.compile("|".join(known.untriggered), _options()) if known.untriggered else None
    )
    return Rules(secret, extra, allowed, extras, allows, triggers, untriggered)


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
            if value[:1] in "\"'" and len(value) >= 2:
                return f"{prefix}{value[0]}{REDACTED}{value[-1]}{suffix}", True
            return f"{prefix}{REDACTED}{suffix}", True
    whole = match.group(0)
    if rules.allowed(whole):
        return whole, False
    return REDACTED, True
