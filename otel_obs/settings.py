"""Every otel-obs setting, declared once: its variable, default, type and check.

``configure()``, the command line, the skills API and the store read their
settings here, through one resolver (:meth:`Setting.resolve`): the argument
when one is given, else the environment variable, else the default. A bad
value is a ``ValueError`` that names where it came from (the argument or the
variable) and what would be valid, so the same mistake reads the same
everywhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from .store_location import ServerStore, StoreLocation, store_location

T = TypeVar("T")


def positive_int(value: Any, source: str) -> int:
    """``value`` as a positive integer (from an argument, or a variable's text)."""
    return _int_at_least(value, source, 1, "a positive integer")


def non_negative_int(value: Any, source: str) -> int:
    """``value`` as an integer of 0 or more (0 turns the thing it sets off)."""
    return _int_at_least(value, source, 0, "a non-negative integer")


def _int_at_least(value: Any, source: str, least: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{source} must be {what}, got {value!r}")
    return value


def integer_text(text: str, source: str) -> Any:
    """A variable's text as an integer when it reads as one (the check then judges it)."""
    try:
        return int(text.strip())
    except ValueError:
        return text


def path(value: Any, source: str) -> Path:
    """``value`` as a path (``~`` expanded; relative to the working directory)."""
    if not isinstance(value, str | os.PathLike) or not str(value).strip():
        raise ValueError(f"{source} must be a path, got {value!r}")
    return Path(value).expanduser()


def name(value: Any, source: str) -> str:
    """``value`` as a non-empty name (surrounding blanks ignored)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{source} must be a non-empty name, got {value!r}")
    return value.strip()


def one_of(*valid: str) -> Callable[[Any, str], str]:
    """A check that takes one of ``valid`` (surrounding blanks ignored)."""

    def check(value: Any, source: str) -> str:
        text = value.strip() if isinstance(value, str) else value
        if text not in valid:
            raise ValueError(f"{source}={value!r} is not valid; valid: {', '.join(valid)}")
        return text

    return check


def flag(value: Any, source: str) -> bool:
    """``value`` as on or off (``1``/``true``/``yes``/``on`` and their opposites)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{source}={value!r} is not valid; valid: true, false")


def text_list(value: Any, source: str) -> tuple[str, ...]:
    """Non-empty strings: an argument's list, or a variable's JSON list (or one string)."""
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("["):
            return (text,)
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{source}={text!r} is not a JSON list of strings: {exc}") from None
    if isinstance(value, bytes) or not isinstance(value, Iterable):
        raise ValueError(f"{source} must be a list of strings, got {value!r}")
    items = tuple(value)
    if not all(isinstance(item, str) and item for item in items):
        raise ValueError(f"{source} must be a list of non-empty strings, got {value!r}")
    return items


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One setting: the argument name, its variable (if any), its default and its check."""

    name: str
    env: str | None
    default: T
    check: Callable[[Any, str], T]
    doc: str = ""
    #: Turns a variable's text into what ``check`` takes (arguments are taken as given).
    parse: Callable[[str, str], Any] = lambda text, source: text

    def resolve(self, value: T | None = None) -> T:
        """The argument when given, else the variable when set and not empty, else the default."""
        if value is not None:
            return self.check(value, self.name)
        from_env = self.from_env()
        return self.default if from_env is None else from_env

    def from_env(self) -> T | None:
        """The variable's value, checked; None when it is unset or empty."""
        raw = os.environ.get(self.env) if self.env else None
        if raw is None or not raw.strip():
            return None
        return self.check(self.parse(raw, self.env), self.env)  # type: ignore[arg-type]


DB: Setting[StoreLocation] = Setting(
    "db_path",
    "OTEL_OBS_DB",
    Path("database") / "observability.db",
    store_location,
    "the store: a SQLite file, or a PostgreSQL database as a postgresql:// URL",
)
TRANSCRIPTS_DIR = Setting(
    "transcripts_dir",
    "OTEL_OBS_TRANSCRIPTS_DIR",
    Path("transcripts"),
    path,
    "the JSONL transcripts folder (next to the database when only a database path is given)",
)
FLUSH_INTERVAL_MS = Setting(
    "flush_interval_ms",
    "OTEL_OBS_FLUSH_INTERVAL_MS",
    100,
    positive_int,
    "how long queued spans wait before they are written as a batch",
    integer_text,
)
QUEUE_CAPACITY = Setting(
    "queue_capacity",
    "OTEL_OBS_QUEUE_CAPACITY",
    100_000,
    positive_int,
    "items the store's queue holds before a producer waits for room",
    integer_text,
)
WRITER = Setting(
    "writer",
    "OTEL_OBS_WRITER",
    "process",
    one_of("thread", "process"),
    "where the store maps and writes: a writer process of its own, or a thread",
)
OTLP_PAYLOADS = Setting(
    "otlp_payloads",
    "OTEL_OBS_OTLP_PAYLOADS",
    "full",
    one_of("full", "none"),
    "whether tool inputs and outputs, details and evidence go out over OTLP",
)
#: Unset (None): the exporters the standard variables ask for carry the application's
#: spans when otel-obs made the application's provider; an ``otlp_endpoint`` one does not.
OTLP_APP_SPANS: Setting[bool | None] = Setting(
    "otlp_app_spans",
    "OTEL_OBS_OTLP_APP_SPANS",
    None,
    flag,
    "whether the exporters otel-obs builds also carry the application's own spans "
    "(unset: those OTEL_TRACES_EXPORTER asks for do, when otel-obs made the provider)",
)
ENABLED = Setting(
    "enabled",
    "OTEL_OBS_ENABLED",
    True,
    flag,
    "whether the local store records (false: producers store nothing; export is unchanged)",
)
SIGTERM = Setting(
    "sigterm",
    "OTEL_OBS_SIGTERM",
    False,
    flag,
    "on SIGTERM, end open spans as terminated and flush the store before the process ends",
)
GEN_AI_PROVIDER = Setting(
    "gen_ai_provider",
    "OTEL_OBS_GEN_AI_PROVIDER",
    "anthropic",
    name,
    "gen_ai.provider.name on exported agent spans that do not state their own",
)
DEBUG = Setting(
    "debug",
    "OTEL_OBS_DEBUG",
    False,
    flag,
    "the command line prints tracebacks of unexpected errors",
)
# The store's own limits: arguments only (tests and tools), no variable.
BATCH_ITEMS = Setting("batch_items", None, 20_000, positive_int, "queued items written per batch")
BUSY_TIMEOUT_MS = Setting(
    "busy_timeout_ms", None, 10_000, positive_int, "how long a write waits for SQLite's lock"
)
BLOCK_TIMEOUT_MS = Setting(
    "block_timeout_ms",
    None,
    5_000,
    non_negative_int,
    "how long a producer waits for room in a full queue before the item is dropped (counted)",
)

RETRY_WINDOW_MS = Setting(
    "retry_window_ms",
    "OTEL_OBS_RETRY_WINDOW_MS",
    60_000,
    non_negative_int,
    "how long a batch that met a passing storage fault (full disk, lock) is tried again",
    integer_text,
)

LINK_WAIT_MS = Setting(
    "link_wait_ms",
    "OTEL_OBS_LINK_WAIT_MS",
    600_000,
    non_negative_int,
    "how long a span of another instrumentation waits for its parent before it is stored"
    " with what is known",
    integer_text,
)

SHUTDOWN_TIMEOUT_MS = Setting(
    "shutdown_timeout_ms",
    "OTEL_OBS_SHUTDOWN_TIMEOUT_MS",
    30_000,
    positive_int,
    "the longest a store's close (at exit too) waits for what is queued to be written",
    integer_text,
)

TOOL_TIMEOUT_MS = Setting(
    "tool_timeout_ms",
    "OTEL_OBS_TOOL_TIMEOUT_MS",
    60_000,
    positive_int,
    "the longest one SQL tool (or another read of the store) may run before it is stopped"
    " with an error naming it and this limit",
    integer_text,
)

REDACT_PATTERNS: Setting[tuple[str, ...]] = Setting(
    "extra_patterns",
    "OTEL_OBS_REDACT_PATTERNS",
    (),
    text_list,
    "more secret shapes for redaction (RE2 regular expressions); each match is redacted",
)
REDACT_ALLOW: Setting[tuple[str, ...]] = Setting(
    "allow",
    "OTEL_OBS_REDACT_ALLOW",
    (),
    text_list,
    "values never redacted when one of these RE2 regular expressions matches them whole",
)

#: The settings a store is built with, in the order its constructor takes them.
STORE_SETTINGS: tuple[Setting[int], ...] = (
    FLUSH_INTERVAL_MS,
    QUEUE_CAPACITY,
    BATCH_ITEMS,
    BUSY_TIMEOUT_MS,
    BLOCK_TIMEOUT_MS,
    RETRY_WINDOW_MS,
    SHUTDOWN_TIMEOUT_MS,
)

ALL: tuple[Setting[Any], ...] = (
    GEN_AI_PROVIDER,
    DB,
    TRANSCRIPTS_DIR,
    FLUSH_INTERVAL_MS,
    QUEUE_CAPACITY,
    WRITER,
    OTLP_PAYLOADS,
    OTLP_APP_SPANS,
    ENABLED,
    SIGTERM,
    DEBUG,
    BATCH_ITEMS,
    BUSY_TIMEOUT_MS,
    BLOCK_TIMEOUT_MS,
    RETRY_WINDOW_MS,
    LINK_WAIT_MS,
    SHUTDOWN_TIMEOUT_MS,
    TOOL_TIMEOUT_MS,
    REDACT_PATTERNS,
    REDACT_ALLOW,
)


def store_settings(**given: int | None) -> dict[str, int]:
    """Every store setting resolved: the given ones checked, the rest from variables or defaults.

    Raises ``ValueError`` for an unknown name, naming it.
    """
    known = {s.name: s for s in STORE_SETTINGS}
    unknown = set(given) - set(known)
    if unknown:
        raise ValueError(f"unknown store setting(s): {', '.join(sorted(unknown))}")
    return {name: s.resolve(given.get(name)) for name, s in known.items()}


def resolve_paths(
    db_path: str | os.PathLike[str] | StoreLocation | None = None,
    transcripts_dir: str | os.PathLike[str] | None = None,
) -> tuple[StoreLocation, Path]:
    """The absolute store paths for these arguments, the variables and the defaults.

    An explicit database path without a transcripts folder keeps the
    transcripts next to it (``<db folder>/transcripts``), so a store given by
    one path stays in one place. A PostgreSQL store keeps them in the
    transcripts folder setting (``transcripts`` under the working directory
    by default).
    """
    db = DB.resolve(db_path)  # type: ignore[arg-type]
    transcripts = TRANSCRIPTS_DIR.resolve(transcripts_dir)  # type: ignore[arg-type]
    if isinstance(db, ServerStore):
        return db, transcripts.resolve()
    if transcripts_dir is None and TRANSCRIPTS_DIR.from_env() is None and db_path is not None:
        transcripts = db.parent / TRANSCRIPTS_DIR.default
    return db.resolve(), transcripts.resolve()


__all__ = [
    "ALL",
    "GEN_AI_PROVIDER",
    "BATCH_ITEMS",
    "BLOCK_TIMEOUT_MS",
    "BUSY_TIMEOUT_MS",
    "DB",
    "DEBUG",
    "ENABLED",
    "FLUSH_INTERVAL_MS",
    "OTLP_APP_SPANS",
    "OTLP_PAYLOADS",
    "QUEUE_CAPACITY",
    "REDACT_ALLOW",
    "REDACT_PATTERNS",
    "RETRY_WINDOW_MS",
    "SHUTDOWN_TIMEOUT_MS",
    "SIGTERM",
    "STORE_SETTINGS",
    "Setting",
    "TRANSCRIPTS_DIR",
    "WRITER",
    "flag",
    "integer_text",
    "non_negative_int",
    "one_of",
    "path",
    "positive_int",
    "resolve_paths",
    "store_settings",
    "text_list",
]
