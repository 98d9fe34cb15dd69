-- id: C001
-- title: Cost and tokens by agent instance
-- family: cost
-- param: execution_id text
-- returns: instance_id, parent_instance_id, depth, llm_calls, input_tokens, output_tokens,
--   cache_read_tokens, cache_creation_tokens, cost_usd, reported_cost_usd, computed_cost_usd,
--   unpriced, usage_from, total_llm_calls, total_input_tokens, total_output_tokens,
--   total_cost_usd
-- purpose: Per agent instance, subagents nested under their parent (parent_instance_id, depth):
--   its own model calls, tokens and cost (reported by the source or computed from a price
--   table; unpriced: usage rows with tokens and no known price), and the totals with all its
--   subagents rolled up (total_*). Summing the own columns counts every call once.

WITH
-- include: counted_usage
,
agents AS (
    SELECT id AS instance_id FROM build_agent_instances WHERE execution_id = :execution_id
    UNION
    SELECT instance_id FROM counted WHERE instance_id IS NOT NULL
),
own AS MATERIALIZED (
    SELECT instance_id,
           COUNT(*) FILTER (WHERE kind = 'call') AS llm_calls,
           SUM(input_tokens) AS input_tokens,
           SUM(output_tokens) AS output_tokens,
           SUM(cache_read_tokens) AS cache_read_tokens,
           SUM(cache_creation_tokens) AS cache_creation_tokens,
           SUM(cost_usd) AS cost_usd,
           SUM(cost_usd) FILTER (WHERE cost_source = 'reported') AS reported_cost_usd,
           SUM(cost_usd) FILTER (WHERE cost_source = 'computed') AS computed_cost_usd,
           COUNT(*) FILTER (WHERE cost_usd IS NULL
               AND COALESCE(input_tokens, output_tokens) IS NOT NULL) AS unpriced,
           CASE WHEN MAX(kind = 'call') THEN 'calls' ELSE 'agent total' END AS usage_from
    FROM counted
    GROUP BY instance_id
),
tree AS (
    SELECT a.instance_id,
           (SELECT p.instance_id FROM agents AS p
            WHERE substr(a.instance_id, 1, length(p.instance_id) + 1) = p.instance_id || '/'
            ORDER BY length(p.instance_id) DESC LIMIT 1) AS parent_instance_id,
           (SELECT COUNT(*) FROM agents AS p
            WHERE substr(a.instance_id, 1, length(p.instance_id) + 1) = p.instance_id || '/')
               AS depth
    FROM agents AS a
)
SELECT t.instance_id,
       t.parent_instance_id,
       t.depth,
       COALESCE(o.llm_calls, 0) AS llm_calls,
       o.input_tokens,
       o.output_tokens,
       o.cache_read_tokens,
       o.cache_creation_tokens,
       ROUND(o.cost_usd, 6) AS cost_usd,
       ROUND(o.reported_cost_usd, 6) AS reported_cost_usd,
       ROUND(o.computed_cost_usd, 6) AS computed_cost_usd,
       COALESCE(o.unpriced, 0) AS unpriced,
       o.usage_from,
       (SELECT SUM(r.llm_calls) FROM own AS r
        WHERE r.instance_id = t.instance_id
           OR substr(r.instance_id, 1, length(t.instance_id) + 1) = t.instance_id || '/')
           AS total_llm_calls,
       (SELECT SUM(r.input_tokens) FROM own AS r
        WHERE r.instance_id = t.instance_id
           OR substr(r.instance_id, 1, length(t.instance_id) + 1) = t.instance_id || '/')
           AS total_input_tokens,
       (SELECT SUM(r.output_tokens) FROM own AS r
        WHERE r.instance_id = t.instance_id
           OR substr(r.instance_id, 1, length(t.instance_id) + 1) = t.instance_id || '/')
           AS total_output_tokens,
       (SELECT ROUND(SUM(r.cost_usd), 6) FROM own AS r
        WHERE r.instance_id = t.instance_id
           OR substr(r.instance_id, 1, length(t.instance_id) + 1) = t.instance_id || '/')
           AS total_cost_usd
FROM tree AS t
LEFT JOIN own AS o ON o.instance_id = t.instance_id
ORDER BY replace(t.instance_id, '/', char(1))
