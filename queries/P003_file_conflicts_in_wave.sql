-- id: P003
-- title: File conflicts in a wave
-- family: parallel
-- param: execution_id text
-- returns: wave_number, file_path, task_a, task_b, operations_a, operations_b
-- purpose: Pairs of tasks of one wave that touch the same file where at least one of them writes it.

-- File touches come from task_file_impacts (the task's declared file and its file tool uses).
-- A task's wave is its task row's wave, else the wave recorded on the impact. Writing means
-- CREATE, UPDATE or DELETE; two readers never conflict. Each pair appears once, task_a < task_b;
-- operations_* list the distinct operations of each task on that file.
WITH touches AS (
    SELECT
        i.task_id,
        i.file_path,
        COALESCE(t.wave_number, i.wave_number) AS wave_number,
        i.operation
    FROM task_file_impacts AS i
    LEFT JOIN tasks AS t ON t.execution_id = i.execution_id AND t.id = i.task_id
    WHERE i.execution_id = :execution_id AND i.task_id IS NOT NULL
    -- by task, file and wave, then the list of operations (a list reads its rows in order)
    ORDER BY i.task_id, i.file_path, wave_number, i.operation
),
task_files AS (
    SELECT
        task_id,
        file_path,
        wave_number,
        MAX(operation IN ('CREATE', 'UPDATE', 'DELETE')) AS writes,
        group_concat(DISTINCT operation) AS operations
    FROM touches
    WHERE wave_number IS NOT NULL
    GROUP BY task_id, file_path, wave_number
)
SELECT
    a.wave_number,
    a.file_path,
    a.task_id AS task_a,
    b.task_id AS task_b,
    a.operations AS operations_a,
    b.operations AS operations_b
FROM task_files AS a
JOIN task_files AS b
    ON b.file_path = a.file_path
    AND b.wave_number = a.wave_number
    AND b.task_id > a.task_id
WHERE a.writes OR b.writes
ORDER BY a.wave_number, a.file_path, a.task_id, b.task_id
