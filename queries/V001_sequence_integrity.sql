-- id: V001
-- title: Transcript sequence integrity
-- family: validation
-- param: execution_id text
-- returns: issue, from_sequence, to_sequence, count
-- purpose: Gaps and duplicates in the execution's transcript sequence, which must run 1..n.
--   A gap row names the missing range; a duplicate row names the sequence and how often it occurs.
WITH entries AS (
    -- UNIQUE (execution_id, sequence) serves both the filter and the order.
    SELECT sequence,
           LAG(sequence, 1, 0) OVER (ORDER BY sequence) AS previous
    FROM transcript_entries
    WHERE execution_id = :execution_id
),
gaps AS (
    SELECT 'gap' AS issue,
           previous + 1 AS from_sequence,
           sequence - 1 AS to_sequence,
           sequence - previous - 1 AS count
    FROM entries
    WHERE sequence > previous + 1
),
duplicates AS (
    SELECT 'duplicate' AS issue,
           sequence AS from_sequence,
           sequence AS to_sequence,
           COUNT(*) AS count
    FROM entries
    GROUP BY sequence
    HAVING COUNT(*) > 1
)
SELECT issue, from_sequence, to_sequence, count FROM gaps
UNION ALL
SELECT issue, from_sequence, to_sequence, count FROM duplicates
ORDER BY from_sequence, issue
