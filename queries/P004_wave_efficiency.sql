-- id: P004
-- title: Wave efficiency
-- family: parallel
-- param: execution_id text
-- returns: wave_number, agents, tasks, duration_ms, busy_ms, mean_task_ms, utilisation_pct
-- purpose: How well each wave used its agents: busy task time against agents times wall-clock time.

-- A wave's wall-clock span runs from its wave row's start (else its first task's start) to its
-- wave row's end; when the wave row has no end (no orchestrator closed it), to its last task's
-- end once every task of the wave has finished. A wave still running has no duration and no
-- utilisation yet. agents are the distinct instances that ran its tasks. busy_ms sums the
-- durations of its finished tasks; utilisation_pct is busy_ms / (agents * duration_ms), so 100
-- means every agent was busy the whole wave.
WITH wave_tasks AS (
    SELECT wave_number, instance_id, started_at, completed_at, duration_ms
    FROM tasks
    WHERE execution_id = :execution_id AND wave_number IS NOT NULL
),
per_wave AS (
    SELECT
        wave_number,
        COUNT(DISTINCT instance_id) AS agents,
        COUNT(*) AS tasks,
        MIN(julianday(started_at)) AS first_start,
        MAX(julianday(completed_at)) AS last_end,
        SUM(completed_at IS NULL) AS unfinished,
        SUM(duration_ms) AS busy_ms,
        AVG(duration_ms) AS mean_task_ms
    FROM wave_tasks
    GROUP BY wave_number
),
spans AS (
    SELECT
        p.wave_number,
        p.agents,
        p.tasks,
        p.busy_ms,
        p.mean_task_ms,
        (
            COALESCE(
                julianday(w.completed_at),
                CASE WHEN p.unfinished = 0 THEN p.last_end END
            ) - COALESCE(julianday(w.started_at), p.first_start)
        ) * 86400000.0 AS duration_ms
    FROM per_wave AS p
    LEFT JOIN parallel_execution_waves AS w
        ON w.execution_id = :execution_id AND w.wave_number = p.wave_number
)
SELECT
    wave_number,
    agents,
    tasks,
    ROUND(duration_ms) AS duration_ms,
    ROUND(COALESCE(busy_ms, 0)) AS busy_ms,
    ROUND(mean_task_ms, 3) AS mean_task_ms,
    CASE
        WHEN agents > 0 AND duration_ms > 0
            THEN ROUND(100.0 * COALESCE(busy_ms, 0) / (agents * duration_ms), 1)
    END AS utilisation_pct
FROM spans
ORDER BY wave_number
