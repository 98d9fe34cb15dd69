-- id: D003
-- title: Assertion regressions
-- family: anomaly
-- param: execution_id text
-- returns: task_id, category, description, assertion_id, failed_at, previous_execution_id, previous_assertion_id, previous_at
-- purpose: Assertions that passed the last time the task list ran them and fail in this execution.

-- Executions are compared within the execution's task list, ordered by start. An assertion is
-- identified across executions by (task_id, category, description). It regressed when it fails
-- in this execution and its latest result in the most recent EARLIER execution that ran it was
-- a pass. An assertion that already failed last time is an old failure, not a regression.
-- When the execution fails the same assertion several times, the first failure is reported.
WITH this_run AS (
    SELECT task_list_id, julianday(started_at) AS started_jd
    FROM task_list_execution_runs
    WHERE id = :execution_id AND task_list_id IS NOT NULL
),
earlier_runs AS (
    SELECT r.id, julianday(r.started_at) AS started_jd
    FROM task_list_execution_runs AS r, this_run AS t
    WHERE r.task_list_id = t.task_list_id AND julianday(r.started_at) < t.started_jd
),
failed_now AS (
    SELECT task_id, category, description, id, timestamp,
        ROW_NUMBER() OVER (
            PARTITION BY task_id, category, description ORDER BY julianday(timestamp), id
        ) AS nth
    FROM assertion_results
    WHERE execution_id = :execution_id AND result = 'fail' AND EXISTS (SELECT 1 FROM this_run)
),
previous AS (
    -- the latest earlier result of the same assertion: latest run first, then latest result
    SELECT
        f.task_id,
        f.category,
        f.description,
        f.id AS assertion_id,
        f.timestamp AS failed_at,
        a.execution_id AS previous_execution_id,
        a.id AS previous_assertion_id,
        a.timestamp AS previous_at,
        a.result AS previous_result,
        ROW_NUMBER() OVER (
            PARTITION BY f.task_id, f.category, f.description
            ORDER BY r.started_jd DESC, julianday(a.timestamp) DESC, a.id DESC,
                a.execution_id DESC
        ) AS latest
    FROM failed_now AS f
    JOIN assertion_results AS a
        ON a.task_id = f.task_id AND a.category = f.category AND a.description = f.description
    JOIN earlier_runs AS r ON r.id = a.execution_id
    WHERE f.nth = 1
)
SELECT
    task_id,
    category,
    description,
    assertion_id,
    failed_at,
    previous_execution_id,
    previous_assertion_id,
    previous_at
FROM previous
WHERE latest = 1 AND previous_result = 'pass'
ORDER BY julianday(failed_at), task_id, category, description
