"""Names shared by the producers (which write spans) and the mapping (which reads them).

Every producer call becomes an OpenTelemetry span or span event; the store is
filled only from what these attributes say. Keeping the names in one module is
what lets a span be mapped alone, with no state: the producers in a worker, the
live span processor, OTLP ingest and JSONL replay all agree on them.

Where the OpenTelemetry GenAI semantic conventions have a name (``gen_ai.*``)
we use it; everything of our own lives under ``obs.``.
"""

from __future__ import annotations

from typing import Final

# --------------------------------------------------------------------------
# Span kinds (attribute ``obs.kind``) and span names
# --------------------------------------------------------------------------

KIND: Final = "obs.kind"

KIND_EXECUTION: Final = "execution"  # span name: "execution {execution_id}"
KIND_WAVE: Final = "wave"  # "wave {n}"
KIND_AGENT: Final = "agent"  # "invoke_agent {instance_id}"  (GenAI name)
KIND_PHASE: Final = "phase"  # "phase {name}"
KIND_TASK: Final = "task"  # "task {task_id}"
KIND_SKILL: Final = "skill"  # "skill {skill_name}"
KIND_TOOL: Final = "tool"  # "execute_tool {tool_name}"  (GenAI name)
KIND_CHAIN: Final = "assertion_chain"  # "assertion_chain {description}"
#: A call of a language model (a span of another instrumentation: GenAI ``chat`` /
#: ``generate_content`` / ``text_completion``, OpenInference ``LLM``): an ``llm_calls`` row.
KIND_LLM: Final = "llm"

SPAN_KINDS: Final = (
    KIND_EXECUTION,
    KIND_WAVE,
    KIND_AGENT,
    KIND_PHASE,
    KIND_TASK,
    KIND_SKILL,
    KIND_TOOL,
    KIND_CHAIN,
)

# --------------------------------------------------------------------------
# Context attributes: copied onto every span when it starts (from the parent
# span, else from W3C baggage under the same key), so each span maps alone.
# --------------------------------------------------------------------------

EXECUTION_ID: Final = "obs.execution_id"
INSTANCE_ID: Final = "obs.instance_id"
TASK_ID: Final = "obs.task_id"
WAVE_NUMBER: Final = "obs.wave_number"
TASK_LIST_ID: Final = "obs.task_list_id"
SKILL_TRACE_ID: Final = "obs.skill_trace_id"  # innermost enclosing skill trace

CONTEXT_KEYS: Final = (
    EXECUTION_ID,
    INSTANCE_ID,
    TASK_ID,
    WAVE_NUMBER,
    TASK_LIST_ID,
    SKILL_TRACE_ID,
)

# --------------------------------------------------------------------------
# Transcript entries carried by spans.
#
# A span that opens with a transcript entry (phase_start, task_start,
# skill_invoke, tool_use) carries it under ``obs.entry.*``; one that closes
# with an entry (phase_end, task_end, skill_complete) carries that under
# ``obs.end_entry.*``, set just before the span ends. Ids are made by the
# producer, so mapping the same span twice yields the same rows.
#
# Tool spans (``obs.kind=tool``, the hot path) may leave their entry out: every
# attribute costs the agent's thread about half a microsecond, and the entry
# follows from the rest of the span. The mapping then takes type ``tool_use``,
# category ``action``, summary "<gen_ai.tool.name>: <obs.tool.input_summary>"
# (shortened to 200 characters) and an id derived from the tool use id
# (``exporters.mapping.tool_entry_id``). A tool span that does carry
# ``obs.entry.*`` (older producers, other paths) is mapped from them as before.
# --------------------------------------------------------------------------

ENTRY_ID: Final = "obs.entry.id"
ENTRY_TYPE: Final = "obs.entry.type"
ENTRY_CATEGORY: Final = "obs.entry.category"
ENTRY_SUMMARY: Final = "obs.entry.summary"
ENTRY_DETAILS: Final = "obs.entry.details"  # JSON object as a string
ENTRY_SKILL_REF: Final = "obs.entry.skill_ref"  # JSON object as a string
ENTRY_TOKEN_ESTIMATE: Final = "obs.entry.token_estimate"
ENTRY_DURATION_MS: Final = "obs.entry.duration_ms"

