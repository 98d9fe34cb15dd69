-- id: P006
-- title: Concurrent overlaps
-- family: parallel
-- param: execution_id text
-- param: limit int = 20
-- returns: task_a, task_b, instance_a, instance_b, overlap_start, overlap_end, overlap_ms
-- purpose: Pairs of tasks that ran at the same time, longest overlap first.

-- A task runs from started_at to completed_at. A task still running has no end: it counts until
-- its last activity (its latest transcript entry by sequence), not until "now", so the answer does not
-- change with the clock and a silent task is not stretched forward. Two tasks overlap when the
-- later start precedes the earlier end; each pair appears once (task_a < task_b).
WITH task_ranges AS (
    SELECT
        t.id,
        t.instance_id,
        t.started_at AS start_at,
        COALESCE(
            t.completed_at,
            (
                SELECT e.timestamp
                FROM transcript_entries AS e
                WHERE e.task_id = t.id AND e.execution_id = t.execution_id
                ORDER BY e.sequence DESC
                LIMIT 1
            ),
            t.started_at
        ) AS end_at
    FROM tasks AS t
    WHERE t.execution_id = :execution_id AND t.started_at IS NOT NULL
),
overlaps AS (
    -- The overlap runs from the later start to the earlier end.
    SELECT
        a.id AS task_a,
        b.id AS task_b,
        a.instance_id AS instance_a,
        b.instance_id AS instance_b,
        CASE
            WHEN julianday(b.start_at) > julianday(a.start_at) THEN b.start_at ELSE a.start_at
        END AS overlap_start,
        CASE WHEN julianday(b.end_at) < julianday(a.end_at) THEN b.end_at ELSE a.end_at END
            AS overlap_end
    FROM task_ranges AS a
    JOIN task_ranges AS b ON b.id > a.id
    WHERE julianday(b.start_at) < julianday(a.end_at)
        AND julianday(a.start_at) < julianday(b.end_at)
)
SELECT
    task_a,
    task_b,
    instance_a,
    instance_b,
    overlap_start,
    overlap_end,
    ROUND((julianday(overlap_end) - julianday(overlap_start)) * 86400000.0) AS overlap_ms
FROM overlaps
ORDER BY overlap_ms DESC, task_a, task_b
LIMIT :limit
