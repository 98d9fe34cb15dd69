-- id: P001
-- title: Wave progress
-- family: parallel
-- param: execution_id text
-- returns: wave_number, wave_status, tasks, completed, running, failed, blocked, skipped, pending, progress_pct
-- purpose: How far each wave of a parallel execution has got, task status by task status.

-- A wave's tasks are its assignments plus any task recorded with that wave number (a worker
-- without an orchestrator records tasks but no assignments). A task with no task row yet counts
-- as pending. progress_pct is the share of the wave's tasks that reached an end state
-- (completed, failed, blocked or skipped). wave_status is the wave row's status, or derived from
-- the tasks when the execution recorded no wave span.
WITH wave_tasks AS (
    SELECT wave_number, task_id
    FROM wave_task_assignments
    WHERE execution_id = :execution_id
    UNION
    SELECT wave_number, id
    FROM tasks
    WHERE execution_id = :execution_id AND wave_number IS NOT NULL
),
task_states AS (
    SELECT wt.wave_number, COALESCE(t.status, 'pending') AS status
    FROM wave_tasks AS wt
    LEFT JOIN tasks AS t ON t.execution_id = :execution_id AND t.id = wt.task_id
),
counted AS (
    SELECT
        wave_number,
        COUNT(*) AS tasks,
        SUM(status = 'completed') AS completed,
        SUM(status = 'in_progress') AS running,
        SUM(status = 'failed') AS failed,
        SUM(status = 'blocked') AS blocked,
        SUM(status = 'skipped') AS skipped,
        SUM(status = 'pending') AS pending
    FROM task_states
    GROUP BY wave_number
)
SELECT
    c.wave_number,
    COALESCE(
        w.status,
        CASE WHEN c.running + c.pending > 0 THEN 'running' ELSE 'completed' END
    ) AS wave_status,
    c.tasks,
    c.completed,
    c.running,
    c.failed,
    c.blocked,
    c.skipped,
    c.pending,
    ROUND(100.0 * (c.completed + c.failed + c.blocked + c.skipped) / c.tasks, 1) AS progress_pct
FROM counted AS c
LEFT JOIN parallel_execution_waves AS w
    ON w.execution_id = :execution_id AND w.wave_number = c.wave_number
ORDER BY c.wave_number
