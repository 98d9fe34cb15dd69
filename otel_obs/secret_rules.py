"""What counts as a secret: the patterns, the secret key names, and their configuration.

Every pattern runs on RE2 (``google-re2``), whose matching time is linear in
the text whatever the text is. Python's backtracking ``re`` is not: the former
single pattern took 3.5 s on a 17 KB minified SVG path and 95 s on 64 KB of
``a-a-a-…``, on the agent's thread. RE2 has no look-around, so the rules that
need context (keep the key, keep the quotes, skip what is already redacted)
are decided in the replacement function instead.

Configuration: :func:`configure_redaction` (``extra_patterns``: more regular
expressions whose matches are secrets; ``allow``: regular expressions for
values that are never redacted, e.g. placeholders) or the environment
variables ``OTEL_OBS_REDACT_PATTERNS`` / ``OTEL_OBS_REDACT_ALLOW`` (a JSON list
of expressions, or a single one). Both use RE2 syntax.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
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
#: An argument that announces a secret as the next argument: ``--password``, ``-token``.
_FLAG = re2.compile(rf"(?i)^--?[A-Za-z0-9_-]*(?:{_WORDS})$")

# A value after a name: quoted (kept quoted) or a bare word.
_VALUE = r"\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'|(?:[^\s'\",;&\\]|\\.)+"
_PATTERNS = [
    # Authorization: Bearer x / Authorization: Basic x (headers, curl -H)
    r"(?P<ah>(?i:(?:proxy-)?authorization)[\"']?\s*[:=]\s*[\"']?"
    r"(?:(?i:bearer|basic|token|digest|negotiate)\s+)?)(?P<ahv>[^\s'\",;]+)",
    # Bearer tokens anywhere
    r"(?P<br>(?i:bearer)\s+)(?P<brv>[A-Za-z0-9._~+/=-]{8,})",
    # --password x, --api-key=x
    rf"(?P<fl>--(?i:[A-Za-z0-9_-]*(?:{_WORDS}))(?:=|\s+))(?P<flv>{_VALUE})",
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


@dataclass(frozen=True)
class Rules:
    """The compiled rules in force; replaced as a whole, so readers need no lock."""

    secret: Any  # the built-in patterns and the extra ones, in one RE2 pattern
    extra: Any | None  # the extra patterns alone (no trigger can pre-check them)
    allow: Any | None
    extra_patterns: tuple[str, ...]
    allow_patterns: tuple[str, ...]

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
    secret = re2.compile("|".join([*_PATTERNS, *(f"(?:{p})" for p in extras)]), _options())
    extra = re2.compile("|".join(f"(?:{p})" for p in extras), _options()) if extras else None
    allowed = re2.compile("|".join(f"(?:{p})" for p in allows), _options()) if allows else None
    return Rules(secret, extra, allowed, extras, allows)


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