END_ENTRY_ID: Final = "obs.end_entry.id"
END_ENTRY_TYPE: Final = "obs.end_entry.type"
END_ENTRY_CATEGORY: Final = "obs.end_entry.category"
END_ENTRY_SUMMARY: Final = "obs.end_entry.summary"
END_ENTRY_DETAILS: Final = "obs.end_entry.details"
END_ENTRY_SKILL_REF: Final = "obs.end_entry.skill_ref"
END_ENTRY_TOKEN_ESTIMATE: Final = "obs.end_entry.token_estimate"

#: The entry fields of a span's start and end entry, in the same order, so one
#: function can write either and one can read either.
START_ENTRY_KEYS: Final = (
    ENTRY_ID,
    ENTRY_TYPE,
    ENTRY_CATEGORY,
    ENTRY_SUMMARY,
    ENTRY_DETAILS,
    ENTRY_SKILL_REF,
    ENTRY_TOKEN_ESTIMATE,
)
END_ENTRY_KEYS: Final = (
    END_ENTRY_ID,
    END_ENTRY_TYPE,
    END_ENTRY_CATEGORY,
    END_ENTRY_SUMMARY,
    END_ENTRY_DETAILS,
    END_ENTRY_SKILL_REF,
    END_ENTRY_TOKEN_ESTIMATE,
)

# Span events: the event name is ``obs.<entry_type>`` (``obs.decision``,
# ``obs.error`` …) and its attributes are the ENTRY_* keys above (plus
# ENTRY_DURATION_MS). An event may override the span's task with TASK_ID.
EVENT_PREFIX: Final = "obs."

# Why a span ended without its producer ending it (close(), crash recovery).
CLOSED_BY: Final = "obs.closed_by"  # "close"

# --------------------------------------------------------------------------
# Per-kind attributes
# --------------------------------------------------------------------------

# execution / wave
EXECUTION_STATUS: Final = "obs.execution.status"  # completed / failed

# agent (one invoke_agent span per worker process)
AGENT_PID: Final = "obs.agent.pid"
AGENT_HOSTNAME: Final = "obs.agent.hostname"
AGENT_STATUS: Final = "obs.agent.status"  # completed / failed / terminated
AGENT_ERROR: Final = "obs.agent.error"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_AGENT_ID: Final = "gen_ai.agent.id"
# what an instrumented framework's session adds to its agent span (GenAI names
# where the conventions have one)
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
AGENT_COST_USD: Final = "obs.agent.cost_usd"
AGENT_NUM_TURNS: Final = "obs.agent.num_turns"
AGENT_DURATION_API_MS: Final = "obs.agent.duration_api_ms"
AGENT_PERMISSION_DENIALS: Final = "obs.agent.permission_denials"  # count

# phase
PHASE_NAME: Final = "obs.phase.name"

# task (details keys of task_start / task_end mirror these)
TASK_TITLE: Final = "obs.task.title"
TASK_ACTION: Final = "obs.task.action"  # CREATE / UPDATE / DELETE / READ
TASK_FILE: Final = "obs.task.file"
TASK_DEPENDS_ON: Final = "obs.task.depends_on"  # sequence of task ids
TASK_STATUS: Final = "obs.task.status"  # completed / failed / blocked / skipped
TASK_ERROR: Final = "obs.task.error"

# skill
SKILL_ID: Final = "obs.skill.trace_id"  # the id trace_start returned
SKILL_NAME: Final = "obs.skill.name"
SKILL_FILE: Final = "obs.skill.file"
SKILL_LINE: Final = "obs.skill.line"
SKILL_SECTION: Final = "obs.skill.section"
SKILL_PARENT_ID: Final = "obs.skill.parent_trace_id"  # nested skills
SKILL_STATUS: Final = "obs.skill.status"  # success / partial / failed
SKILL_ERROR: Final = "obs.skill.error"

