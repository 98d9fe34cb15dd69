"""Claude Agent SDK workers in the store with one line, or none.

::

    from otel_obs.instrumentation.claude_agent_sdk import ClaudeAgentSDKInstrumentor

    ClaudeAgentSDKInstrumentor().instrument()

or, with no code change, ``opentelemetry-instrument python worker.py`` (the
instrumentor is registered under the ``opentelemetry_instrumentor`` entry
point). Every ``query()`` call and every ``ClaudeSDKClient`` connection is
then one :class:`~otel_obs.instrumentation.claude_session.ClaudeSession`: one
agent instance per session, its tool uses, subagents, denials, usage and cost.

The patches sit where every call passes whatever the worker imported before
``instrument()``: ``query()`` runs ``InternalClient.process_query`` (patched
on its class), and ``ClaudeSDKClient``'s ``connect`` / ``receive_messages`` /
``disconnect`` are patched on the class (``receive_response`` reads
``receive_messages``). The worker gets the very message objects it would get
without instrumentation; its options are copied, never changed, to add one
hook. ``instrument(pipeline=...)`` names the store (default: the configured
pipeline, see :func:`otel_obs.configure`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from otel_obs._internal_errors import internal_errors
from otel_obs.pipeline import Pipeline

from .claude_session import ClaudeSession

logger = logging.getLogger(__name__)

_INSTRUMENTS = ("claude-agent-sdk >= 0.1.0",)
#: Where a ClaudeSDKClient keeps its session while instrumented.
_SESSION_ATTR = "_otel_obs_session"


class ClaudeAgentSDKInstrumentor(BaseInstrumentor):
    """Records every Claude Agent SDK session of this process in the otel-obs store."""

    _originals: list[tuple[Any, str, Any]]
    _pipeline: Pipeline | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def _instrument(self, **kwargs: Any) -> None:
        from claude_agent_sdk import ClaudeSDKClient

        self._pipeline = kwargs.get("pipeline")
        self._originals = []
        try:
            from claude_agent_sdk._internal.client import InternalClient
        except ImportError:  # the SDK moved its internals: say so, record the client still
            logger.warning(
                "otel-obs: this claude-agent-sdk has no InternalClient; query() is not recorded"
            )
        else:
            self._patch(InternalClient, "process_query", self._wrap_process_query)
        self._patch(ClaudeSDKClient, "connect", self._wrap_connect)
        self._patch(ClaudeSDKClient, "receive_messages", self._wrap_receive_messages)
        self._patch(ClaudeSDKClient, "disconnect", self._wrap_disconnect)

    def _uninstrument(self, **kwargs: Any) -> None:
        for owner, name, original in reversed(getattr(self, "_originals", [])):
            setattr(owner, name, original)
        self._originals = []

    def _patch(self, owner: Any, name: str, wrap: Any) -> None:
        original = owner.__dict__[name]
        self._originals.append((owner, name, original))
        setattr(owner, name, functools.wraps(original)(wrap(original)))

    def _session(self) -> ClaudeSession:
        return ClaudeSession(self._pipeline)

    # query(): InternalClient.process_query(self, prompt, options, transport=None)

    def _wrap_process_query(self, original: Any) -> Any:
        instrumentor = self

        async def process_query(
            client: Any, prompt: Any, options: Any, transport: Any = None
        ) -> AsyncIterator[Any]:
            session = _new_session(instrumentor)
            if session is None:
                async for message in original(client, prompt, options, transport):
                    yield message
                return
            error: str | None = None
            try:
                async for message in original(
                    client, prompt, _with_hooks(session, options), transport
                ):
                    session.on_message(message)
                    yield message
            except BaseException as exc:
                error = f"{type(exc).__name__}: {exc}"
                raise
            finally:
                session.close(error)

        return process_query

    # ClaudeSDKClient

    def _wrap_connect(self, original: Any) -> Any:
        instrumentor = self

        async def connect(client: Any, prompt: Any = None) -> None:
            session = getattr(client, _SESSION_ATTR, None)
            if session is None:
                session = _new_session(instrumentor)
                if session is not None:
                    setattr(client, _SESSION_ATTR, session)
                    client.options = _with_hooks(session, client.options)
            await original(client, prompt)

        return connect

    def _wrap_receive_messages(self, original: Any) -> Any:
        async def receive_messages(client: Any) -> AsyncIterator[Any]:
            session = getattr(client, _SESSION_ATTR, None)
            async for message in original(client):
                if session is not None:
                    session.on_message(message)
                yield message

        return receive_messages

    def _wrap_disconnect(self, original: Any) -> Any:
        async def disconnect(client: Any) -> None:
            try:
                await original(client)
            finally:
                session = getattr(client, _SESSION_ATTR, None)
                if session is not None:
                    session.close()
                    setattr(client, _SESSION_ATTR, None)

        return disconnect


def _new_session(instrumentor: ClaudeAgentSDKInstrumentor) -> ClaudeSession | None:
    with internal_errors("claude_agent_sdk.session_start"):  # the worker runs on unrecorded
        return instrumentor._session()
    return None


def _with_hooks(session: ClaudeSession, options: Any) -> Any:
    with internal_errors("claude_agent_sdk.add_hooks"):  # denials then read as errors
        return session.add_hooks(options)
    return options
