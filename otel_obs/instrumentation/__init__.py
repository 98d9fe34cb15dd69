"""Instrumentation of agent frameworks: their workers land in the store without code changes.

``claude_agent_sdk``: :class:`~otel_obs.instrumentation.claude_agent_sdk.ClaudeAgentSDKInstrumentor`
(an OpenTelemetry ``BaseInstrumentor``, also found by ``opentelemetry-instrument``)
and :func:`~otel_obs.instrumentation.claude_hooks.tool_use_hooks`, ready
``HookMatcher``\\ s for workers that prefer hooks. The framework itself is an
optional extra (``pip install otel-obs[claude-agent-sdk]``); nothing here imports
it until it is used.
"""
