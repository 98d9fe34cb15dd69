-- id: T006
-- title: Task blockers
-- family: troubleshooting
-- param: task_id text
-- param: execution_id text?
-- returns: execution_id, task_id, blocker_type, blocker_task_id, blocker_status, file_path,
--   detail
-- purpose: What holds a task back: dependencies that have not completed, and running tasks
--   that touch one of its files where at least one side writes. Looks in the given execution,
--   else in the latest execution that has the task.
WITH target AS (
    SELECT t.execution_id
    FROM tasks AS t
    LEFT JOIN task_list_execution_runs AS r ON r.id = t.execution_id
    WHERE t.id = :task_id
      AND (:execution_id IS NULL OR t.execution_id = :execution_id)
    ORDER BY julianday(COALESCE(r.started_at, t.started_at)) DESC
    LIMIT 1
),
dependencies AS (
    SELECT x.execution_id,
           'dependency' AS blocker_type,
           r.target_task_id AS blocker_task_id,
           COALESCE(d.status, 'pending') AS blocker_status,
           NULL AS file_path,
           'depends on ' || r.target_task_id || ', which is ' || COALESCE(d.status, 'pending')
               AS detail
    FROM target AS x
    JOIN task_relationships AS r
      ON r.execution_id = x.execution_id
     AND r.source_task_id = :task_id
     AND r.relationship_type = 'depends_on'
    LEFT JOIN tasks AS d ON d.execution_id = x.execution_id AND d.id = r.target_task_id
    WHERE COALESCE(d.status, 'pending') <> 'completed'
),
own_files AS (
    -- declared by the task (task_start 'file') or touched by its tool uses
    SELECT DISTINCT i.file_path, i.operation
    FROM target AS x
    JOIN task_file_impacts AS i ON i.execution_id = x.execution_id AND i.task_id = :task_id
),
conflicts AS (
    SELECT DISTINCT x.execution_id,
           'file_conflict' AS blocker_type,
           o.id AS blocker_task_id,
           o.status AS blocker_status,
           f.file_path,
           o.id || ' is running and touches ' || f.file_path AS detail
    FROM target AS x
    JOIN own_files AS f
    JOIN task_file_impacts AS i
      ON i.execution_id = x.execution_id
     AND i.file_path = f.file_path
     AND i.task_id <> :task_id
    JOIN tasks AS o
      ON o.execution_id = x.execution_id
     AND o.id = i.task_id
     AND o.status = 'in_progress'
    WHERE f.operation <> 'READ' OR i.operation <> 'READ'
)
SELECT execution_id, :task_id AS task_id, blocker_type, blocker_task_id, blocker_status,
       file_path, detail
FROM (SELECT * FROM dependencies UNION ALL SELECT * FROM conflicts)
ORDER BY blocker_type, blocker_task_id, file_path
