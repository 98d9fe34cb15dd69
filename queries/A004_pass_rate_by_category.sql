-- id: A004
-- title: Pass rate by category
-- family: aggregation
-- param: execution_id text
-- returns: category, total, pass, fail, skip, warn, pass_rate
-- purpose: Which kinds of assertion pass and which fail, category by category.

-- pass_rate is the percentage of the category's assertions that passed, skips and warnings
-- included in the denominator (an assertion that could not be checked is not a pass).
SELECT
    category,
    COUNT(*) AS total,
    SUM(result = 'pass') AS pass,
    SUM(result = 'fail') AS fail,
    SUM(result = 'skip') AS skip,
    SUM(result = 'warn') AS warn,
    ROUND(100.0 * SUM(result = 'pass') / COUNT(*), 1) AS pass_rate
FROM assertion_results
WHERE execution_id = :execution_id
GROUP BY category
ORDER BY pass_rate, category