# tool (GenAI conventions plus ours)
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"  # "execute_tool"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
TOOL_CATEGORY: Final = "obs.tool.category"
TOOL_INPUT: Final = "obs.tool.input"  # JSON, redacted and capped
# optional: the mapping derives it from TOOL_INPUT when absent (tool_facts.py)
TOOL_INPUT_SUMMARY: Final = "obs.tool.input_summary"  # <= 200 chars
TOOL_OUTPUT: Final = "obs.tool.output"  # redacted and capped
# optional: the mapping shortens TOOL_OUTPUT to 500 chars when it is absent
TOOL_OUTPUT_SUMMARY: Final = "obs.tool.output_summary"  # <= 500 chars
TOOL_RESULT_STATUS: Final = "obs.tool.result_status"  # done / error / blocked
# optional: true when TOOL_RESULT_STATUS is "error" (the mapping derives it when absent)
TOOL_IS_ERROR: Final = "obs.tool.is_error"
TOOL_BLOCK_REASON: Final = "obs.tool.block_reason"
TOOL_ERROR_MESSAGE: Final = "obs.tool.error_message"
TOOL_WITHIN_SKILL: Final = "obs.tool.within_skill"  # skill trace id
# optional: the mapping derives both from TOOL_INPUT when absent (tool_facts.py); a
# Write states FILE_OPERATION (CREATE or UPDATE: whether the file existed at its start)
FILE_PATH: Final = "obs.file.path"  # file tools: the file touched
FILE_OPERATION: Final = "obs.file.operation"  # READ / CREATE / UPDATE / DELETE
#: The file operation a tool span means when it names a file but no operation, by
#: tool category (spans of other producers may leave FILE_OPERATION out).
DEFAULT_FILE_OPERATION: Final = {"file_read": "READ", "file_write": "UPDATE"}

# assertion chain
CHAIN_ID: Final = "obs.chain.id"
CHAIN_DESCRIPTION: Final = "obs.chain.description"
CHAIN_OVERALL_RESULT: Final = "obs.chain.overall_result"  # pass / fail / partial / skip
CHAIN_PASS_COUNT: Final = "obs.chain.pass_count"
CHAIN_FAIL_COUNT: Final = "obs.chain.fail_count"
CHAIN_SKIP_COUNT: Final = "obs.chain.skip_count"
CHAIN_FIRST_FAILURE_ID: Final = "obs.chain.first_failure_id"

# assertion (attributes of an ``obs.assertion`` event, beside ENTRY_*)
ASSERTION_ID: Final = "obs.assertion.id"
ASSERTION_CATEGORY: Final = "obs.assertion.category"
ASSERTION_DESCRIPTION: Final = "obs.assertion.description"
ASSERTION_RESULT: Final = "obs.assertion.result"  # pass / fail / skip / warn
ASSERTION_EVIDENCE: Final = "obs.assertion.evidence"  # JSON object as a string
ASSERTION_DURATION_MS: Final = "obs.assertion.duration_ms"
ASSERTION_TOOL_USE_ID: Final = "obs.assertion.tool_use_id"  # supporting tool use

# --------------------------------------------------------------------------
# Spans from other instrumentations. The mapping recognises agent and tool
# spans that otel-obs did not make by these names, read from the current
# releases of opentelemetry-util-genai (GenAI semantic conventions),
# openinference-instrumentation-claude-agent-sdk (OpenInference) and Claude
# Code's own telemetry. The first name present wins, in the order listed.
# --------------------------------------------------------------------------

OP_EXECUTE_TOOL: Final = "execute_tool"
#: The operations of a GenAI span that is one call of a model (its usage is a ``llm_calls`` row).
OP_MODEL_CALLS: Final = frozenset({"chat", "generate_content", "text_completion"})
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_SYSTEM: Final = "gen_ai.system"  # the provider, before gen_ai.provider.name
#: The usage of a whole agent run, as Pydantic AI states it on its agent span.
GEN_AI_AGGREGATED_INPUT_TOKENS: Final = "gen_ai.aggregated_usage.input_tokens"
GEN_AI_AGGREGATED_OUTPUT_TOKENS: Final = "gen_ai.aggregated_usage.output_tokens"
OP_INVOKE_AGENT: Final = "invoke_agent"
#: An agent described when it is made, not a run of it (OpenLLMetry's LangChain emits it
#: when the graph is built, in a trace of its own).
OP_CREATE_AGENT: Final = "create_agent"
#: A step of a run (OpenLLMetry's LangGraph nodes and middleware hooks).
OP_EXECUTE_TASK: Final = "execute_task"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
ERROR_TYPE: Final = "error.type"
#: A span's status as attributes: how status crosses paths that carry only
#: attributes (the writer process, JSON exports of other backends).
OTEL_STATUS_CODE: Final = "otel.status_code"  # "ERROR"
# --------------------------------------------------------------------------
# What exported spans also carry, for backends that read the GenAI and
# OpenInference conventions (added on the export thread, see
# exporters/otlp_view.py; the local store does not need them).
# --------------------------------------------------------------------------

