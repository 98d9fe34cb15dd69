-- id: C005
-- title: What deciding on each tool cost
-- family: cost
-- param: execution_id text
-- returns: tool, tool_uses, decided_uses, input_tokens, output_tokens, cost_usd,
--   mean_cost_usd
-- purpose: Per tool, the share of the model calls' tokens and cost that went into deciding on
--   its uses (each use's share of the call whose answer asked for it, as in C004), and the
--   mean per decided use; the costliest first.

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
fanout AS MATERIALIZED (
    SELECT llm_call_id, COUNT(*) AS tool_uses_decided
    FROM decided WHERE llm_call_id IS NOT NULL
    GROUP BY llm_call_id
)
SELECT d.tool,
       COUNT(*) AS tool_uses,
       COUNT(f.llm_call_id) AS decided_uses,
       ROUND(SUM(1.0 * l.input_tokens / f.tool_uses_decided), 1) AS input_tokens,
       ROUND(SUM(1.0 * l.output_tokens / f.tool_uses_decided), 1) AS output_tokens,
       ROUND(SUM(l.cost_usd / f.tool_uses_decided), 6) AS cost_usd,
       ROUND(AVG(l.cost_usd / f.tool_uses_decided), 6) AS mean_cost_usd
FROM decided AS d
LEFT JOIN fanout AS f ON f.llm_call_id = d.llm_call_id
LEFT JOIN llm_calls AS l ON l.execution_id = :execution_id AND l.id = d.llm_call_id
GROUP BY d.tool
ORDER BY SUM(l.cost_usd / f.tool_uses_decided) DESC NULLS LAST,
    SUM(1.0 * l.input_tokens / f.tool_uses_decided) DESC NULLS LAST, d.tool
