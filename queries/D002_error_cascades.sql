-- id: D002
-- title: Error cascades
-- family: anomaly
-- param: execution_id text
-- param: gap int = 10
-- param: min_errors int = 3
-- returns: cascade, first_sequence, last_sequence, errors, first_at, last_at, sources, task_ids
-- purpose: Bursts of errors close together in the transcript: one failure dragging others after it.

-- Errors are error entries, failed tool uses and failed assertions, each placed at the
-- sequence of its transcript entry (a tool use's or assertion's own entry). Sorted by sequence,
-- an error joins the current run when it lies within `gap` sequences of the previous error;
-- otherwise it starts a new run (gaps and islands). Runs of at least min_errors are returned,
-- numbered 1.. in transcript order. sources lists the distinct kinds (error, tool, assertion).
WITH errors AS (
    SELECT sequence, timestamp, task_id, 'error' AS source
    FROM transcript_entries
    WHERE execution_id = :execution_id AND entry_type = 'error'
    UNION ALL
    SELECT e.sequence, e.timestamp, t.task_id, 'tool'
    FROM tool_uses AS t
    JOIN transcript_entries AS e
        ON e.execution_id = t.execution_id AND e.id = t.transcript_entry_id
    WHERE t.execution_id = :execution_id AND t.result_status = 'error'
    UNION ALL
    SELECT e.sequence, e.timestamp, a.task_id, 'assertion'
    FROM assertion_results AS a
    JOIN transcript_entries AS e
        ON e.execution_id = a.execution_id AND e.id = a.transcript_entry_id
    WHERE a.execution_id = :execution_id AND a.result = 'fail'
),
marked AS (
    -- 1 where an error opens a new run: the first one, or one too far from its predecessor
    SELECT
        *,
        CASE
            WHEN sequence - LAG(sequence) OVER (ORDER BY sequence) <= :gap THEN 0
            ELSE 1
        END AS opens_run
    FROM errors
),
numbered AS (
    SELECT *, SUM(opens_run) OVER (ORDER BY sequence ROWS UNBOUNDED PRECEDING) AS run
    FROM marked
),
runs AS (
    SELECT
        run,
        MIN(sequence) AS first_sequence,
        MAX(sequence) AS last_sequence,
        COUNT(*) AS errors
    FROM numbered
    GROUP BY run
    HAVING COUNT(*) >= :min_errors
)
SELECT
    ROW_NUMBER() OVER (ORDER BY r.first_sequence) AS cascade,
    r.first_sequence,
    r.last_sequence,
    r.errors,
    (SELECT n.timestamp FROM numbered AS n WHERE n.sequence = r.first_sequence LIMIT 1) AS first_at,
    (SELECT n.timestamp FROM numbered AS n WHERE n.sequence = r.last_sequence LIMIT 1) AS last_at,
    -- lists in order: each reads its distinct values in order (see group_concat in the docs)
    (
        SELECT group_concat(source) FROM (
            SELECT DISTINCT n.source FROM numbered AS n WHERE n.run = r.run ORDER BY n.source
        )
    ) AS sources,
    (
        SELECT group_concat(task_id) FROM (
            SELECT DISTINCT n.task_id FROM numbered AS n
            WHERE n.run = r.run AND n.task_id IS NOT NULL
            ORDER BY n.task_id
        )
    ) AS task_ids
FROM runs AS r
ORDER BY r.first_sequence