#: The semantic-conventions version the producers' spans follow (the tracer's schema URL).
SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.37.0"
GEN_AI_TOOL_TYPE: Final = "gen_ai.tool.type"  # "function"
GEN_AI_EVALUATION_NAME: Final = "gen_ai.evaluation.name"
GEN_AI_EVALUATION_SCORE_LABEL: Final = "gen_ai.evaluation.score.label"
GEN_AI_EVALUATION_SCORE_VALUE: Final = "gen_ai.evaluation.score.value"
GEN_AI_EVALUATION_EXPLANATION: Final = "gen_ai.evaluation.explanation"
#: OpenInference's span kind of each of our kinds (others: CHAIN).
OPENINFERENCE_KINDS: Final = {KIND_AGENT: "AGENT", KIND_TOOL: "TOOL", KIND_CHAIN: "EVALUATOR"}
OTEL_STATUS_DESCRIPTION: Final = "otel.status_description"
EXCEPTION_EVENT: Final = "exception"
EXCEPTION_MESSAGE: Final = "exception.message"

OI_SPAN_KIND: Final = "openinference.span.kind"  # "TOOL" / "AGENT"
OI_TOOL: Final = "TOOL"
OI_AGENT: Final = "AGENT"
OI_LLM: Final = "LLM"
OI_MODEL_NAME: Final = "llm.model_name"
OI_PROVIDER: Final = "llm.provider"
OI_SYSTEM: Final = "llm.system"
OI_PROMPT_TOKENS: Final = "llm.token_count.prompt"
OI_COMPLETION_TOKENS: Final = "llm.token_count.completion"
OI_CACHE_READ_TOKENS: Final = "llm.token_count.prompt_details.cache_read"
OI_CACHE_WRITE_TOKENS: Final = "llm.token_count.prompt_details.cache_write"
OI_COST_TOTAL: Final = "llm.cost.total"
OI_TOOL_ID: Final = "tool.id"
OI_TOOL_NAME: Final = "tool.name"
OI_TOOL_PARAMETERS: Final = "tool.parameters"  # JSON text
OI_INPUT_VALUE: Final = "input.value"
OI_OUTPUT_VALUE: Final = "output.value"
OI_AGENT_NAME: Final = "agent.name"
OI_CHAIN: Final = "CHAIN"
OI_GRAPH_NODE_ID: Final = "graph.node.id"  # OpenAI Agents: the agent's name
OI_METADATA: Final = "metadata"  # JSON text (LangChain: the run's metadata)
SESSION_ID: Final = "session.id"

# LangChain (in OpenInference's ``metadata`` and OpenLLMetry's association properties)
LC_AGENT_NAME: Final = "lc_agent_name"  # create_agent's name, on every span of its graph
LC_GRAPH_NODE: Final = "langgraph_node"  # set on the graph's nodes, not the graph itself
LC_THREAD_ID: Final = "traceloop.association.properties.thread_id"

# pydantic-ai's older instrumentation (InstrumentationSettings version 1 and 2)
PYDANTIC_AI_AGENT_NAME: Final = "agent_name"
PYDANTIC_AI_TOOL_ARGUMENTS: Final = "tool_arguments"
PYDANTIC_AI_TOOL_RESPONSE: Final = "tool_response"
PYDANTIC_AI_RUN_ID: Final = "gen_ai.agent.call.id"  # one agent run (lineage keys runs by span)

# smolagents (through OpenInference): attributes of its agent spans start with this
SMOLAGENTS_PREFIX: Final = "smolagents."
SMOLAGENTS_FINAL_ANSWER: Final = "final_answer"  # the built-in tool that gives the answer

# Google ADK's built-in tracing (scope ``gcp.vertex.agent``)
#: The operation of the span that wraps a run (ADK 2.x): a workflow, not an agent.
OP_INVOKE_WORKFLOW: Final = "invoke_workflow"
#: ADK's own attributes (``gcp.vertex.agent.event_id``, ``...invocation_id``, ...).
ADK_PREFIX: Final = "gcp.vertex.agent."
#: The call id ADK states when the call has no response (the tool raised).
ADK_NO_CALL_ID: Final = "<not specified>"
#: The tool name of the extra ``execute_tool (merged)`` span of parallel calls.
ADK_MERGED_TOOLS: Final = "(merged tools)"
#: Before ADK aligned with the GenAI conventions: the arguments and the response.
ADK_TOOL_CALL_ARGS: Final = "gcp.vertex.agent.tool_call_args"
ADK_TOOL_RESPONSE: Final = "gcp.vertex.agent.tool_response"

