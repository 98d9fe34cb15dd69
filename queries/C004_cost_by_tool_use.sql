-- id: C004
-- title: What deciding on each tool use cost
-- family: cost
-- param: execution_id text
-- param: limit int = 50
-- returns: tool_use_id, tool, instance_id, task_id, start_time, llm_call_id, model,
--   tool_uses_decided, call_input_tokens, call_output_tokens, call_cost_usd, input_tokens,
--   output_tokens, cost_usd
-- purpose: Per tool use, the model call whose answer asked for it (its agent's latest call
--   begun before it), that call's tokens and cost, and the tool use's share of them (the call's
--   divided by the tool uses it decided); the costliest first. Tool uses of an agent whose
--   calls are not stored (only its run's total) have no row.

-- The call that decided a tool use: its agent instance's latest model call that began at or
-- before the tool use began (an agent asks the model, then runs the tools its answer asks
-- for; the next call begins once their results are in). A call that asked for n tool uses
-- gives each 1/n of its tokens and cost, so the shares add up to the calls' own.
WITH decided AS MATERIALIZED (
    SELECT t.id AS tool_use_id, t.tool, t.instance_id, t.task_id, t.start_time,
           (SELECT l.id FROM llm_calls AS l
            WHERE l.execution_id = :execution_id AND l.instance_id = t.instance_id
              AND l.kind = 'call' AND l.start_time <= t.start_time
            ORDER BY l.start_time DESC LIMIT 1) AS llm_call_id
    FROM tool_uses AS t
    WHERE t.execution_id = :execution_id
),
calls AS (
    SELECT d.*, l.model,
           COUNT(*) OVER (PARTITION BY d.llm_call_id) AS tool_uses_decided,
           l.input_tokens AS call_input_tokens, l.output_tokens AS call_output_tokens,
           l.cost_usd AS call_cost_usd
    FROM decided AS d
    JOIN llm_calls AS l ON l.execution_id = :execution_id AND l.id = d.llm_call_id
),
shares AS (
    SELECT *,
           1.0 * call_input_tokens / tool_uses_decided AS input_share,
           1.0 * call_output_tokens / tool_uses_decided AS output_share,
           call_cost_usd / tool_uses_decided AS cost_share
    FROM calls
)
SELECT tool_use_id, tool, instance_id, task_id, start_time, llm_call_id, model,
       tool_uses_decided, call_input_tokens, call_output_tokens,
       ROUND(call_cost_usd, 6) AS call_cost_usd,
       ROUND(input_share, 1) AS input_tokens,
       ROUND(output_share, 1) AS output_tokens,
       ROUND(cost_share, 6) AS cost_usd
FROM shares
ORDER BY cost_share DESC NULLS LAST, input_share DESC NULLS LAST, start_time, tool_use_id
LIMIT :limit
