"""Handing an execution's context to worker subprocesses: the public API for orchestrators.

An orchestrator runs an execution in waves of workers, each a subprocess.
For every worker's rows to carry the execution id and wave, and every span
to land in the execution's one trace, the worker needs the W3C trace context
and baggage in its environment. This module is that, with no internal names:

.. code-block:: python

    from otel_obs import configure
    from otel_obs.propagation import execution_scope, wave_scope, worker_environment

    configure()
    with execution_scope("exec-42", task_list_id="list-7"):
        with wave_scope(1):
            env = worker_environment()  # os.environ + TRACEPARENT, TRACESTATE, BAGGAGE
            subprocess.run([sys.executable, "worker.py"], env=env, check=True)

In the worker, ``TranscriptWriter(None, "worker-1")`` reads the execution id,
wave and task list from ``BAGGAGE`` and joins ``TRACEPARENT`` by itself; the
worker's own plain spans join it inside :func:`joined_context` (or after
:func:`join_environment`).

The environment variables are W3C Trace Context (``TRACEPARENT``,
``TRACESTATE``) and W3C Baggage (``BAGGAGE``), written with the W3C
propagators whatever ``OTEL_PROPAGATORS`` says, because those names mean
those formats.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import Span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from . import conventions as c
from .pipeline import Pipeline

#: The variables a worker subprocess reads its context from.
ENVIRONMENT_KEYS = ("TRACEPARENT", "TRACESTATE", "BAGGAGE")
#: Baggage keys the producers read: execution id, wave number, task list id.
EXECUTION_ID, WAVE_NUMBER, TASK_LIST_ID = c.EXECUTION_ID, c.WAVE_NUMBER, c.TASK_LIST_ID

_W3C = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])


def worker_environment(
    base: Mapping[str, str] | None = None, context: Context | None = None
) -> dict[str, str]:
    """``base`` (default: this process's environment) with the context a worker needs.

    ``TRACEPARENT`` / ``TRACESTATE`` / ``BAGGAGE`` of ``context`` (default:
    the current one, e.g. inside :func:`wave_scope`); stale ones in ``base``
    are replaced, not kept.
    """
    carrier: dict[str, str] = {}
    _W3C.inject(carrier, context=context)
    env = {k: v for k, v in (os.environ if base is None else base).items()}
    for key in ENVIRONMENT_KEYS:
        env.pop(key, None)
        value = carrier.get(key.lower())
        if value:
            env[key] = value
    return env


def environment_context(
    environ: Mapping[str, str] | None = None, context: Context | None = None
) -> Context:
    """The context in ``environ``'s ``TRACEPARENT`` / ``BAGGAGE`` (default: this process's)."""
    source = os.environ if environ is None else environ
    carrier = {k.lower(): source[k] for k in ENVIRONMENT_KEYS if source.get(k)}
    base = otel_context.get_current() if context is None else context
    return _W3C.extract(carrier, context=base) if carrier else base


@contextmanager
def joined_context(environ: Mapping[str, str] | None = None) -> Iterator[Context]:
    """In a worker: make the orchestrator's context (from the environment) current.

    Every span started inside, the worker's own plain spans included, joins
    the execution's trace and carries its baggage.
    """
    token = otel_context.attach(environment_context(environ))
    try:
        yield otel_context.get_current()
    finally:
        otel_context.detach(token)


def join_environment(environ: Mapping[str, str] | None = None) -> None:
    """In a worker: make the orchestrator's context current for the rest of this thread."""
    otel_context.attach(environment_context(environ))


@dataclass
class Scope:
    """An execution or wave in progress: its span, its context, its outcome."""

    span: Span
    context: Context
    execution_id: str
    wave_number: int | None = None
    status: str = "completed"

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for a worker started in this scope (see :func:`worker_environment`)."""
        return worker_environment(base, self.context)

    def fail(self) -> None:
        """Mark this scope failed (it is also failed when its block raises)."""
        self.status = "failed"


def _tracer(pipeline: Pipeline | None) -> trace.Tracer:
    if pipeline is None:
        from .config import get_pipeline

        pipeline = get_pipeline()
    return pipeline.tracer


@contextmanager
def _scope(
    name: str,
    attributes: dict[str, str | int],
    context: Context,
    scope: Scope,
    pipeline: Pipeline | None,
) -> Iterator[Scope]:
    span = _tracer(pipeline).start_span(name, context=context, attributes=attributes)
    scope.span = span
    scope.context = trace.set_span_in_context(span, scope.context)
    token = otel_context.attach(scope.context)
    try:
        yield scope
    except BaseException:
        scope.fail()
        raise
    finally:
        otel_context.detach(token)
        span.set_attribute(c.EXECUTION_STATUS, scope.status)
        span.end()


@contextmanager
def execution_scope(
    execution_id: str,
    *,
    task_list_id: str | None = None,
    pipeline: Pipeline | None = None,
) -> Iterator[Scope]:
    """Run an execution: its span (a new trace), its id and task list in baggage, made current.

    The execution ends ``completed``, or ``failed`` when the block raises or
    :meth:`Scope.fail` was called. ``pipeline`` defaults to the producers'
    default one (``configure()``'s).
    """
    if not execution_id or not isinstance(execution_id, str):
        raise ValueError(f"execution_id must be a non-empty string, got {execution_id!r}")
    # A new trace unless the orchestrator itself runs inside one (its own TRACEPARENT).
    ctx = environment_context()
    ctx = baggage.set_baggage(EXECUTION_ID, execution_id, ctx)
    attributes: dict[str, str | int] = {c.KIND: c.KIND_EXECUTION, c.EXECUTION_ID: execution_id}
    if task_list_id:
        ctx = baggage.set_baggage(TASK_LIST_ID, task_list_id, ctx)
        attributes[c.TASK_LIST_ID] = task_list_id
    scope = Scope(trace.INVALID_SPAN, ctx, execution_id)
    name = c.span_name(c.KIND_EXECUTION, execution_id)
    with _scope(name, attributes, ctx, scope, pipeline) as s:
        yield s


@contextmanager
def wave_scope(number: int, *, pipeline: Pipeline | None = None) -> Iterator[Scope]:
    """Run a wave of the current execution: its span, its number in baggage, made current.

    Must be inside :func:`execution_scope` (or a context whose baggage holds
    the execution id); raises ``ValueError`` otherwise, or for a wave number
    that is not a positive integer.
    """
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValueError(f"wave number must be a positive integer, got {number!r}")
    ctx = otel_context.get_current()
    execution_id = baggage.get_baggage(EXECUTION_ID, ctx)
    if not execution_id:
        raise ValueError(
            f"wave_scope({number}) needs an execution: call it inside execution_scope(...)"
        )
    ctx = baggage.set_baggage(WAVE_NUMBER, str(number), ctx)
    attributes: dict[str, str | int] = {
        c.KIND: c.KIND_WAVE,
        c.EXECUTION_ID: str(execution_id),
        c.WAVE_NUMBER: number,
    }
    task_list_id = baggage.get_baggage(TASK_LIST_ID, ctx)
    if task_list_id:
        attributes[c.TASK_LIST_ID] = str(task_list_id)
    scope = Scope(trace.INVALID_SPAN, ctx, str(execution_id), number)
    with _scope(c.span_name(c.KIND_WAVE, number), attributes, ctx, scope, pipeline) as s:
        yield s


__all__ = [
    "ENVIRONMENT_KEYS",
    "Scope",
    "environment_context",
    "execution_scope",
    "join_environment",
    "joined_context",
    "wave_scope",
    "worker_environment",
]