# Traceloop (traceloop-sdk decorators and OpenLLMetry's instrumentations)
TRACELOOP_SPAN_KIND: Final = "traceloop.span.kind"  # workflow / task / agent / tool
TRACELOOP_ENTITY_NAME: Final = "traceloop.entity.name"
TRACELOOP_ENTITY_INPUT: Final = "traceloop.entity.input"  # JSON text
TRACELOOP_ENTITY_OUTPUT: Final = "traceloop.entity.output"  # JSON text

CLAUDE_CODE_TOOL_SPAN: Final = "claude_code.tool"
#: The step of a ``claude_code.tool`` that runs the tool: the only span that says it failed
#: (``success`` false, ``error.type``, the message under ``error``, an ERROR status).
CLAUDE_CODE_TOOL_EXECUTION_SPAN: Final = "claude_code.tool.execution"
#: Claude Code's call of the model: ``model``, ``input_tokens`` (the uncached ones, as
#: Anthropic's API counts them), ``output_tokens``, ``cache_read_tokens``,
#: ``cache_creation_tokens`` and, when stated, ``cost_usd``.
CLAUDE_CODE_LLM_SPAN: Final = "claude_code.llm_request"
CLAUDE_CODE_SUCCESS: Final = "success"
CLAUDE_CODE_ERROR: Final = "error"
CLAUDE_CODE_TOOL_USE_ID: Final = "tool_use_id"
CLAUDE_CODE_TOOL_NAME: Final = "tool_name"

#: Where a foreign span keeps each fact, first name first.
FOREIGN_TOOL_ID_KEYS: Final = (GEN_AI_TOOL_CALL_ID, OI_TOOL_ID, CLAUDE_CODE_TOOL_USE_ID)
FOREIGN_TOOL_NAME_KEYS: Final = (GEN_AI_TOOL_NAME, OI_TOOL_NAME, CLAUDE_CODE_TOOL_NAME)
#: ``input.value`` (the call's arguments) before ``tool.parameters`` (mostly the schema).
FOREIGN_INPUT_KEYS: Final = (GEN_AI_TOOL_CALL_ARGUMENTS, OI_INPUT_VALUE, OI_TOOL_PARAMETERS)
FOREIGN_OUTPUT_KEYS: Final = (GEN_AI_TOOL_CALL_RESULT, OI_OUTPUT_VALUE)
FOREIGN_CONVERSATION_KEYS: Final = (GEN_AI_CONVERSATION_ID, SESSION_ID)
#: Set on an agent span of another instrumentation started under a tool span of one (a
#: subagent): the calling agent's instance and the call id, ``<instance>/<call id>``, as
#: the Claude Agent SDK instrumentor names subagents. Named agents alone would share one
#: instance (OpenInference names every Claude subagent ``Task``).
SUBAGENT_INSTANCE_ID: Final = "obs.subagent.instance_id"
FOREIGN_AGENT_KEYS: Final = (
    GEN_AI_AGENT_ID,
    SUBAGENT_INSTANCE_ID,
    GEN_AI_AGENT_NAME,
    OI_AGENT_NAME,
)
#: Set on the copy of a span of another instrumentation that restating maps (never on a
#: span): the model and usage its source read (a dict, see ``Source.usage``) and the source.
USAGE: Final = "obs.usage"
USAGE_SOURCE: Final = "obs.usage.source"
#: Set by the context processor on a span of another instrumentation whose parent is
#: not such a span of the same process (it is ours, remote, or there is none): the
#: store then looks no further up for its agent and execution (see exporters/lineage.py).
LINK_TOP: Final = "obs.link.top"
#: The identity the store's lineage decided for a span of another instrumentation from
#: its ancestors, set on the copy it maps (never on the span): the agent run's instance.
RUN_INSTANCE_ID: Final = "obs.run.instance_id"

# --------------------------------------------------------------------------
# Payloads: what a tool was given and gave back, free-text details and
# evidence, redacted and capped by the producers (redaction.py) and stored
# whole. ``OTEL_OBS_OTLP_PAYLOADS=none`` keeps PAYLOAD_ATTRIBUTES local
# (exporters/otlp_view.py); collector-config.yaml deletes every name of both
# sets on the way to tracing backends. A failed or blocked tool's message also
# goes out as its span's status message and its ``exception`` event's
# EXCEPTION_MESSAGE. tests/otel/test_collector_config.py checks these sets against
# what the producers and the export view actually send.
# --------------------------------------------------------------------------

