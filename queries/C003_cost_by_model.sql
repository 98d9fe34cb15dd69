-- id: C003
-- title: Cost and tokens by model
-- family: cost
-- param: execution_id text
-- returns: model, provider, llm_calls, input_tokens, output_tokens, cache_read_tokens,
--   cache_creation_tokens, cost_usd, reported_cost_usd, computed_cost_usd, unpriced
-- purpose: Per model (and provider), the calls made to it, their tokens and cost (reported by
--   the source or computed from a price table; unpriced: rows with tokens and no known
--   price), every call counted once; the costliest first.

WITH
-- include: counted_usage
SELECT model,
       provider,
       COUNT(*) FILTER (WHERE kind = 'call') AS llm_calls,
       SUM(input_tokens) AS input_tokens,
       SUM(output_tokens) AS output_tokens,
       SUM(cache_read_tokens) AS cache_read_tokens,
       SUM(cache_creation_tokens) AS cache_creation_tokens,
       ROUND(SUM(cost_usd), 6) AS cost_usd,
       ROUND(SUM(cost_usd) FILTER (WHERE cost_source = 'reported'), 6) AS reported_cost_usd,
       ROUND(SUM(cost_usd) FILTER (WHERE cost_source = 'computed'), 6) AS computed_cost_usd,
       COUNT(*) FILTER (WHERE cost_usd IS NULL
           AND COALESCE(input_tokens, output_tokens) IS NOT NULL) AS unpriced
FROM counted
GROUP BY model, provider
ORDER BY SUM(cost_usd) DESC NULLS LAST, SUM(input_tokens) DESC NULLS LAST, model
