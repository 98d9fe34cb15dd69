"""The one path of an internal error: an unexpected exception inside otel-obs.

Recording must never cost the agent its work, so the places where otel-obs
runs on the agent's behalf (producers, hooks, the store's threads) wrap their
work in :class:`internal_errors`::

    with internal_errors("store.writer") as caught:
        writer.write_items(items)
    if caught.error is not None:
        ...  # the fallback: count it in the caller's own stats, return a default

Each error is counted by its kind (a stable name the call site gives; see
:func:`counts`), logged as a warning the first time its kind is seen in the
process (its traceback at debug level, every time), and swallowed.

Under the test suite (``OTEL_OBS_RAISE_INTERNAL_ERRORS=1``, which the suite's
conftest sets) it is counted, logged, and raised again, so a bug is a failing
test rather than a line in a log; a test that provokes such an error on
purpose (a broken exporter, a store that fails) runs inside
:func:`internal_errors_allowed`.

Errors a block expects (a sqlite3 error counted as a storage failure, an
``OSError`` on a file, bad input) are caught narrowly where they happen and
never come here.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

RAISE_ENV = "OTEL_OBS_RAISE_INTERNAL_ERRORS"

logger = logging.getLogger("otel_obs.internal_errors")

_lock = threading.Lock()
_counts: Counter[str] = Counter()
_logged: set[str] = set()
_allowed = 0  # internal_errors_allowed() blocks open, in any thread


class internal_errors:  # noqa: N801 - used like a function: ``with internal_errors(kind)``
    """Catch an unexpected ``Exception`` of the block: count, log once per kind, swallow.

    ``error`` holds the exception caught (None when the block ran through).
    ``BaseException``s that are not ``Exception``s (``KeyboardInterrupt``,
    ``SystemExit``, a cancelled task) always pass through.
    """

    __slots__ = ("error", "kind")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.error: Exception | None = None

    def __enter__(self) -> internal_errors:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc_type is None or not isinstance(exc, Exception):
            return False
        self.error = exc
        report(self.kind, exc)
        return not raising()


def swallowed(kind: str, exc: Exception) -> bool:
    """What :class:`internal_errors` does with ``exc``, for a hot path's own ``except``.

    Count and log it; True when it is swallowed, False when the caller must raise
    it again (under the test suite)::

        try:
            ...
        except Exception as exc:
            if not swallowed("producer.span_start", exc):
                raise

    A ``with internal_errors(...)`` block costs an object and two calls even when
    nothing goes wrong; a ``try`` costs nothing then. Used where the agent pays
    for it on every tool use.
    """
    report(kind, exc)
    return not raising()


def report(kind: str, exc: BaseException) -> None:
    """Count ``exc`` under ``kind`` and log it (a warning once per kind, a debug line always)."""
    with _lock:
        _counts[kind] += 1
        first = kind not in _logged
        _logged.add(kind)
    if first:
        logger.warning(
            "otel-obs internal error (%s): %s: %s; recording goes on (counted in "
            "otel_obs._internal_errors.counts(); traceback at debug level)",
            kind,
            type(exc).__name__,
            exc,
        )
    logger.debug("otel-obs internal error (%s)", kind, exc_info=exc)


def raising() -> bool:
    """True when internal errors are raised again: under the test suite, outside
    :func:`internal_errors_allowed`."""
    return _allowed == 0 and os.environ.get(RAISE_ENV, "").strip().lower() in ("1", "true", "yes")


def counts() -> dict[str, int]:
    """Internal errors of this process so far, by kind."""
    with _lock:
        return dict(_counts)


@contextmanager
def internal_errors_allowed() -> Iterator[None]:
    """Swallow internal errors (counted, logged) while the block runs, in every thread.

    For tests that provoke them on purpose; nothing changes outside the test suite.
    """
    global _allowed
    with _lock:
        _allowed += 1
    try:
        yield
    finally:
        with _lock:
            _allowed -= 1


def _reset() -> None:
    """Forget the counts and the kinds logged (tests)."""
    with _lock:
        _counts.clear()
        _logged.clear()


__all__ = [
    "RAISE_ENV",
    "counts",
    "internal_errors",
    "internal_errors_allowed",
    "raising",
    "report",
    "swallowed",
]