#: Attributes the producers set to a payload, on spans and on events.
PAYLOAD_ATTRIBUTES: Final = frozenset(
    {
        TOOL_INPUT,
        TOOL_OUTPUT,
        TOOL_ERROR_MESSAGE,  # a failed tool's error output
        ENTRY_DETAILS,
        END_ENTRY_DETAILS,
        ASSERTION_EVIDENCE,
    }
)
#: Attributes the export view derives from a payload: its GenAI copies (only when
#: payloads go out) and the input summary (always: a short view of the input).
DERIVED_PAYLOAD_ATTRIBUTES: Final = frozenset(
    {GEN_AI_TOOL_CALL_ARGUMENTS, GEN_AI_TOOL_CALL_RESULT, TOOL_INPUT_SUMMARY}
)

# message bus correlation (events; defaults to the task id, else the execution)
CORRELATION_ID: Final = "obs.correlation_id"

# --------------------------------------------------------------------------
# Vocabularies
# --------------------------------------------------------------------------

ENTRY_TYPES: Final = (
    "phase_start",
    "phase_end",
    "task_start",
    "task_end",
    "tool_use",
    "skill_invoke",
    "skill_complete",
    "decision",
    "validation",
    "assertion",
    "discovery",
    "error",
    "checkpoint",
    "lock_acquire",
    "lock_release",
)

#: The category an entry gets when the caller gives none.
DEFAULT_CATEGORY: Final = {
    "phase_start": "lifecycle",
    "phase_end": "lifecycle",
    "task_start": "lifecycle",
    "task_end": "lifecycle",
    "tool_use": "action",
    "skill_invoke": "action",
    "skill_complete": "action",
    "decision": "decision",
    "validation": "validation",
    "assertion": "validation",
    "discovery": "knowledge",
    "error": "error",
    "checkpoint": "coordination",
    "lock_acquire": "coordination",
    "lock_release": "coordination",
}

TASK_STATUSES: Final = ("pending", "in_progress", "completed", "failed", "blocked", "skipped")
TASK_END_STATUSES: Final = ("completed", "failed", "blocked", "skipped")
AGENT_STATUSES: Final = ("executing", "completed", "failed", "terminated")
WAVE_STATUSES: Final = ("running", "completed")
TOOL_RESULT_STATUSES: Final = ("done", "error", "blocked")
SKILL_STATUSES: Final = ("success", "partial", "failed")
ASSERTION_RESULTS: Final = ("pass", "fail", "skip", "warn")
CHAIN_RESULTS: Final = ("pass", "fail", "partial", "skip")
FILE_OPERATIONS: Final = ("READ", "CREATE", "UPDATE", "DELETE")
TASK_ACTIONS: Final = FILE_OPERATIONS

ASSERTION_CATEGORIES: Final = (
    "file_created",
    "file_modified",
    "file_deleted",
    "typescript_compiles",
    "lint_passes",
    "tests_pass",
    "api_responds",
    "schema_valid",
    "dependency_met",
)

TOOL_CATEGORIES: Final = (
    "file_read",
    "file_write",
    "shell",
    "browser",
    "network",
    "agent",
    "custom",
)

_TOOL_CATEGORY_BY_NAME: Final = {
    "Read": "file_read",
    "Glob": "file_read",
    "Grep": "file_read",
    "LS": "file_read",
    "Write": "file_write",
    "Edit": "file_write",
    "MultiEdit": "file_write",
    "NotebookEdit": "file_write",
    "Bash": "shell",
    "BashOutput": "shell",
    "KillShell": "shell",
    "WebFetch": "network",
    "WebSearch": "network",
    "Task": "agent",
    "Agent": "agent",
}

_BROWSER_PREFIXES: Final = ("mcp__puppeteer__", "mcp__playwright__", "mcp__browser", "browser_")


def tool_category(tool_name: str) -> str:
    """The category of a tool, from its name alone (so any path can compute it)."""
    category = _TOOL_CATEGORY_BY_NAME.get(tool_name)
    if category is not None:
        return category
    lowered = tool_name.lower()
    if lowered.startswith(_BROWSER_PREFIXES) or "puppeteer" in lowered or "playwright" in lowered:
        return "browser"
    return "custom"


def span_name(kind: str, label: object) -> str:
    """The span name for a kind: GenAI names where the conventions have one."""
    if kind == KIND_AGENT:
        return f"invoke_agent {label}"
    if kind == KIND_TOOL:
        return f"execute_tool {label}"
    return f"{kind} {label}"
