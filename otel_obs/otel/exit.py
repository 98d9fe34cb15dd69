"""Process exit: what is still open ends ``terminated`` with a reason, and SIGTERM flushes first.

A worker that leaves through ``sys.exit``, an unhandled exception or the end
of its script without closing its ``TranscriptWriter`` would otherwise leave
its agent row ``executing`` forever (and ``health`` would call it healthy).
:class:`ExitGuard` is a span processor on the producers' provider that knows
which producer spans are open; at interpreter exit, before the store closes,
it ends them, newest first: the agent as ``terminated``, tasks ``failed``,
tool uses ``error``, each with the reason (the unhandled exception when there
was one) and ``obs.closed_by=exit``.

SIGTERM normally kills Python without running exit handlers. With
``OTEL_OBS_SIGTERM=true`` (or :func:`handle_sigterm`) a handler ends the open
spans the same way (reason ``SIGTERM``), flushes and closes the store and the
exporters, then lets the signal do what it did before (the default: the
process ends by SIGTERM). What nothing can help: SIGKILL and ``os._exit``
run no handler, so the store keeps what was flushed before (start rows are
written as spans start, so the agent, its open task and tool use are there,
``executing`` / pending) and nothing after the last flush.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Status, StatusCode

from otel_obs import conventions as c
from otel_obs._internal_errors import internal_errors
from otel_obs.deferred_payloads import settle_on_span
from otel_obs.exporters._sdk_access import own_attributes

EXIT_REASON = "process exited with the span still open"
SIGTERM_REASON = "SIGTERM"

_unhandled: str | None = None
_hook_lock = threading.Lock()
_hook_installed = False


class ExitGuard(SpanProcessor):
    """Keeps the open producer spans, to end them if the process leaves first."""

    def __init__(self) -> None:
        self._open: dict[int, Span] = {}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if c.KIND in own_attributes(span):  # ours: other instrumentations' spans are theirs
            # By span id: ``on_end`` gets a read-only copy of the span, not the span itself.
            self._open[span.context.span_id] = span

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None:
            self._open.pop(span.context.span_id, None)

    def open_spans(self) -> int:
        return len(self._open)

    def end_open(self, reason: str) -> int:
        """End every open span, newest first, as terminated for ``reason``; return how many."""
        spans = list(self._open.values())
        for span in reversed(spans):
            if not span.is_recording():  # ended meanwhile
                continue
            with internal_errors("exit.terminate"):  # exit must go on
                _terminate(span, reason)
        return len(spans)


def _terminate(span: Span, reason: str) -> None:
    kind = own_attributes(span).get(c.KIND)
    attrs: dict[str, Any] = {c.CLOSED_BY: "exit"}
    if kind == c.KIND_AGENT:
        attrs.update({c.AGENT_STATUS: "terminated", c.AGENT_ERROR: reason})
    elif kind == c.KIND_TASK:
        attrs.update({c.TASK_STATUS: "failed", c.TASK_ERROR: reason})
    elif kind == c.KIND_TOOL:
        settle_on_span(span)  # a deferred input: redacted now, whoever reads the span at exit
        attrs.update(
            {c.TOOL_RESULT_STATUS: "error", c.TOOL_IS_ERROR: True, c.TOOL_ERROR_MESSAGE: reason}
        )
    elif kind == c.KIND_SKILL:
        attrs.update({c.SKILL_STATUS: "failed", c.SKILL_ERROR: reason})
    elif kind in (c.KIND_EXECUTION, c.KIND_WAVE):
        attrs[c.EXECUTION_STATUS] = "failed"
    span.set_attributes(attrs)
    span.set_status(Status(StatusCode.ERROR, reason))
    span.end()


def exit_reason() -> str:
    """Why the process is leaving: its unhandled exception if there was one."""
    return _unhandled or EXIT_REASON


def _remember_unhandled(previous: Callable[..., Any]) -> Callable[..., Any]:
    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        global _unhandled
        _unhandled = f"unhandled {exc_type.__name__}: {exc}"[:500]
        previous(exc_type, exc, tb)

    return hook


def guard(provider: Any, close: Callable[[], Any]) -> ExitGuard:
    """An :class:`ExitGuard` on ``provider``, ending its open spans at exit, then ``close``.

    Registered after the store was opened, so it runs before the store's own
    exit handler closes it (exit handlers run newest first).
    """
    global _hook_installed
    exit_guard = ExitGuard()
    provider.add_span_processor(exit_guard)
    with _hook_lock:
        if not _hook_installed:
            sys.excepthook = _remember_unhandled(sys.excepthook)
            _hook_installed = True

    def at_exit() -> None:
        if exit_guard.end_open(exit_reason()):
            close()

    atexit.register(at_exit)
    exit_guard.at_exit = at_exit  # type: ignore[attr-defined]
    return exit_guard


def handle_sigterm(exit_guard: ExitGuard, close: Callable[[], Any]) -> bool:
    """On SIGTERM: end open spans (reason ``SIGTERM``), ``close``, then the previous handling.

    Only from the main thread (where Python allows signal handlers); returns
    whether the handler is installed.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        exit_guard.end_open(SIGTERM_REASON)
        close()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
    return True


__all__ = ["EXIT_REASON", "SIGTERM_REASON", "ExitGuard", "exit_reason", "guard", "handle_sigterm"]
